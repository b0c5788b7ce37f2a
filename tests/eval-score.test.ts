import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import {
  forEachLimited,
  matchCompletions,
  readCompletions,
  scoreCompletionsFile,
} from "../src/eval/score-run.ts";
import { getEvalTask } from "../src/eval/tasks/index.ts";
import { type EvalTask, ScoringSetupError } from "../src/eval/tasks/types.ts";

let dir: string;
let data: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "r1lab-score-"));
  data = join(dir, "gsm.jsonl");
  const rows = [
    { question: "Invented: 2 boxes of 6 eggs?", answer: "#### 12" },
    { question: "Invented: 10 minus 3?", answer: "#### 7" },
    { question: "Invented: 1,000 plus 500?", answer: "#### 1,500" },
  ];
  writeFileSync(data, `${rows.map((r) => JSON.stringify(r)).join("\n")}\n`);
});

function completions(name: string, lines: unknown[]): string {
  const f = join(dir, name);
  writeFileSync(f, `${lines.map((l) => JSON.stringify(l)).join("\n")}\n`);
  return f;
}

// Problem 0: 2/4 correct, majority 12 (with "12.0" grouped); 1: 1/4, majority 8; 2: 4/4 in various spellings.
const LINES = [
  { id: 0, completion: "<think>6*2</think>\\boxed{12}" },
  { id: "1", completion: "\\boxed{8}" },
  { id: 2, completion: "\\boxed{1500}" },
  { id: 0, completion: "\\boxed{12.0}" },
  { id: 1, completion: "\\boxed{8}" },
  { id: 2, completion: "\\boxed{1,500}" },
  { id: 0, completion: "\\boxed{13}" },
  { id: 1, completion: "The answer is 7." },
  { id: 2, completion: "#### 1500" },
  { id: 0, completion: "no answer" },
  { id: 1, completion: "\\boxed{9}" },
  { id: 2, completion: "\\boxed{\\$1{,}500}" },
];

describe("matching completions", () => {
  it("maps ids and row indices, numbers samples in file order, enforces K", async () => {
    const task = getEvalTask("gsm8k");
    const problems = await task.load(data);
    const f = completions("c.jsonl", LINES);
    const groups = matchCompletions(problems, readCompletions(f), f);
    expect(groups.map((g) => g.length)).toEqual([4, 4, 4]);
    expect(groups[1][1].line).toBe(5);
    expect(matchCompletions(problems, readCompletions(f), f, 2).map((g) => g.length)).toEqual([2, 2, 2]);
    expect(() => matchCompletions(problems, readCompletions(f), f, 5)).toThrow(
      /has 4 completions, fewer than --samples-per-problem 5/,
    );
    const bad = completions("bad.jsonl", [{ id: 9, completion: "x" }]);
    expect(() => matchCompletions(problems, readCompletions(bad), bad)).toThrow(
      `${bad}:1: id '9' is neither`,
    );
    const bad2 = completions("bad2.jsonl", [{ id: 0, text: "x" }]);
    expect(() => readCompletions(bad2)).toThrow(`${bad2}:1: field 'completion' must be a string`);
  });
  it("forEachLimited keeps at most `limit` in flight and runs every item", async () => {
    let inFlight = 0;
    let most = 0;
    const seen: number[] = [];
    await forEachLimited([30, 5, 20, 1, 8], 3, async (ms) => {
      most = Math.max(most, ++inFlight);
      await new Promise((r) => setTimeout(r, ms));
      inFlight--;
      seen.push(ms);
    });
    expect(most).toBe(3);
    expect([...seen].sort((a, b) => a - b)).toEqual([1, 5, 8, 20, 30]);
  });
  it("an empty completions file or data file is an error naming that file", async () => {
    const empty = completions("empty.jsonl", []);
    expect(() => readCompletions(empty)).toThrow(`${empty}: no completions (the file is empty)`);
    const emptyData = join(dir, "empty-data.jsonl");
    writeFileSync(emptyData, "\n");
    await expect(getEvalTask("gsm8k").load(emptyData)).rejects.toThrow(`${emptyData}: no rows`);
  });
});

describe("scoreCompletionsFile", () => {
  it("writes samples.jsonl in problem order and results.json with R1's metrics", async () => {
    const task = getEvalTask("gsm8k");
    const problems = await task.load(data);
    const out = join(dir, "out");
    const { results, missing } = await scoreCompletionsFile({
      task,
      problems,
      completionsPath: completions("c2.jsonl", LINES),
      outDir: out,
      config: { seed: 0 },
    });
    expect(missing).toEqual([]);
    expect(results["pass@1"]).toBeCloseTo((2 / 4 + 1 / 4 + 4 / 4) / 3, 12);
    expect(results["cons@4"]).toBeCloseTo(2 / 3, 12);
    expect(results["pass@k"]["4"]).toBe(1);
    const samples = readFileSync(join(out, "samples.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(samples.map((s) => `${s.id}/${s.sample_index}`).slice(0, 5)).toEqual([
      "0/0",
      "0/1",
      "0/2",
      "0/3",
      "1/0",
    ]);
    expect(samples[3]).toMatchObject({ extracted: null, correct: false });
    expect(JSON.parse(readFileSync(join(out, "results.json"), "utf8")).config).toMatchObject({
      seed: 0,
      n_problems_in_data: 3,
    });
  });
});

describe("scoreCompletionsFile when scoring stops or fails", () => {
  it("removes the old results.json first, keeps the samples scored before a stop, resumes, and records a failed sample", async () => {
    const gsm = getEvalTask("gsm8k");
    const problems = await gsm.load(data);
    const out = join(dir, "stop");
    const f = completions("c4.jsonl", LINES);
    await scoreCompletionsFile({ task: gsm, problems, completionsPath: f, outDir: out, config: { seed: 0 } });
    const clean = JSON.parse(readFileSync(join(out, "results.json"), "utf8"));
    writeFileSync(join(out, "results_lighteval.json"), "{}"); // another format's results of that run
    // Rescore into the same folder with other completions; the run stops at the 6th sample.
    const g = completions(
      "c5.jsonl",
      LINES.map((l) => ({ ...l, completion: `${l.completion} ` })),
    );
    let calls = 0;
    const stopping: EvalTask = {
      ...gsm,
      score: async (c, p, o) => {
        if (++calls === 6) throw new ScoringSetupError("stopped");
        return gsm.score(c, p, o);
      },
    };
    await expect(
      scoreCompletionsFile({
        task: stopping,
        problems,
        completionsPath: g,
        outDir: out,
        config: { seed: 0 },
      }),
    ).rejects.toThrow("stopped");
    expect(existsSync(join(out, "results.json"))).toBe(false);
    expect(existsSync(join(out, "results_lighteval.json"))).toBe(false);
    expect(readFileSync(join(out, "samples.jsonl"), "utf8").trim().split("\n")).toHaveLength(5);
    // Started again: the 5 samples are kept, the rest scored; one sample's scoring throws.
    const failing: EvalTask = {
      ...gsm,
      score: async (c, p, o) => {
        if (p.id === "2" && c.startsWith("#### 1500")) throw new Error("scorer crashed");
        return gsm.score(c, p, o);
      },
    };
    const again = await scoreCompletionsFile({
      task: failing,
      problems,
      completionsPath: g,
      outDir: out,
      config: { seed: 0 },
    });
    expect(again).toMatchObject({ resumed: 5, errors: 1 });
    const samples = readFileSync(join(out, "samples.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(samples).toHaveLength(12);
    expect(samples.find((s) => s.error)).toMatchObject({
      id: "2",
      correct: false,
      method: "error",
      error: "scorer crashed",
    });
    expect(again.results["pass@1"]).toBeCloseTo(clean["pass@1"] - 1 / 4 / 3, 12);
    expect(again.results.config).toMatchObject({ samples_resumed: 5, samples_failed_to_score: 1 });
  });
});

describe("r1lab score (command)", () => {
  it("runs end to end and prints the table", async () => {
    const cmd = (await import("../src/cli/score.ts")).default;
    const out = join(dir, "cli-out");
    const f = completions("c3.jsonl", LINES);
    const logs: string[] = [];
    const log = console.log;
    console.log = (...a: unknown[]) => logs.push(a.join(" "));
    try {
      await cmd.run({ task: "gsm8k", data, completions: f, out, "samples-per-problem": "4", seed: "0" }, []);
    } finally {
      console.log = log;
    }
    expect(logs.join("\n")).toMatch(/pass@1\s+cons@4/);
    const res = JSON.parse(readFileSync(join(out, "results.json"), "utf8"));
    expect(res.task).toBe("gsm8k");
    expect(res["cons@4"]).toBeCloseTo(2 / 3, 12);
    expect(res.config).toMatchObject({ command: "score", samples_per_problem: 4, seed: 0 });
    const out2 = join(dir, "cli-out-lighteval");
    console.log = () => {};
    try {
      await cmd.run(
        {
          task: "gsm8k",
          data,
          completions: f,
          out: out2,
          "samples-per-problem": "4",
          seed: "0",
          "output-format": "lighteval",
        },
        [],
      );
    } finally {
      console.log = log;
    }
    const lt = JSON.parse(readFileSync(join(out2, "results_lighteval.json"), "utf8"));
    expect(lt.results["custom|gsm8k|0"]["maj@4"]).toBe(
      JSON.parse(readFileSync(join(out2, "results.json"), "utf8"))["maj@4"],
    );
    await expect(
      cmd.run({ task: "gsm8k", data, completions: f, out: out2, seed: "0", "output-format": "helm" }, []),
    ).rejects.toThrow(/--output-format must be one of/);
    await expect(cmd.run({ task: "nope", seed: "0" }, [])).rejects.toThrow(/unknown --task 'nope'/);
    await expect(cmd.run({ task: "gsm8k", seed: "0" }, [])).rejects.toThrow(/--data is required/);
  });
});
