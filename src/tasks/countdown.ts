// Countdown: reach a target from a few given numbers with + - * (and optionally /), the task of
// TinyZero-style R1-Zero reproductions. Rules (R1-like): the answer is any expression with usual
// precedence and parentheses; each given number may be used at most once; the exact value must equal
// the target. Defaults are small (3 numbers from 1-6, targets 1-99) so a tiny base model sometimes
// succeeds: with numbers 1-9 a 0.8M-parameter model was too weak for RL to start (r1zero-notes.md).
//
// Traces try candidate expressions and evaluate each one step by step, ending each with a verdict:
//     reach 13 with 3 5 2  ->  <think>(3+5)*2=8*2=16 no;3*5-2=15-2=13 yes</think><answer>3*5-2</answer>
// The candidates are "chains" (a o b o c ... applied left to right, intermediates non-negative
// integers as in the TV game); the answer a trace gives is the chain's expression, which the
// verifier evaluates with precedence, so the printed form carries the needed parentheses.

import { allChains, chainInt, chainTree, inverseCheck } from "./chains.ts";
import {
  type BinOp,
  type Expr,
  evaluate,
  formatExpr,
  numbersUsed,
  parseExpr,
  ratEquals,
  reductionChain,
} from "./expr.ts";
import { parseCompletion } from "./format.ts";
import { taskSeed, TaskRng } from "../engine/rng.ts";
import { chainValue, countLinks, readChains, slippedChain, TRACE_CHARS, TRACE_WORDS } from "./scratchpad.ts";
import { drawDistinct, splitOf } from "./split.ts";
import type { Faithfulness, Split, SyntheticTask, TaskExample, TraceStyle } from "./types.ts";

export interface CountdownConfig {
  /** How many numbers are given (3 or 4). */
  count: number;
  /** Range of the given numbers, inclusive. */
  min: number;
  max: number;
  ops: BinOp[];
  /** Range of targets, inclusive; a target never equals one of the given numbers. */
  targetMin: number;
  targetMax: number;
  /** Share of canonical problems held out for the test split. */
  testFraction: number;
  /** Most candidate expressions a corpus trace tries (failures + the final one). */
  maxAttempts: number;
  /** Budget for a trace's think text in characters: failed attempts are dropped to fit it. */
  maxThinkChars: number;
}

export const COUNTDOWN_DEFAULTS: CountdownConfig = {
  count: 3,
  min: 1,
  max: 6,
  ops: ["+", "-", "*"],
  targetMin: 1,
  targetMax: 99,
  testFraction: 0.25,
  maxAttempts: 3,
  maxThinkChars: 64,
};

interface Problem {
  numbers: number[];
  target: number;
  solution: string;
}

export class CountdownTask implements SyntheticTask {
  readonly name = "countdown";
  readonly config: CountdownConfig;
  readonly vocabulary = { chars: TRACE_CHARS, words: TRACE_WORDS };

  constructor(config: Partial<CountdownConfig> = {}) {
    this.config = { ...COUNTDOWN_DEFAULTS, ...config };
    const c = this.config;
    if (!(c.count >= 2 && c.count <= 5)) throw new Error(`countdown: count must be 2-5, got ${c.count}`);
    if (!(c.min >= 0 && c.max >= c.min)) throw new Error(`countdown: bad number range [${c.min}, ${c.max}]`);
    if (!(c.targetMax >= c.targetMin))
      throw new Error(`countdown: bad target range [${c.targetMin}, ${c.targetMax}]`);
    if (c.ops.length === 0 || c.ops.some((o) => !"+-*/".includes(o))) {
      throw new Error(`countdown: ops must be a non-empty subset of + - * /, got ${JSON.stringify(c.ops)}`);
    }
    if (!(c.maxAttempts >= 1)) throw new Error(`countdown: maxAttempts must be >= 1, got ${c.maxAttempts}`);
  }

  private sample(rng: TaskRng): Problem {
    const c = this.config;
    for (;;) {
      const numbers = Array.from({ length: c.count }, () => rng.int(c.min, c.max));
      const ops = Array.from({ length: c.count - 1 }, () => rng.pick(c.ops));
      const tree = chainTree(numbers, ops);
      if (!tree) continue;
      const target = chainInt(tree);
      if (target < c.targetMin || target > c.targetMax || numbers.includes(target)) continue;
      return { numbers, target, solution: formatExpr(tree) };
    }
  }

  generate(split: Split, n: number, seed: number): TaskExample[] {
    const rng = new TaskRng(taskSeed(seed, `countdown/${split}`));
    const drawn = drawDistinct({
      task: this.name,
      split,
      n,
      rng,
      testFraction: this.config.testFraction,
      sample: (r) => this.sample(r),
      canonical: (p) => `${[...p.numbers].sort((a, b) => a - b).join(",")}>${p.target}`,
    });
    return drawn.map(({ problem: p, canonical }) => ({
      id: `countdown/${split}/${canonical}`,
      prompt: `reach ${p.target} with ${p.numbers.join(" ")}`,
      answer: p.solution,
      meta: { task: this.name, numbers: p.numbers, target: p.target },
    }));
  }

  /**
   * How many distinct problems (sorted numbers + target) a split has under this config, by enumeration:
   * the most generate() can return for it. 3 numbers from 1-6 with + - * and targets 1-99 have 471 in
   * all: 342 train and 129 test with the default 25% test share.
   */
  countProblems(split: Split): number {
    const c = this.config;
    let n = 0;
    const multisets = (from: number, left: number): number[][] =>
      left === 0
        ? [[]]
        : Array.from({ length: c.max - from + 1 }, (_, i) => from + i).flatMap((x) =>
            multisets(x, left - 1).map((m) => [x, ...m]),
          );
    for (const nums of multisets(c.min, c.count)) {
      const targets = new Set<number>();
      for (const tree of allChains(nums, c.ops)) {
        if (numbersUsed(tree).length !== c.count) continue;
        const t = chainInt(tree);
        if (t >= c.targetMin && t <= c.targetMax && !nums.includes(t)) targets.add(t);
      }
      for (const t of targets) if (splitOf(`${nums.join(",")}>${t}`, c.testFraction) === split) n++;
    }
    return n;
  }

  verify(answerText: string, ex: TaskExample): boolean {
    const { numbers, target } = countdownMeta(ex);
    let tree: Expr;
    try {
      tree = parseExpr(answerText.trim());
      if (!ratEquals(evaluate(tree), { num: BigInt(target), den: 1n })) return false;
    } catch {
      return false;
    }
    const left = [...numbers];
    for (const x of numbersUsed(tree)) {
      const i = left.indexOf(x);
      if (i < 0) return false;
      left.splice(i, 1);
    }
    return true;
  }

  trace(ex: TaskExample, rng: TaskRng, style: TraceStyle): string {
    const { numbers, target } = countdownMeta(ex);
    const chains = allChains(numbers, this.config.ops);
    const hits = chains.filter((t) => chainInt(t) === target);
    if (hits.length === 0) throw new Error(`countdown: ${ex.id} has no solution among the chains`);
    const misses = rng.shuffle(chains.filter((t) => chainInt(t) !== target));
    const maxA = this.config.maxAttempts;
    const line = (t: Expr, verdict: string) => `${reductionChain(t).join("=")} ${verdict}`;
    // Failed attempts go first; the oldest are dropped while the think text is over budget.
    const budget = (tried: Expr[], tail: string[], keep = 0) => {
      let lines = tried.map((t) => line(t, "no"));
      while (lines.length > keep && [...lines, ...tail].join(";").length > this.config.maxThinkChars) {
        lines = lines.slice(1);
        tried = tried.slice(1);
      }
      return { think: [...lines, ...tail].join(";"), tried };
    };
    const done = (think: string, answer: string) => `<think>${think}</think><answer>${answer}</answer>`;
    const fails = misses.slice(0, rng.int(0, maxA - 1));
    const hit = rng.pick(hits);
    const answer = formatExpr(hit);

    switch (style) {
      case "correct":
        return done(budget(fails, [line(hit, "yes")]).think, answer);
      case "recheck": {
        const check = `${line(hit, "yes")} chk ${inverseCheck(hit, target).join("=")} ok`;
        return done(budget(fails, [check]).think, answer);
      }
      case "wait": {
        const slipped = slippedChain(hit, rng);
        const tail = slipped ? `${slipped.join("=")} wait ${line(hit, "yes")}` : line(hit, "yes");
        return done(budget(fails, [tail]).think, answer);
      }
      case "slip": {
        // A miss whose last step is "computed" as the target: the hallucinated success.
        const miss = misses[fails.length];
        if (!miss) return done(budget(fails, [line(hit, "yes")]).think, answer);
        const parts = reductionChain(miss);
        parts[parts.length - 1] = `${target}`;
        return done(budget(fails, [`${parts.join("=")} yes`]).think, formatExpr(miss));
      }
      case "wrongPick": {
        // Every attempt fails, and the answer is the closest of them anyway.
        const { think, tried } = budget(misses.slice(0, Math.max(1, fails.length)), [], 1);
        if (tried.length === 0) return done(budget([], [line(hit, "yes")]).think, answer);
        const closest = tried.reduce((a, b) =>
          Math.abs(chainInt(b) - target) < Math.abs(chainInt(a) - target) ? b : a,
        );
        return done(think, formatExpr(closest));
      }
      case "giveUp":
        return done(budget(misses.slice(0, rng.int(1, maxA)), [], 1).think, "none");
      case "unfinished": {
        const full = budget(fails, [line(hit, "yes")]).think;
        return `<think>${full.slice(0, rng.int(1, Math.max(1, full.length - 4)))}`;
      }
      case "guess":
        // No attempt written down: any expression over the numbers, a hit only by chance.
        return done("", formatExpr(rng.pick(chains)));
    }
  }

  faithfulness(completion: string, ex: TaskExample): Faithfulness {
    const { target } = countdownMeta(ex);
    const { think, answer } = parseCompletion(completion);
    const chains = think === null ? [] : readChains(think);
    let { steps, correct } = countLinks(chains);
    let lastVerdict: (typeof chains)[number] | null = null;
    for (const c of chains) {
      if (c.role !== "main" || c.verdict === null) continue;
      steps++;
      const v = chainValue(c);
      const hit = v !== null && ratEquals(v, { num: BigInt(target), den: 1n });
      if (hit === (c.verdict === "yes")) correct++;
      lastVerdict = c;
    }
    let leadsToAnswer = false;
    const head = lastVerdict?.trees[0];
    if (lastVerdict?.verdict === "yes" && head && answer !== null) {
      try {
        const a = parseExpr(answer.trim());
        const sorted = (xs: number[]) => [...xs].sort((x, y) => x - y).join(",");
        leadsToAnswer =
          ratEquals(evaluate(a), evaluate(head)) && sorted(numbersUsed(a)) === sorted(numbersUsed(head));
      } catch {
        leadsToAnswer = false;
      }
    }
    return {
      steps,
      correctSteps: correct,
      leadsToAnswer,
      faithful: steps > 0 && correct === steps && leadsToAnswer,
    };
  }
}

/** The typed fields of a Countdown example, with a clear error when they are missing. */
export function countdownMeta(ex: TaskExample): { numbers: number[]; target: number } {
  const { numbers, target } = ex.meta as { numbers?: unknown; target?: unknown };
  if (!Array.isArray(numbers) || !numbers.every(Number.isInteger) || !Number.isInteger(target)) {
    throw new Error(`countdown: example ${ex.id} needs meta.numbers (integers) and meta.target (integer)`);
  }
  return { numbers: numbers as number[], target: target as number };
}
