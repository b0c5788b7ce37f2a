// What the math benchmarks (gsm8k, math500, aime24, aime25) share: R1's instruction, scoring by
// answer extraction + math equivalence, and the problem id (the dataset's id field or the row index).

import type { DataRow } from "../data.ts";
import { sameMathAnswer as sameAnswer } from "../math-verify.ts";
import { checkMathAsync } from "../verify-pool.ts";
import type { ScoreResult } from "./types.ts";

/** The directive DeepSeek recommends for math problems (R1 model card), appended to the problem. */
export const MATH_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}.";

export function mathPrompt(question: string): string {
  return `${question.trim()}\n${MATH_INSTRUCTION}`;
}

/**
 * Extract the final answer and compare it with the gold (gold decides the expected kind), in the
 * shared verification pool: off the main thread, with a hard time limit (verify-pool.ts).
 */
export async function scoreMath(completion: string, gold: string): Promise<ScoreResult> {
  const { extracted, correct, method } = await checkMathAsync(completion, gold);
  return { extracted, correct, method };
}

/** Votes for cons@K: equivalent answers are one vote. */
export function sameMathAnswer(a: string, b: string): boolean {
  return sameAnswer(a, b, { timeMs: 1000 });
}

/** The row's id from the first present field of `names`, else its 0-based row index. */
export function rowId(row: DataRow, names: string[]): string {
  for (const n of names) {
    const v = row.fields[n];
    if (typeof v === "string" || typeof v === "number") return String(v);
  }
  return String(row.index);
}

/** An integer answer as AIME writes it ("033" -> "33"); other text unchanged. */
export function canonicalInteger(s: string): string {
  const t = s.trim();
  return /^[-+]?\d+$/.test(t) ? BigInt(t).toString() : t;
}
