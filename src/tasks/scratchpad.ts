// Reading a scratchpad back (and writing slips into one): the think text of both synthetic tasks is a sequence of equation chains
// and a few fixed words, e.g. for Countdown (reach 13 with 3 5 2)
//     (3+5)*2=8*2=16 no;3*5-2=15-2=13 yes chk (13+2)/5=15/5=3 ok
// and for arithmetic (calc 7+3*2-4)
//     7+3*2-4=7+5-4 wait 7+6-4=13-4=9 chk 9+4=13 ok
// A chain "e0=e1=...=ek" is a list of expressions that must all have the same value: each "=" is one
// checkable step. A chain right before "wait" is retracted (the writer caught a slip) and not checked;
// a chain right after "chk" is a verification; "yes"/"no" right after a chain is a verdict on it.
import {
  type Expr,
  ExprError,
  evaluate,
  parseExpr,
  type Rational,
  ratEquals,
  reductionChain,
} from "./expr.ts";
import { parseCompletion } from "./format.ts";
import type { TaskRng } from "../engine/rng.ts";

/** The fixed words the traces use. */
export const TRACE_WORDS = ["yes", "no", "chk", "ok", "wait", "none"] as const;
/** The characters of the traces' arithmetic and layout. */
export const TRACE_CHARS = "0123456789+-*/()=; ";

export interface Chain {
  /** The expressions between "=" signs, as written. */
  parts: string[];
  /** Parsed parts (null where the text is not a valid expression). */
  trees: (Expr | null)[];
  /** Exact values (null where unparsable or undefined, e.g. division by zero). */
  values: (Rational | null)[];
  role: "main" | "chk" | "retracted";
  verdict: "yes" | "no" | null;
}

function tryParse(text: string): { tree: Expr | null; value: Rational | null } {
  try {
    const tree = parseExpr(text);
    return { tree, value: evaluate(tree) };
  } catch (e) {
    if (e instanceof ExprError) return { tree: null, value: null };
    throw e;
  }
}

/** Chains of a think text in order, with their roles and verdicts. Unknown words are skipped. */
export function readChains(think: string): Chain[] {
  const items = think.split(/[\s;]+/).filter((s) => s.length > 0);
  const chains: Chain[] = [];
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    if (!item.includes("=")) continue;
    const parts = item.split("=");
    const parsed = parts.map(tryParse);
    const next = items[i + 1];
    chains.push({
      parts,
      trees: parsed.map((p) => p.tree),
      values: parsed.map((p) => p.value),
      role: next === "wait" ? "retracted" : items[i - 1] === "chk" ? "chk" : "main",
      verdict: next === "yes" || next === "no" ? next : null,
    });
  }
  return chains;
}

/** Steps (links a=b) of the non-retracted chains and how many hold exactly. */
export function countLinks(chains: Chain[]): { steps: number; correct: number } {
  let steps = 0;
  let correct = 0;
  for (const c of chains) {
    if (c.role === "retracted") continue;
    for (let i = 0; i + 1 < c.parts.length; i++) {
      steps++;
      const a = c.values[i];
      const b = c.values[i + 1];
      if (a && b && ratEquals(a, b)) correct++;
    }
  }
  return { steps, correct };
}

/** The final value of a chain (its last part), or null. */
export function chainValue(c: Chain): Rational | null {
  return c.values[c.values.length - 1] ?? null;
}

/** How many times a completion re-checks itself: "chk" and "wait" words in its think text. */
export function countRechecks(completion: string): number {
  const think = parseCompletion(completion).think;
  if (think === null) return 0;
  return (think.match(/\b(chk|wait)\b/g) ?? []).length;
}

/** Whether a completion works the problem out (a step "a=b" in its think text) rather than answering bare. */
export function showsWork(completion: string): boolean {
  return (parseCompletion(completion).think ?? "").includes("=");
}

/**
 * Writing side: the reduction chain of `tree` with one step (`onlyStep`, or any) off by +-1 or +-2 and
 * the error carried on, as the corpus writes a slip; null when no such slip keeps every later step an
 * non-negative integer with a final value different from the right one.
 */
export function slippedChain(tree: Expr, rng: TaskRng, onlyStep?: number): string[] | null {
  const right = reductionChain(tree);
  const options: { step: number; delta: bigint }[] = [];
  for (let step = 1; step < right.length; step++) {
    if (onlyStep !== undefined && step !== onlyStep) continue;
    for (const delta of [1n, 2n, -1n, -2n]) options.push({ step, delta });
  }
  for (const slip of rng.shuffle(options)) {
    try {
      const parts = reductionChain(tree, slip);
      if (
        parts[parts.length - 1] !== right[right.length - 1] &&
        !parts.some((p) => p.startsWith("-") || p.includes("(-"))
      )
        return parts;
    } catch {
      // this slip makes a later division inexact: try another
    }
  }
  return null;
}
