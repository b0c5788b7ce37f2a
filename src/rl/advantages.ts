// Group-relative advantages (GRPO, DeepSeekMath §4.1): each completion's reward is compared with
// the other completions of the same prompt, so no value network is needed.
//   A_i = (r_i - mean(r_group)) / (std(r_group) + eps)      scale_rewards = "group" (GRPO)
//   A_i = (r_i - mean(r_group)) / (std(r_batch) + eps)      scale_rewards = "batch"
//   A_i =  r_i - mean(r_group)                              scale_rewards = "none" (Dr. GRPO)
// A group whose rewards are all equal carries no signal (A = 0): reported as a fraction, and
// dropped altogether by DAPO's dynamic sampling.

export type ScaleRewards = "group" | "batch" | "none";

function meanStd(xs: number[]): [number, number] {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const v = xs.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(1, xs.length - 1);
  return [m, Math.sqrt(v)];
}

export function groupAdvantages(groups: number[][], scale: ScaleRewards, eps = 1e-4): number[][] {
  const batchStd = meanStd(groups.flat())[1];
  return groups.map((g) => {
    const [m, s] = meanStd(g);
    const denom = scale === "group" ? s + eps : scale === "batch" ? batchStd + eps : 1;
    // A zero-variance group has r - mean = 0 everywhere: its advantage is 0 (not 0/0).
    return g.map((r) => (denom > 0 ? (r - m) / denom : 0));
  });
}

/** True when every reward of the group is the same (zero advantage, no gradient). */
export function isZeroVariance(g: number[]): boolean {
  return g.every((r) => r === g[0]);
}
