// `r1lab data decontaminate` and warnOverlap on a training set with planted benchmark leaks: exactly
// the rows sharing an 8-gram (or a whole short benchmark text) are removed, near misses (7 shared
// tokens) are kept, counts per benchmark are right, and benchmark names resolve only locally.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseBenchmark } from "../src/data/benchmarks.ts";
import { decontaminate } from "../src/data/decontaminate.ts";
import { warnOverlap } from "../src/data/overlap.ts";
import { TaskRng } from "../src/engine/rng.ts";
import { runR1lab } from "./helpers/run-r1lab.ts";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "r1lab-decon-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const rng = new TaskRng(3);
const words = (n: number) => Array.from({ length: n }, () => `w${rng.int(0, 4999)}`).join(" ");

const GSM = [
  {
    question:
      "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. How many clips did Natalia sell altogether in April and May?",
    answer: "Natalia sold 48/2 = 24 clips in May.\n#### 72",
  },
  {
    question:
      "Weng earns $12 an hour for babysitting. Yesterday, she just did 50 minutes of babysitting. How much did she earn?",
    answer: "Weng earns 12/60 = $0.2 per minute.\n#### 10",
  },
];
const MATH = [
  {
    problem:
      "Convert the point (0,3) in rectangular coordinates to polar coordinates and give the angle in radians",
    solution: "We have r = 3 and theta = pi/2.",
    answer: "\\left( 3, \\frac{\\pi}{2} \\right)",
  },
];

function writeJsonl(path: string, rows: unknown[]) {
  writeFileSync(path, `${rows.map((r) => JSON.stringify(r)).join("\n")}\n`);
}

describe("decontaminate", () => {
  it("removes exactly the rows that share an 8-gram with a benchmark's prompts or answers", async () => {
    const gsm = join(dir, "gsm8k.jsonl");
    const math = join(dir, "math500.jsonl");
    const arith = join(dir, "arith.jsonl");
    writeJsonl(gsm, GSM);
    writeJsonl(math, MATH);
    writeJsonl(arith, [{ id: "a", prompt: "calc 9*4+6", answer: "42", meta: {} }]);
    const rows: Record<string, unknown>[] = Array.from({ length: 200 }, () => ({
      messages: [
        { role: "user", content: words(30) },
        { role: "assistant", content: words(40) },
      ],
    }));
    const leaks = { gsm: [] as number[], math: [] as number[], arith: [] as number[] };
    // A GSM8K question inside a conversation, with other case and spacing.
    leaks.gsm.push(rows.length);
    rows.push({
      messages: [
        { role: "user", content: `${words(5)} ${GSM[0].question.toUpperCase()}` },
        { role: "assistant", content: words(10) },
      ],
    });
    // Eight tokens of a GSM8K answer in a completion ("natalia sold 48 / 2 = 24 clips").
    leaks.gsm.push(rows.length);
    rows.push({ prompt: words(10), completion: `${words(3)} Natalia sold 48/2 = 24 clips ${words(3)}` });
    // Exactly 8 tokens of a MATH-500 problem, punctuation changed.
    leaks.math.push(rows.length);
    rows.push({
      text: `${words(4)} rectangular coordinates, to polar coordinates and give the! ${words(4)}`,
    });
    // A whole short benchmark problem (6 tokens) inside a longer text.
    leaks.arith.push(rows.length);
    rows.push({ text: `${words(3)} calc 9*4+6 ${words(3)}` });
    // Near misses that must stay: 7 tokens of a GSM8K question, another expression, the test problem
    // as the start of a longer one, its short answer, the MATH answer's LaTeX.
    rows.push({ text: `${words(4)} sold clips to 48 of her friends ${words(4)}` });
    rows.push({ text: "calc 9*4+7 please" });
    rows.push({ text: "calc 9*4+6+2 please" });
    rows.push({ text: "so 42 it is, as 9*4+6 = 42" });
    rows.push({ text: "the answer is \\left( 3, \\frac{\\pi}{2} \\right) indeed" });
    const data = join(dir, "train.jsonl");
    writeJsonl(data, rows);
    const out = join(dir, "out");
    const r = await decontaminate({
      data,
      out,
      benchmarks: [
        { name: "gsm8k", path: gsm },
        { name: "math500", path: math },
        { name: "arithmetic", path: arith },
      ],
      progress: false,
    });
    const removed = [...leaks.gsm, ...leaks.math, ...leaks.arith];
    expect([r.rows, r.removed, r.kept]).toEqual([rows.length, removed.length, rows.length - removed.length]);
    const kept = readFileSync(join(out, "train.jsonl"), "utf8").trimEnd().split("\n");
    const keptIdx = kept.map((l) => rows.findIndex((x) => JSON.stringify(x) === l));
    expect(rows.map((_, i) => i).filter((i) => !keptIdx.includes(i))).toEqual(removed);
    expect(r.benchmarks.gsm8k).toMatchObject({ problems: 2, rows_removed: 2, problems_leaked: 1 });
    expect(r.benchmarks.math500).toMatchObject({ problems: 1, rows_removed: 1, problems_leaked: 1 });
    expect(r.benchmarks.math500.top_ngrams).toEqual([
      { ngram: "rectangular coordinates to polar coordinates and give the", rows: 1 },
    ]);
    expect(r.benchmarks.arithmetic.top_ngrams).toEqual([{ ngram: "calc 9 * 4 + 6", rows: 1 }]);
    expect(r.benchmarks.gsm8k.examples[1]).toMatchObject({
      row: { line: leaks.gsm[1] + 1 },
      benchmark_row: { file: gsm, line: 1 },
    });
    const report = JSON.parse(readFileSync(join(out, "report.json"), "utf8"));
    expect(report.benchmarks.gsm8k.examples[0].ngram.split(" ")).toHaveLength(8);
  });

  it("names the file, line and field of a benchmark row without its prompt", async () => {
    const bad = join(dir, "bad-gsm.jsonl");
    writeJsonl(bad, [GSM[0], { q: "x" }]);
    const data = join(dir, "t.jsonl");
    writeJsonl(data, [{ text: "a b c" }]);
    await expect(
      decontaminate({
        data,
        out: join(dir, "o"),
        benchmarks: [{ name: "gsm8k", path: bad }],
        progress: false,
      }),
    ).rejects.toThrow(`${bad}:2: gsm8k row without its prompt field 'question' (also tried Question)`);
  });

  it("finds a named benchmark in data/NAME or the Hugging Face cache, and never downloads", () => {
    const cwd = join(dir, "proj");
    mkdirSync(join(cwd, "data", "math500"), { recursive: true });
    expect(parseBenchmark("math500", { cwd, cacheDir: join(dir, "hub") })).toEqual({
      name: "math500",
      path: join(cwd, "data", "math500"),
    });
    const snap = join(dir, "hub", "datasets--openai--gsm8k", "snapshots", "a".repeat(40));
    mkdirSync(join(snap, "main"), { recursive: true });
    mkdirSync(join(dir, "hub", "datasets--openai--gsm8k", "refs"), { recursive: true });
    writeFileSync(join(dir, "hub", "datasets--openai--gsm8k", "refs", "main"), "a".repeat(40));
    expect(parseBenchmark("gsm8k", { cwd, cacheDir: join(dir, "hub") }).path).toBe(snap);
    expect(() => parseBenchmark("aime24", { cwd, cacheDir: join(dir, "hub") })).toThrow(
      /aime24: no local copy.*data[/\\]aime24[\s\S]*HuggingFaceH4\/aime_2024[\s\S]*--benchmark aime24=FILE\|DIR/,
    );
    expect(() => parseBenchmark("mytest", { cwd })).toThrow("not a known benchmark");
    expect(parseBenchmark("countdown").path).toBe("gen:test:200");
  });

  it("runs from the command line with NAME=FILE", async () => {
    const gsm = join(dir, "cli-gsm.jsonl");
    writeJsonl(gsm, GSM);
    const data = join(dir, "cli-train.jsonl");
    writeJsonl(data, [{ problem: GSM[1].question }, { problem: "fresh problem" }]);
    const res = await runR1lab(
      [
        "data",
        "decontaminate",
        "--data",
        data,
        "--benchmark",
        `gsm8k=${gsm}`,
        "--out",
        join(dir, "cli-out"),
        "-q",
      ],
      { timeoutMs: 60_000 },
    );
    expect(res.code, res.stderr).toBe(0);
    expect(JSON.parse(res.stdout.split("\n")[0])).toMatchObject({
      rows: 2,
      kept: 1,
      removed: 1,
      benchmarks: { gsm8k: { rows_removed: 1, problems_leaked: 1, problems: 2 } },
    });
  }, 60_000);
});

describe("warnOverlap", () => {
  it("counts overlapping training texts and prints one warning line", async () => {
    const lines: string[] = [];
    const evalTexts = [GSM[0].question, "calc 9*4+6"];
    const train = [words(20), `${words(2)} ${GSM[0].question}`, words(20), "calc 9*4+6", "calc 9*4+5"];
    const r = await warnOverlap(train, evalTexts, { log: (l) => lines.push(l) });
    expect([r.rows, r.overlapping]).toEqual([5, 2]);
    expect(r.first?.where).toBe("row 2");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^warning: 2 of 5 training rows \(40\.0%\) of training data share a 8-gram with evaluation data/,
    );
    // Files: every string of each row is checked; the warning names the files and the first row.
    const trainFile = join(dir, "ov-train.jsonl");
    const evalFile = join(dir, "ov-eval.jsonl");
    writeJsonl(trainFile, [
      { prompt: words(9), completion: "x" },
      { prompt: "q", completion: `so ${GSM[1].question}` },
    ]);
    writeJsonl(evalFile, [{ messages: [{ role: "user", content: GSM[1].question }] }]);
    const f = await warnOverlap(trainFile, evalFile, { log: (l) => lines.push(l) });
    expect([f.rows, f.overlapping, f.first?.where]).toEqual([2, 1, `${trainFile}:2`]);
    expect(lines[1]).toContain(
      `of ${trainFile} share a 8-gram with ${evalFile} (first: ${trainFile}:2, "weng earns $ 12 an hour for babysitting")`,
    );
    lines.length = 1;
    const clean = await warnOverlap([words(30)], evalTexts, { log: (l) => lines.push(l) });
    expect(clean.overlapping).toBe(0);
    expect(lines).toHaveLength(1);
  });
});
