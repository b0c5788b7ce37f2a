// Train/test splits for the synthetic tasks. A problem's split is a fixed hash of its canonical form
// (e.g. "2,3,5>13" for Countdown), independent of any seed: no seed can put a test problem in the
// training corpus. Generators draw problems with a seeded stream and keep those of the asked split.

import { hashString, type TaskRng } from "../engine/rng.ts";
import type { Split } from "./types.ts";

/** "test" for a fixed `testFraction` share of canonical problems, "train" for the rest. */
export function splitOf(canonical: string, testFraction: number): Split {
  return hashString(`r1lab/split/${canonical}`) / 4294967296 < testFraction ? "test" : "train";
}

/**
 * n distinct problems of `split`: draws with `sample` until n canonical forms of that split are found.
 * Throws (naming the task) when the problem space runs out first, instead of looping or repeating.
 */
export function drawDistinct<P>(opts: {
  task: string;
  split: Split;
  n: number;
  rng: TaskRng;
  testFraction: number;
  sample: (rng: TaskRng) => P;
  canonical: (p: P) => string;
}): { problem: P; canonical: string }[] {
  const { task, split, n, rng, testFraction } = opts;
  if (!Number.isInteger(n) || n < 0) throw new Error(`${task}: n must be a non-negative integer, got ${n}`);
  if (!(testFraction > 0 && testFraction < 1)) {
    throw new Error(`${task}: testFraction must be in (0, 1), got ${testFraction}`);
  }
  const seen = new Set<string>();
  const out: { problem: P; canonical: string }[] = [];
  const maxDraws = 200 * n + 50_000;
  for (let draws = 0; out.length < n; draws++) {
    if (draws >= maxDraws) {
      throw new Error(
        `${task}: found only ${out.length} distinct ${split} problems of the ${n} asked in ${draws} draws; ` +
          `ask for fewer or widen the ranges`,
      );
    }
    const problem = opts.sample(rng);
    const key = opts.canonical(problem);
    if (seen.has(key) || splitOf(key, testFraction) !== split) continue;
    seen.add(key);
    out.push({ problem, canonical: key });
  }
  return out;
}
