// Multi-step arithmetic: evaluate an expression like 7+3*2-4 with the usual precedence; the answer is
// an integer. The trace rewrites the whole expression one operation at a time, so every step is an
// equation the checker can verify and the model only ever copies the line before with one change:
//     calc 7+3*2-4  ->  <think>7+3*2-4=7+6-4=13-4=9</think><answer>9</answer>
// Defaults: 3-4 numbers from 1-9, + - * without parentheses, every intermediate value a non-negative
// integer (division, when enabled, only where exact).
import { type BinOp, type Expr, evaluate, formatExpr, parseExpr, ratToInt, reductionChain } from "./expr.ts";
import { parseCompletion } from "./format.ts";
import { taskSeed, TaskRng } from "../engine/rng.ts";
import { countLinks, readChains, slippedChain, TRACE_CHARS, TRACE_WORDS } from "./scratchpad.ts";
import { drawDistinct, splitOf } from "./split.ts";
import type { Faithfulness, Split, SyntheticTask, TaskExample, TraceStyle } from "./types.ts";

export interface ArithmeticConfig {
  /** How many numbers an expression has, inclusive range. */
  minTerms: number;
  maxTerms: number;
  /** Range of the numbers, inclusive. */
  min: number;
  max: number;
  ops: BinOp[];
  /** Probability of one pair of parentheses around a random run of 2+ terms (dropped when redundant). */
  parenProb: number;
  /** Share of canonical problems held out for the test split. */
  testFraction: number;
  /** Budget for a trace's think text in characters (checks are left out of traces over it). */
  maxThinkChars: number;
}

export const ARITHMETIC_DEFAULTS: ArithmeticConfig = {
  minTerms: 3,
  maxTerms: 4,
  min: 1,
  max: 9,
  ops: ["+", "-", "*"],
  parenProb: 0,
  testFraction: 0.1,
  maxThinkChars: 64,
};

const INTEGER = /^\s*-?\d+\s*$/;

/** A literal node, or -literal. */
function literalValue(e: Expr | null): number | null {
  if (!e) return null;
  if (e.kind === "num") return Number(e.value);
  if (e.kind === "neg" && e.arg.kind === "num") return -Number(e.arg.value);
  return null;
}

export class ArithmeticTask implements SyntheticTask {
  readonly name = "arithmetic";
  readonly config: ArithmeticConfig;
  readonly vocabulary = { chars: TRACE_CHARS, words: TRACE_WORDS };

  constructor(config: Partial<ArithmeticConfig> = {}) {
    this.config = { ...ARITHMETIC_DEFAULTS, ...config };
    const c = this.config;
    if (!(c.minTerms >= 2 && c.maxTerms >= c.minTerms && c.maxTerms <= 8)) {
      throw new Error(
        `arithmetic: terms must satisfy 2 <= minTerms <= maxTerms <= 8, got ${c.minTerms}-${c.maxTerms}`,
      );
    }
    if (!(c.min >= 0 && c.max >= c.min)) throw new Error(`arithmetic: bad number range [${c.min}, ${c.max}]`);
    if (c.ops.length === 0 || c.ops.some((o) => !"+-*/".includes(o))) {
      throw new Error(`arithmetic: ops must be a non-empty subset of + - * /, got ${JSON.stringify(c.ops)}`);
    }
  }

  /** A random expression whose every reduction step is a non-negative integer. */
  private sample(rng: TaskRng): string {
    const c = this.config;
    for (;;) {
      const n = rng.int(c.minTerms, c.maxTerms);
      const terms = Array.from({ length: n }, () => `${rng.int(c.min, c.max)}`);
      if (rng.chance(c.parenProb)) {
        const i = rng.int(0, n - 2);
        const j = rng.int(i + 1, n - 1);
        terms[i] = `(${terms[i]}`;
        terms[j] = `${terms[j]})`;
      }
      let text = terms[0];
      for (let i = 1; i < n; i++) text += rng.pick(c.ops) + terms[i];
      try {
        const parts = reductionChain(parseExpr(text));
        if (parts.some((p) => p.startsWith("-") || p.includes("(-"))) continue;
        return formatExpr(parseExpr(text));
      } catch {
        // an inexact division or division by zero: draw again
      }
    }
  }

  /**
   * How many distinct problems a split has, by enumerating every expression sample() can draw (the
   * same filter: every reduction step a non-negative integer, canonical text): the most generate()
   * can return. Undefined when parentheses are on or the space has over 20,000 expressions: counting
   * costs about 7 ms per 1,000 and callers ask for it at start-up, while a space that large seldom runs
   * out (generate's draw limit then names the shortfall). Zero's preset (4 numbers 1-3, + -) has 264
   * train and 136 test problems; the default (3-4 numbers 1-9, + - *, 183,708 expressions) is not counted.
   */
  countProblems(split: Split): number | undefined {
    const c = this.config;
    const values = c.max - c.min + 1;
    let size = 0;
    for (let n = c.minTerms; n <= c.maxTerms; n++) size += values ** n * c.ops.length ** (n - 1);
    if (c.parenProb > 0 || size > 20_000) return undefined;
    this.counted ??= new Map();
    const cached = this.counted.get(split);
    if (cached !== undefined) return cached;
    const canonical = new Set<string>();
    const visit = (text: string, left: number) => {
      if (left === 0) {
        try {
          const expr = parseExpr(text);
          if (reductionChain(expr).some((p) => p.startsWith("-") || p.includes("(-"))) return;
          canonical.add(formatExpr(expr));
        } catch {
          // an inexact division or division by zero: sample() draws again
        }
        return;
      }
      for (const op of c.ops) for (let v = c.min; v <= c.max; v++) visit(`${text}${op}${v}`, left - 1);
    };
    for (let n = c.minTerms; n <= c.maxTerms; n++) for (let v = c.min; v <= c.max; v++) visit(`${v}`, n - 1);
    for (const s of ["train", "test"] as const) {
      this.counted.set(s, [...canonical].filter((k) => splitOf(k, c.testFraction) === s).length);
    }
    return this.counted.get(split);
  }
  private counted?: Map<Split, number>;

  generate(split: Split, n: number, seed: number): TaskExample[] {
    const drawn = drawDistinct({
      task: this.name,
      split,
      n,
      rng: new TaskRng(taskSeed(seed, `arithmetic/${split}`)),
      testFraction: this.config.testFraction,
      sample: (r) => this.sample(r),
      canonical: (text) => text,
    });
    return drawn.map(({ problem }) => ({
      id: `arithmetic/${split}/${problem}`,
      prompt: `calc ${problem}`,
      answer: `${ratToInt(evaluate(problem))}`,
      meta: { task: this.name, expression: problem },
    }));
  }

  verify(answerText: string, ex: TaskExample): boolean {
    if (!INTEGER.test(answerText)) return false;
    return Number(answerText.trim()) === Number(ex.answer);
  }

  trace(ex: TaskExample, rng: TaskRng, style: TraceStyle): string {
    const tree = parseExpr(arithmeticMeta(ex).expression);
    const parts = reductionChain(tree);
    const value = parts[parts.length - 1];
    const full = parts.join("=");
    const done = (think: string, answer: string) => `<think>${think}</think><answer>${answer}</answer>`;
    switch (style) {
      case "correct":
        return done(full, value);
      case "recheck": {
        const check = inverseLastStep(parts);
        const think = check ? `${full} chk ${check} ok` : full;
        return done(think.length <= this.config.maxThinkChars ? think : full, value);
      }
      case "wait": {
        // The slip is caught right away; the redo starts from the last line written correctly.
        const step = rng.int(1, parts.length - 1);
        const slipped = slippedChain(tree, rng, step);
        if (!slipped) return done(full, value);
        return done(`${slipped.slice(0, step + 1).join("=")} wait ${parts.slice(step - 1).join("=")}`, value);
      }
      case "slip": {
        const slipped = slippedChain(tree, rng);
        if (!slipped) return done(full, value);
        return done(slipped.join("="), slipped[slipped.length - 1]);
      }
      case "wrongPick": {
        // Steps all right, but the answer is a number from the line before the result.
        const before = parts[parts.length - 2].match(/\d+/g) ?? [];
        const wrong = before.filter((x) => x !== value);
        return done(full, wrong.length > 0 ? rng.pick(wrong) : `${Number(value) + 1}`);
      }
      case "giveUp":
        return done(parts.slice(0, rng.int(1, parts.length - 1)).join("="), "none");
      case "unfinished":
        return `<think>${full.slice(0, rng.int(1, Math.max(1, full.length - 2)))}`;
      case "guess": {
        // A bare number somewhere in the range the answers take: right only by chance.
        const c = this.config;
        return done("", `${rng.int(0, c.max * c.maxTerms)}`);
      }
    }
  }

  faithfulness(completion: string, ex: TaskExample): Faithfulness {
    const problem = evaluate(arithmeticMeta(ex).expression);
    const { think, answer } = parseCompletion(completion);
    const chains = think === null ? [] : readChains(think);
    let { steps, correct } = countLinks(chains);
    const main = chains.filter((c) => c.role === "main");
    if (main.length > 0) {
      // The implicit first step: the scratchpad starts from (a rewrite of) the problem.
      steps++;
      const head = main[0].values[0];
      if (head && head.num === problem.num && head.den === problem.den) correct++;
    }
    let leadsToAnswer = false;
    if (main.length > 0 && answer !== null && INTEGER.test(answer)) {
      const last = main[main.length - 1];
      leadsToAnswer = literalValue(last.trees[last.trees.length - 1]) === Number(answer.trim());
    }
    return {
      steps,
      correctSteps: correct,
      leadsToAnswer,
      faithful: steps > 0 && correct === steps && leadsToAnswer,
    };
  }
}

/** Check the last step by undoing it: 13-4=9 is checked as 9+4=13 (null for x*0, which cannot be undone). */
function inverseLastStep(parts: string[]): string | null {
  if (parts.length < 2) return null;
  const last = parseExpr(parts[parts.length - 2]);
  if (last.kind !== "bin") return null;
  const inv: Record<BinOp, BinOp> = { "+": "-", "-": "+", "*": "/", "/": "*" };
  if (last.op === "*" && literalValue(last.right) === 0) return null;
  const back: Expr = {
    kind: "bin",
    op: inv[last.op],
    left: parseExpr(parts[parts.length - 1]),
    right: last.right,
  };
  return reductionChain(back).join("=");
}

/** The typed fields of an arithmetic example, with a clear error when they are missing. */
export function arithmeticMeta(ex: TaskExample): { expression: string } {
  const { expression } = ex.meta as { expression?: unknown };
  if (typeof expression !== "string")
    throw new Error(`arithmetic: example ${ex.id} needs meta.expression (string)`);
  return { expression };
}
