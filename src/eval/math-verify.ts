// r1lab's one math answer checker: what `eval`, `score`, the reward server and the GRPO rewards
// call to decide whether a completion's final answer equals a gold answer, with Math-Verify's
// rules (agreement with Math-Verify's own test verdicts: docs/evaluation.md).
//   1. the completion's reasoning (<think>...</think>) is dropped and its final answer extracted
//      (math-extract.ts: "final answer is", \boxed, "answer:", the last math span or number);
//   2. the gold is a bare answer ("\frac{1}{2}") or a text to extract from (a solution with \boxed,
//      "$...$" math, several boxes);
//   3. the two are compared (math-equiv.ts); the first candidates' raw texts also count when
//      identical (Math-Verify's string fallback).
// checkMath is synchronous and bounded: a completion over MAX_COMPLETION_CHARS is not read, the
// CAS works within a time budget. For a hard wall-clock limit off the main thread, use
// verify-pool.ts, which runs this same function in worker threads.

import { stripThink } from "./extract.ts";
import { type VerifyOptions, verifyMath } from "./math-equiv.ts";
import { extractMath, type MathExtraction, type MathExtractOptions } from "./math-extract.ts";
import { normalizeAnswer, textKey } from "./math-normalize.ts";

/** Completions longer than this (characters) are not read: the answer is "not equal". */
export const MAX_COMPLETION_CHARS = 1_000_000;

export interface MathCheckOptions extends MathExtractOptions, VerifyOptions {
  /** Extract the gold from text even when it looks like a bare answer. Default: only when it has $, \( or \boxed. */
  goldIsText?: boolean;
  /** Drop <think>...</think> from the completion first (R1's protocol). Default true. */
  stripThink?: boolean;
}

export interface MathCheck {
  correct: boolean;
  /** The extracted final answer (LaTeX), or null when none was found. */
  extracted: string | null;
  /** How it was found: boxed, final_answer, answer, latex, expr, none, too_long. */
  method: string;
}

const LOOKS_LIKE_TEXT = /\$|\\\(|\\\[|\\boxed|\\fbox/;

/** The gold answer: extracted when it is a text with math in it, else the string as it is. */
export function goldExtraction(gold: string, opts: MathCheckOptions = {}): MathExtraction {
  if (opts.goldIsText) return extractMath(gold, opts);
  if (LOOKS_LIKE_TEXT.test(gold)) {
    const e = extractMath(gold, opts);
    if (e.answer !== null) return e;
  }
  const bare = gold.trim();
  return { answer: bare.length > 0 ? bare : null, percent: false, method: "gold", fallback: bare };
}

function withPercent(e: MathExtraction): string | null {
  if (e.answer === null) return null;
  return e.percent ? `${e.answer}\\%` : e.answer;
}

/** Whether `completion`'s final answer equals `gold`. Never throws. */
export function checkMath(completion: string, gold: string, opts: MathCheckOptions = {}): MathCheck {
  try {
    if (typeof completion !== "string" || typeof gold !== "string")
      return { correct: false, extracted: null, method: "none" };
    if (completion.length > MAX_COMPLETION_CHARS)
      return { correct: false, extracted: null, method: "too_long" };
    const text = opts.stripThink === false ? completion : stripThink(completion);
    const p = extractMath(text, opts);
    const g = goldExtraction(gold, opts);
    const ga = withPercent(g);
    const pa = withPercent(p);
    let correct = ga !== null && pa !== null && verifyMath(ga, pa, opts);
    if (!correct && g.fallback !== null && p.fallback !== null) {
      const a = g.fallback.trim();
      correct = a.length > 0 && a === p.fallback.trim();
    }
    return { correct, extracted: p.answer, method: p.method };
  } catch {
    return { correct: false, extracted: null, method: "none" };
  }
}

const PLAIN_NUMBER = /^-?\d+(?:\.\d+)?$/;

/**
 * The verdict without the CAS, when it is cheap and certain: a short completion (extraction is
 * then microseconds) whose answer is missing, textually the gold, or a plain number against a
 * plain number. null when the CAS is needed (verify-pool.ts then sends it to a worker).
 */
export function checkMathQuick(
  completion: string,
  gold: string,
  opts: MathCheckOptions = {},
): MathCheck | null {
  if (typeof completion !== "string" || typeof gold !== "string") return null;
  if (completion.length > 4096 || gold.length > 1024) return null;
  const p = extractMath(opts.stripThink === false ? completion : stripThink(completion), opts);
  const g = goldExtraction(gold, opts);
  const fallbackEqual =
    g.fallback !== null &&
    p.fallback !== null &&
    g.fallback.trim().length > 0 &&
    g.fallback.trim() === p.fallback.trim();
  if (fallbackEqual) return { correct: true, extracted: p.answer, method: p.method };
  if (p.answer === null || g.answer === null)
    return { correct: false, extracted: p.answer, method: p.method };
  if (p.answer.length > 200 || g.answer.length > 200) return null;
  const a = normalizeAnswer(withPercent(g)!);
  const b = normalizeAnswer(withPercent(p)!);
  if (a.percent === b.percent && textKey(a.latex) === textKey(b.latex) && a.latex.length > 0)
    return { correct: true, extracted: p.answer, method: p.method };
  const x = a.percent ? null : simpleNumber(a.latex);
  const y = b.percent ? null : simpleNumber(b.latex);
  if (x !== null && y !== null) {
    let same: boolean;
    if (x.float || y.float) {
      const f = 10 ** (opts.precision ?? 6);
      same =
        Math.round((Number(x.num) / Number(x.den)) * f) === Math.round((Number(y.num) / Number(y.den)) * f);
    } else same = x.num * y.den === y.num * x.den;
    return { correct: same, extracted: p.answer, method: p.method };
  }
  return null;
}

/** A plain number "12", "-0.25", or a fraction of integers "\\frac{3}{4}", "-3/4", as num/den (den > 0). */
function simpleNumber(s: string): { num: bigint; den: bigint; float: boolean } | null {
  const t = s.replace(/\s+/g, "");
  if (PLAIN_NUMBER.test(t)) {
    const [int, frac = ""] = t.split(".");
    const den = 10n ** BigInt(frac.length);
    const neg = int.startsWith("-");
    const mag = BigInt(int.replace("-", "")) * den + BigInt(frac || "0");
    return { num: neg ? -mag : mag, den, float: frac.length > 0 };
  }
  const m = /^(-?)(?:\\frac\{(\d+)\}\{(\d+)\}|(\d+)\/(\d+))$/.exec(t);
  if (!m) return null;
  const num = BigInt(m[2] ?? m[4]);
  const den = BigInt(m[3] ?? m[5]);
  if (den === 0n) return null;
  return { num: m[1] === "-" ? -num : num, den, float: false };
}

/** Whether two extracted answers are the same vote (cons@K): equivalent either way round. */
export function sameMathAnswer(a: string, b: string, opts: VerifyOptions = {}): boolean {
  return a === b || verifyMath(a, b, opts);
}

/** Math-Verify's verdict on a gold text and a prediction text (both extracted), for the agreement script. */
export function checkAnswer(gold: string, prediction: string, opts: MathCheckOptions = {}): boolean {
  return checkMath(prediction, gold, { ...opts, goldIsText: opts.goldIsText ?? true }).correct;
}
