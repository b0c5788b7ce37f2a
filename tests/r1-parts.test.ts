// The R1 pipeline's pure parts: cold-start traces (readable, verified, long), the readability check,
// the language-consistency reward, and rejection sampling's filter (keeps only correct and
// well-formed samples, drops duplicates per prompt).
import { describe, expect, it } from "vitest";
import { ci95, stderrOfMean } from "../src/eval/metrics.ts";
import { stageColumns } from "../src/runs/eval-stage.ts";
import { consistencyShare, readableConsistencyReward } from "../src/rl/consistency.ts";
import { filterSamples, type Sample } from "../src/rl/rejection.ts";
import { accuracyReward } from "../src/rl/rewards.ts";
import { ArithmeticTask } from "../src/tasks/arithmetic.ts";
import { buildColdStart, isReadable, readableCompletion, readableThink } from "../src/tasks/cold-start.ts";
import { buildCorpus } from "../src/tasks/corpus.ts";
import { CountdownTask } from "../src/tasks/countdown.ts";
import { parseCompletion } from "../src/tasks/format.ts";
import { readChains } from "../src/tasks/scratchpad.ts";
import { evaluate, ratEquals } from "../src/tasks/expr.ts";
import type { TaskExample } from "../src/tasks/types.ts";

const ar: TaskExample = {
  id: "ar",
  prompt: "calc 7+3*2-4",
  answer: "9",
  meta: { task: "arithmetic", expression: "7+3*2-4" },
};
const other: TaskExample = { id: "x", prompt: "?", answer: "1", meta: {} };

describe("cold-start traces", () => {
  for (const task of [new ArithmeticTask({ min: 1, max: 5, ops: ["+", "-", "*"] }), new CountdownTask()]) {
    it(`${task.name}: every kept trace is readable, verifies, and its equations hold`, () => {
      const problems = task.generate("train", 120, 3);
      const items = buildColdStart({ task, problems, n: 80, seed: 3 });
      expect(items.length).toBe(80);
      expect(new Set(items.map((i) => i.style)).size).toBe(3);
      for (const it of items) {
        const p = parseCompletion(it.completion);
        expect(p.wellFormed).toBe(true);
        expect(task.verify(p.answer!, it.example), it.completion).toBe(true);
        expect(isReadable(it.completion), it.completion).toBe(true);
        // Each sentence's equation holds, except those of a chain retracted by "wait that is wrong".
        let pending: string[] = [];
        const checked: string[] = [];
        for (const sentence of p.think!.slice(0, -1).split(". ")) {
          const [word, eq] = sentence.split(" ");
          if (word === "first" || word === "next") checked.push(...pending.splice(0));
          if (sentence === "wait that is wrong") pending = [];
          else if (eq?.includes("=")) pending.push(eq);
        }
        checked.push(...pending);
        expect(checked.length).toBeGreaterThan(0);
        for (const eq of checked) {
          const values = eq.split("=").map((x) => evaluate(x));
          for (const v of values) expect(ratEquals(v, values[0]), `${eq} in ${it.completion}`).toBe(true);
        }
      }
    });
  }

  it("is long: readable traces are longer than the terse traces they come from", () => {
    const task = new ArithmeticTask({ min: 1, max: 5, ops: ["+", "-"] });
    const corpus = buildCorpus({
      task,
      problems: 50,
      seed: 1,
      mix: { slip: 0, wrongPick: 0, giveUp: 0, unfinished: 0, wait: 0, recheck: 0, guess: 0 },
    });
    let readable = 0;
    let terse = 0;
    for (const it of corpus) {
      const r = readableCompletion(it.completion)!;
      expect(r.length).toBeGreaterThan(1.5 * it.completion.length);
      readable += r.length;
      terse += it.completion.length;
    }
    expect(readable / terse).toBeGreaterThan(1.8);
  });

  it("rewrites chains, checks, retractions and verdicts as sentences with a summary", () => {
    expect(readableThink("7+3*2-4=7+6-4=13-4=9", "9")).toBe(
      "first 7+3*2-4=7+6-4. then 7+6-4=13-4. then 13-4=9. so the answer is 9.",
    );
    expect(readableThink("1+2=3 chk 3-2=1 ok", "3")).toBe("first 1+2=3. check 3-2=1 ok. so the answer is 3.");
    expect(readableThink("2*3=5 wait 2*3=6", "6")).toBe(
      "first 2*3=5. wait that is wrong. next 2*3=6. so the answer is 6.",
    );
    expect(readableThink("3+5=8 no;3*5=15 yes", "3*5")).toBe(
      "first 3+5=8. that is not the target. next 3*5=15. that is the target. so the answer is 3*5.",
    );
    // The rewrite keeps the chains the task's checker reads.
    expect(readChains("7+3*2-4=7+6-4=13-4=9").length).toBe(1);
    expect(readableCompletion("<think>1+1=2")).toBeNull();
  });
});

describe("readability", () => {
  it("needs well-formed sentences in the vocabulary ending with a summary that matches the answer", () => {
    const good =
      "<think>first 7+3*2-4=7+6-4. then 7+6-4=13-4. then 13-4=9. so the answer is 9.</think><answer>9</answer>";
    expect(isReadable(good)).toBe(true);
    expect(isReadable(good.replace("<answer>9", "<answer>8"))).toBe(false); // summary disagrees with the answer
    expect(isReadable(good.replace(" so the answer is 9.", ""))).toBe(false); // no summary
    expect(isReadable(good.replace("then 7+6-4", "chk 7+6-4"))).toBe(false); // off-vocabulary word
    expect(isReadable(good.replace("9.</think>", "9</think>"))).toBe(false); // last sentence unterminated
    expect(isReadable("<think>7+3*2-4=7+6-4=13-4=9</think><answer>9</answer>")).toBe(false); // terse R1-Zero style
    expect(isReadable(good.replace("</answer>", ""))).toBe(false); // not well-formed
  });
});

describe("language-consistency reward", () => {
  it("is the character share of think words in the readable vocabulary", () => {
    expect(consistencyShare("first 1+2=3. so the answer is 3.")).toBe(1);
    // "chk" (3 of 37 characters) is the terse language: 34/37.
    expect(consistencyShare("first 1+2=3. chk 3-2=1 ok. so the answer is 3.")).toBeCloseTo(34 / 37, 10);
    expect(consistencyShare("Qk hh first")).toBeCloseTo(5 / 9, 10);
    expect(consistencyShare("")).toBe(0);
    expect(consistencyShare("   ")).toBe(0);
  });

  it("scores the think text of a completion, 0 without one, null off the synthetic tasks", () => {
    expect(
      readableConsistencyReward("<think>first 2+2=5. so the answer is 5.</think><answer>5</answer>", ar),
    ).toBe(1); // language, not content
    expect(readableConsistencyReward("<answer>9</answer>", ar)).toBe(0);
    expect(readableConsistencyReward("<think>yes no none</think><answer>9</answer>", ar)).toBe(0);
    expect(readableConsistencyReward("<think>first</think>", other)).toBeNull();
  });
});

describe("rejection sampling filter", () => {
  const right =
    "<think>first 7+3*2-4=7+6-4. then 7+6-4=13-4. then 13-4=9. so the answer is 9.</think><answer>9</answer>";
  const terseRight = "<think>7+3*2-4=7+6-4=13-4=9</think><answer>9</answer>";
  const s = (completion: string, example = ar): Sample => ({
    example,
    completion,
    length: completion.length,
  });
  const ar2: TaskExample = { ...ar, id: "ar2" };
  const samples = [
    s(right),
    s(right), // duplicate for the same prompt
    s(right, ar2), // same text, another prompt: kept
    s(terseRight), // correct, well-formed, not readable
    s(right.replace(/9<\/answer>/, "8</answer>")), // wrong answer
    s("<think>first 7+3*2-4=7+6-4.</think> <answer>9</answer> trailing"), // correct answer, not well-formed
    s("<think>first 7+3*2-4=7+6-4"), // unfinished
  ];

  it("keeps only correct and well-formed samples, each (prompt, text) once", () => {
    const { kept, stats } = filterSamples(samples, { requireReadable: false });
    expect(kept.map((k) => [k.example.id, k.completion])).toEqual([
      ["ar", right],
      ["ar2", right],
      ["ar", terseRight],
    ]);
    for (const k of kept) {
      expect(accuracyReward(k.completion, k.example)).toBe(1);
      expect(parseCompletion(k.completion).wellFormed).toBe(true);
    }
    expect(stats).toMatchObject({
      prompts: 2,
      samples: 7,
      accepted: 4,
      duplicates: 1,
      kept: 3,
      prompts_covered: 2,
    });
    expect(stats.correct).toBe(5);
    expect(stats.well_formed).toBe(5);
  });

  it("with requireReadable drops correct but unreadable samples", () => {
    const { kept, stats } = filterSamples(samples, { requireReadable: true });
    expect(kept.map((k) => k.completion)).toEqual([right, right]);
    expect(stats.readable).toBe(3);
    expect(filterSamples([], { requireReadable: true }).stats).toMatchObject({
      samples: 0,
      kept: 0,
      prompts: 0,
    });
  });
});

describe("stage-table intervals", () => {
  it("pass@1's 95% interval is mean +- 1.96 se over the problems, clipped to [0, 1]", () => {
    const perProblem = [1, 0.5, 0, 0.75];
    const m = perProblem.reduce((a, x) => a + x, 0) / perProblem.length;
    const se = stderrOfMean(perProblem);
    const row = stageColumns({
      pass1: m,
      pass1_se: se,
      consK: 0.5,
      consK_se: 0.1,
      mean_length: 10,
      readability: 1,
      readability_se: 0,
    });
    expect(row.pass1_ci95[0]).toBeCloseTo(m - 1.96 * se, 12);
    expect(row.pass1_ci95[1]).toBeCloseTo(m + 1.96 * se, 12);
    expect(ci95(0.02, 0.05)).toEqual([0, 0.02 + 1.96 * 0.05]);
    expect(ci95(0.98, 0.05)[1]).toBe(1);
  });
});
