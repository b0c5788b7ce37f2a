// Metrics of R1's evaluation protocol over K sampled completions per problem:
//   pass@1  = mean correctness over the K samples of a problem, averaged over problems;
//   pass@k  = unbiased estimator 1 - C(n-c, k) / C(n, k) (Chen et al. 2021, Codex), n samples with
//             c correct, computed as the product prod_{i=n-c+1..n} (1 - k/i), which never forms the
//             huge binomials;
//   cons@K  = majority vote: the most frequent extracted answer among the K samples (answers grouped
//             by the task's equivalence), correct when that answer is. Samples without an answer do
//             not vote; ties go to the answer seen first.

/** The k reported for pass@k (those <= n). */
export const PASS_K_VALUES = [1, 2, 4, 8, 16, 32, 64] as const;

/** Unbiased pass@k for one problem: n samples, c correct. Requires 1 <= k <= n. */
export function passAtK(n: number, c: number, k: number): number {
  if (
    !Number.isInteger(n) ||
    !Number.isInteger(c) ||
    !Number.isInteger(k) ||
    k < 1 ||
    k > n ||
    c < 0 ||
    c > n
  ) {
    throw new Error(`passAtK: need integers 0 <= c <= n and 1 <= k <= n, got n=${n} c=${c} k=${k}`);
  }
  if (n - c < k) return 1;
  let fail = 1; // C(n-c, k) / C(n, k)
  for (let i = n - c + 1; i <= n; i++) fail *= 1 - k / i;
  return 1 - fail;
}

function mean(xs: number[]): number {
  return xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** pass@1: mean over problems of the fraction of correct samples. `correct[p][s]` per problem p, sample s. */
export function pass1(correct: boolean[][]): number {
  return mean(correct.map((s) => (s.length === 0 ? 0 : s.filter(Boolean).length / s.length)));
}

/** Mean unbiased pass@k over problems (each problem with its own n = number of samples, k <= n). */
export function meanPassAtK(correct: boolean[][], k: number): number {
  return mean(correct.map((s) => passAtK(s.length, s.filter(Boolean).length, k)));
}

/** pass@k for every k in PASS_K_VALUES not above the smallest per-problem sample count; keys "1", "2", ... */
export function passAtKTable(correct: boolean[][]): Record<string, number> {
  const n = correct.length === 0 ? 0 : Math.min(...correct.map((s) => s.length));
  const out: Record<string, number> = {};
  for (const k of PASS_K_VALUES) if (k <= n) out[String(k)] = meanPassAtK(correct, k);
  return out;
}

export interface Vote {
  /** The winning answer (the first-seen member of the largest group), or null when nobody answered. */
  answer: string | null;
  /** Index of the sample that carried the winning answer first. */
  index: number;
  /** How many samples voted for it. */
  count: number;
}

/**
 * Majority vote over answers; `same(a, b)` groups equivalent answers (default: identical strings).
 * Each answer joins the first group whose representative it matches. Ties: the group seen first.
 */
export function majorityVote(
  answers: (string | null)[],
  same: (a: string, b: string) => boolean = (a, b) => a === b,
): Vote {
  const groups: { rep: string; index: number; count: number }[] = [];
  answers.forEach((a, i) => {
    if (a === null) return;
    const g = groups.find((x) => x.rep === a || same(x.rep, a));
    if (g) g.count++;
    else groups.push({ rep: a, index: i, count: 1 });
  });
  let best: (typeof groups)[number] | null = null;
  for (const g of groups) if (best === null || g.count > best.count) best = g;
  return best === null
    ? { answer: null, index: -1, count: 0 }
    : { answer: best.rep, index: best.index, count: best.count };
}

export interface SampleOutcome {
  extracted: string | null;
  correct: boolean;
}

/** cons@K for one problem: whether the majority answer is correct (the correctness of its first sample). */
export function consCorrect(samples: SampleOutcome[], same?: (a: string, b: string) => boolean): boolean {
  const vote = majorityVote(
    samples.map((s) => s.extracted),
    same,
  );
  return vote.index >= 0 && samples[vote.index].correct;
}

/** Mean cons@K over problems. */
export function consAtK(problems: SampleOutcome[][], same?: (a: string, b: string) => boolean): number {
  return mean(problems.map((s) => (consCorrect(s, same) ? 1 : 0)));
}

/**
 * maj@K as lighteval and lm-evaluation-harness compute it: every sample votes, a sample without an
 * answer voting for the empty answer (which is never correct). Unlike r1lab's cons@K, a problem
 * where most samples gave no answer counts as failed, so maj@K <= cons@K on the same samples.
 */
export function majCorrect(samples: SampleOutcome[], same?: (a: string, b: string) => boolean): boolean {
  const vote = majorityVote(
    samples.map((s) => s.extracted ?? ""),
    (a, b) => (a === "" || b === "" ? a === b : (same ?? ((x, y) => x === y))(a, b)),
  );
  return vote.index >= 0 && vote.answer !== "" && samples[vote.index].correct;
}

/** Mean maj@K over problems (lighteval's definition). */
export function majAtK(problems: SampleOutcome[][], same?: (a: string, b: string) => boolean): number {
  return mean(problems.map((s) => (majCorrect(s, same) ? 1 : 0)));
}

/**
 * Standard error of a mean over problems: the sample standard deviation of the per-problem values
 * (n - 1 in the denominator) over sqrt(n), as lighteval and lm-evaluation-harness report it; 0
 * for fewer than two problems.
 */
export function stderrOfMean(values: number[]): number {
  const n = values.length;
  if (n < 2) return 0;
  const m = mean(values);
  const variance = values.reduce((s, x) => s + (x - m) ** 2, 0) / (n - 1);
  return Math.sqrt(variance / n);
}

/** The normal-approximation 95% interval of a proportion's mean (mean +- 1.96 se), clipped to [0, 1]. */
export function ci95(mean: number, se: number): [number, number] {
  return [Math.max(0, mean - 1.96 * se), Math.min(1, mean + 1.96 * se)];
}
