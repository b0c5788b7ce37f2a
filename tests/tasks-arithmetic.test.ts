import { describe, expect, it } from "vitest";
import { ArithmeticTask } from "../src/tasks/arithmetic.ts";
import { evaluate, formatRational } from "../src/tasks/expr.ts";
import { parseCompletion } from "../src/tasks/format.ts";
import { TaskRng } from "../src/engine/rng.ts";
import type { TaskExample } from "../src/tasks/types.ts";
import { TRACE_STYLES } from "../src/tasks/types.ts";

const task = new ArithmeticTask();
const ex = (expression: string): TaskExample => ({
  id: `t/${expression}`,
  prompt: `calc ${expression}`,
  answer: formatRational(evaluate(expression)),
  meta: { task: "arithmetic", expression },
});

describe("arithmetic problems", () => {
  it("are deterministic, distinct, in range, with the precedence-evaluated integer answer", () => {
    const a = task.generate("train", 200, 4);
    expect(a).toEqual(task.generate("train", 200, 4));
    expect(new Set(a.map((e) => e.id)).size).toBe(200);
    for (const e of a) {
      const expr = e.meta.expression as string;
      const nums = expr.match(/\d+/g)!.map(Number);
      expect(nums.length).toBeGreaterThanOrEqual(3);
      expect(nums.length).toBeLessThanOrEqual(4);
      expect(nums.every((x) => x >= 1 && x <= 9)).toBe(true);
      expect(expr).toMatch(/^[\d+\-*]+$/);
      expect(e.answer).toBe(formatRational(evaluate(expr)));
      expect(Number(e.answer)).toBeGreaterThanOrEqual(0);
      expect(e.prompt).toBe(`calc ${expr}`);
    }
  });

  it("splits train and test by the problem itself, not the seed", () => {
    const train = new Set(
      [1, 2].flatMap((s) => task.generate("train", 2000, s).map((e) => e.meta.expression)),
    );
    const test = [1, 3].flatMap((s) => task.generate("test", 300, s).map((e) => e.meta.expression));
    for (const t of test) expect(train.has(t)).toBe(false);
  });

  it("with division and parentheses keeps every step an exact integer", () => {
    const t = new ArithmeticTask({ ops: ["+", "-", "*", "/"], parenProb: 0.5 });
    const probs = t.generate("train", 200, 1);
    expect(probs.some((e) => (e.meta.expression as string).includes("/"))).toBe(true);
    expect(probs.some((e) => (e.meta.expression as string).includes("("))).toBe(true);
    for (const e of probs) {
      const c = t.trace(e, new TaskRng(1), "correct");
      expect(t.faithfulness(c, e).faithful, c).toBe(true);
    }
  });

  it("verify accepts only the integer answer", () => {
    const e = ex("7+3*2-4");
    expect(e.answer).toBe("9");
    expect(task.verify("9", e)).toBe(true);
    expect(task.verify(" 9 \n", e)).toBe(true);
    expect(task.verify("16", e)).toBe(false); // left-to-right evaluation
    expect(task.verify("9.0", e)).toBe(false);
    expect(task.verify("4+5", e)).toBe(false);
    expect(task.verify("", e)).toBe(false);
  });
});

describe("arithmetic traces", () => {
  const problems = task.generate("train", 150, 2);

  it("have the properties their style promises", () => {
    const rng = new TaskRng(8);
    for (const e of problems) {
      for (const style of TRACE_STYLES) {
        const c = task.trace(e, rng, style);
        const p = parseCompletion(c);
        const f = task.faithfulness(c, e);
        const ok = p.answer !== null && task.verify(p.answer, e);
        const tag = `${style}: ${c}`;
        if (style === "unfinished") {
          expect([p.wellFormed, p.answer], tag).toEqual([false, null]);
          continue;
        }
        expect(p.wellFormed, tag).toBe(true);
        if (style === "guess") {
          // No work shown: an integer in the range answers take (right only by chance).
          expect(p.think, tag).toBe("");
          expect(p.answer, tag).toMatch(/^\d+$/);
          expect(Number(p.answer), tag).toBeLessThanOrEqual(task.config.max * task.config.maxTerms);
          expect(f.faithful, tag).toBe(false);
          continue;
        }
        const good = style === "correct" || style === "recheck" || style === "wait";
        expect(ok, tag).toBe(good);
        expect(f.faithful, tag).toBe(good);
        if (style === "slip") expect([f.correctSteps, f.leadsToAnswer], tag).toEqual([f.steps - 1, true]);
        if (style === "wrongPick") expect([f.correctSteps, f.leadsToAnswer], tag).toEqual([f.steps, false]);
      }
    }
  });

  it("rewrite the expression one operation at a time", () => {
    const c = task.trace(ex("7+3*2-4"), new TaskRng(0), "correct");
    expect(c).toBe("<think>7+3*2-4=7+6-4=13-4=9</think><answer>9</answer>");
    const r = task.trace(ex("7+3*2-4"), new TaskRng(0), "recheck");
    expect(r).toBe("<think>7+3*2-4=7+6-4=13-4=9 chk 9+4=13 ok</think><answer>9</answer>");
  });
});

describe("arithmetic faithfulness", () => {
  const e = ex("7+3*2-4");
  const f = (think: string, answer: string) =>
    task.faithfulness(`<think>${think}</think><answer>${answer}</answer>`, e);

  it("scores steps, the start from the problem, and the answer", () => {
    expect(f("7+3*2-4=7+6-4=13-4=9", "9")).toEqual({
      steps: 4,
      correctSteps: 4,
      leadsToAnswer: true,
      faithful: true,
    });
    expect(f("7+6-4=13-4=9", "9").faithful).toBe(true); // first step done in the head: still the problem's value
    expect(f("7+3*2-4=10*2-4=20-4=16", "16").faithful).toBe(false); // left to right: wrong first step
    expect(f("8+6-4=14-4=10", "10").faithful).toBe(false); // does not start from the problem
    expect(f("7+3*2-4=7+6-4=13-4=9", "13").leadsToAnswer).toBe(false);
    expect(f("7+3*2-4=7+5-4 wait 7+6-4=13-4=9", "9").faithful).toBe(true);
    expect(f("7+3*2-4=7+6-4=13-4=9 chk 9+4=12 ok", "9").faithful).toBe(false); // a wrong check step
    expect(f("9", "9").faithful).toBe(false); // no steps at all
  });
});

describe("arithmetic: counting the problem space", () => {
  it("counts zero's preset exactly (4 numbers 1-3, + -): every problem generate() can draw, and no more", () => {
    const t = new ArithmeticTask({
      minTerms: 4,
      maxTerms: 4,
      min: 1,
      max: 3,
      ops: ["+", "-"],
      testFraction: 0.25,
    });
    const train = t.countProblems("train");
    const test = t.countProblems("test");
    expect(train).toBe(264);
    expect(test).toBe(136);
    // generate() finds exactly that many distinct test problems and fails asking one more
    expect(new Set(t.generate("test", 136, 1).map((e) => e.prompt)).size).toBe(136);
    expect(() => t.generate("test", 137, 1)).toThrow(/found only 136 distinct test problems/);
  });

  it("is undefined where it would not enumerate: parentheses, or over 20,000 expressions", () => {
    expect(new ArithmeticTask({ parenProb: 0.3 }).countProblems("test")).toBeUndefined();
    expect(new ArithmeticTask().countProblems("test")).toBeUndefined(); // the default: 183,708 expressions
    expect(new ArithmeticTask({ minTerms: 8, maxTerms: 8 }).countProblems("test")).toBeUndefined();
  });
});
