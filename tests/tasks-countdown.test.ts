import { describe, expect, it } from "vitest";
import { allChains } from "../src/tasks/chains.ts";
import { CountdownTask } from "../src/tasks/countdown.ts";
import { evaluate, formatExpr, numbersUsed, ratToInt } from "../src/tasks/expr.ts";
import { parseCompletion } from "../src/tasks/format.ts";
import { TaskRng } from "../src/engine/rng.ts";
import type { TaskExample } from "../src/tasks/types.ts";
import { TRACE_STYLES } from "../src/tasks/types.ts";

const task = new CountdownTask();
const ex = (numbers: number[], target: number): TaskExample => ({
  id: `t/${numbers}>${target}`,
  prompt: `reach ${target} with ${numbers.join(" ")}`,
  answer: "",
  meta: { task: "countdown", numbers, target },
});

describe("countdown problems", () => {
  it("are deterministic per seed and distinct within a split", () => {
    const a = task.generate("train", 50, 1);
    const b = task.generate("train", 50, 1);
    const c = task.generate("train", 50, 2);
    expect(a).toEqual(b);
    expect(a.map((e) => e.id)).not.toEqual(c.map((e) => e.id));
    expect(new Set(a.map((e) => e.id)).size).toBe(50);
    for (const e of a) {
      const { numbers, target } = e.meta as { numbers: number[]; target: number };
      expect(numbers).toHaveLength(3);
      expect(numbers.every((x) => x >= 1 && x <= 6)).toBe(true);
      expect(target).toBeGreaterThanOrEqual(1);
      expect(target).toBeLessThanOrEqual(99);
      expect(numbers).not.toContain(target);
      expect(e.prompt).toBe(`reach ${target} with ${numbers.join(" ")}`);
      expect(task.verify(e.answer, e)).toBe(true);
    }
  });

  it("never share a problem between train and test, whatever the seeds", () => {
    const canon = (e: TaskExample) => {
      const { numbers, target } = e.meta as { numbers: number[]; target: number };
      return `${[...numbers].sort()}>${target}`;
    };
    const train = new Set([1, 2, 3].flatMap((s) => task.generate("train", 150, s).map(canon)));
    const test = [4, 5].flatMap((s) => task.generate("test", 60, s).map(canon));
    expect(test.length).toBe(120);
    for (const t of test) expect(train.has(t)).toBe(false);
  });

  it("counts the problems of each split exactly, and generate() can draw all of them", () => {
    const train = task.countProblems("train");
    const test = task.countProblems("test");
    expect(train + test).toBe(471); // 3 numbers 1-6, + - *, targets 1-99; recounted by the plain loops below
    let brute = 0;
    for (let a = 1; a <= 6; a++)
      for (let b = a; b <= 6; b++)
        for (let c = b; c <= 6; c++) {
          const targets = new Set<number>();
          for (const [x, y, z] of [
            [a, b, c],
            [a, c, b],
            [b, a, c],
            [b, c, a],
            [c, a, b],
            [c, b, a],
          ]) {
            for (const f of [
              (p: number, q: number) => p + q,
              (p: number, q: number) => p - q,
              (p: number, q: number) => p * q,
            ]) {
              const r = f(x, y);
              if (r < 0) continue;
              for (const g of [
                (p: number, q: number) => p + q,
                (p: number, q: number) => p - q,
                (p: number, q: number) => p * q,
              ]) {
                const t = g(r, z);
                if (t >= 1 && t <= 99 && t !== a && t !== b && t !== c) targets.add(t);
              }
            }
          }
          brute += targets.size;
        }
    expect(brute).toBe(471);
    expect(task.generate("test", test, 7)).toHaveLength(test);
    expect(test / (train + test)).toBeGreaterThan(0.18);
    expect(test / (train + test)).toBeLessThan(0.32);
  });

  it("says clearly when the problem space is exhausted", () => {
    const tiny = new CountdownTask({ min: 1, max: 2 });
    expect(() => tiny.generate("test", 500, 0)).toThrow(
      /countdown: found only \d+ distinct test problems of the 500/,
    );
  });

  it("verify: right value, each given number at most once, any valid expression", () => {
    const e = ex([3, 5, 2], 13);
    expect(task.verify("3*5-2", e)).toBe(true);
    expect(task.verify(" (5*3)-2 ", e)).toBe(true);
    expect(task.verify("5*3-2+0", e)).toBe(false); // 0 not given
    expect(task.verify("3*5-2*1", e)).toBe(false);
    expect(task.verify("5+5+3", e)).toBe(false); // 5 used twice
    expect(task.verify("3*5+2", e)).toBe(false);
    expect(task.verify("13", e)).toBe(false);
    expect(task.verify("3*5-", e)).toBe(false);
    expect(task.verify("", e)).toBe(false);
    expect(task.verify("none", e)).toBe(false);
    const dup = ex([2, 2, 3], 7);
    expect(task.verify("2*2+3", dup)).toBe(true);
    expect(task.verify("2*2*2-1", dup)).toBe(false);
    expect(task.verify("(2+3)*2/10*7", ex([2, 3, 2, 10, 7], 7))).toBe(true); // exact rationals
  });

  it("enumerates chains over 2+ numbers, each number at most once, non-negative integer steps", () => {
    const chains = allChains([3, 5, 2], ["+", "-", "*"]);
    const texts = chains.map((c) => JSON.stringify(c, (_, v) => (typeof v === "bigint" ? Number(v) : v)));
    expect(new Set(texts).size).toBe(chains.length);
    expect(chains.length).toBeGreaterThan(50);
    expect(chains.length).toBeLessThanOrEqual(6 * 3 + 6 * 9);
    for (const c of chains) {
      const used = numbersUsed(c);
      expect(used.length).toBeGreaterThanOrEqual(2);
      const v = ratToInt(evaluate(c));
      expect(v !== null && v >= 0).toBe(true);
      expect(task.verify(formatExpr(c), ex([3, 5, 2], v!))).toBe(true);
    }
  });
});

describe("countdown traces", () => {
  const problems = task.generate("train", 120, 9);
  const rng = new TaskRng(3);

  it("have the properties their style promises", () => {
    for (const e of problems) {
      for (const style of TRACE_STYLES) {
        const c = task.trace(e, rng, style);
        const p = parseCompletion(c);
        const ok = p.answer !== null && task.verify(p.answer, e);
        const f = task.faithfulness(c, e);
        const tag = `${style}: ${c}`;
        expect(p.think, tag).not.toBeNull();
        expect(p.think!.length, tag).toBeLessThanOrEqual(task.config.maxThinkChars);
        if (style === "unfinished") {
          expect(p.wellFormed, tag).toBe(false);
          expect(p.answer, tag).toBeNull();
          continue;
        }
        expect(p.wellFormed, tag).toBe(true);
        if (style === "guess") {
          // No work shown; the answer uses the given numbers and may or may not hit.
          expect(p.think, tag).toBe("");
          expect(f.faithful, tag).toBe(false);
          continue;
        }
        if (style === "correct" || style === "recheck" || style === "wait") {
          expect(ok, tag).toBe(true);
          expect(f.faithful, tag).toBe(true);
        } else {
          expect(ok, tag).toBe(false);
          expect(f.faithful, tag).toBe(false);
        }
        if (style === "slip") expect(f.correctSteps, tag).toBe(f.steps - 1);
        if (style === "wrongPick")
          expect([f.correctSteps === f.steps, f.leadsToAnswer], tag).toEqual([true, false]);
        if (style === "giveUp") expect(p.answer, tag).toBe("none");
        if (style === "recheck") expect(p.think, tag).toMatch(/ chk .*=.* ok$/);
        if (style === "wait") expect(p.think, tag).toMatch(/ wait /);
      }
    }
  });

  it("guess with a valid expression that seldom hits", () => {
    const r = new TaskRng(5);
    const answers = problems.map((e) => parseCompletion(task.trace(e, r, "guess")).answer!);
    const hits = problems.filter((e, i) => task.verify(answers[i], e)).length;
    expect(answers.every((a) => /^[\d+\-*/() ]+$/.test(a))).toBe(true);
    expect(hits / problems.length).toBeLessThan(0.3);
  });

  it("are reproducible from the rng state", () => {
    const e = problems[0];
    const a = TRACE_STYLES.map((s) => task.trace(e, new TaskRng(11), s));
    const b = TRACE_STYLES.map((s) => task.trace(e, new TaskRng(11), s));
    expect(a).toEqual(b);
  });
});

describe("countdown faithfulness", () => {
  const e = ex([3, 5, 2], 13);
  const f = (think: string, answer: string) =>
    task.faithfulness(`<think>${think}</think><answer>${answer}</answer>`, e);

  it("accepts a scratchpad whose steps and verdicts hold and lead to the answer", () => {
    expect(f("(3+5)*2=8*2=16 no;3*5-2=15-2=13 yes", "3*5-2")).toEqual({
      steps: 6,
      correctSteps: 6,
      leadsToAnswer: true,
      faithful: true,
    });
  });

  it("catches wrong arithmetic even when the answer is right (the collapse seen in r1zero-notes)", () => {
    const r = f("5*2=17+1=13 yes", "3*5-2");
    expect(r.faithful).toBe(false);
    expect(r.correctSteps).toBeLessThan(r.steps);
  });

  it("catches a false verdict, an answer that is not the 'yes' chain, and a 'no' ending", () => {
    expect(f("(3+5)*2=8*2=16 yes", "(3+5)*2").faithful).toBe(false);
    expect(f("3*5-2=15-2=13 yes", "5*3-2").faithful).toBe(true); // same numbers, same value
    expect(f("3*5-2=15-2=13 yes", "3*5-2+0").leadsToAnswer).toBe(false);
    expect(f("3*5-2=15-2=13 yes;3+5=8 no", "3*5-2").leadsToAnswer).toBe(false);
    expect(f("", "3*5-2").faithful).toBe(false);
  });

  it("does not hold a slip caught with 'wait' against the scratchpad", () => {
    expect(f("3*5-2=15-2=12 wait 3*5-2=15-2=13 yes chk (13+2)/5=15/5=3 ok", "3*5-2").faithful).toBe(true);
    expect(f("3*5-2=15-2=12 wait 3*5-2=15-2=12 yes", "3*5-2").faithful).toBe(false);
  });
});
