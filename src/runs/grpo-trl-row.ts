// The metrics rows and samples of `r1lab grpo`, under the names TRL's GRPOTrainer logs: one row per
// optimizer step (loss, grad_norm, learning_rate, num_tokens, epoch), the round's rollout metrics
// (reward, reward_std, rewards/<name>/mean and /std over the completions a function applies to,
// completions/..., frac_reward_zero_std) and the update's (kl, entropy, clip_ratio/...), plus
// r1lab's timings. Standard deviations are the sample ones (torch.std), as TRL reports them.
// Left out: TRL's per-process gathering (one process here) and its wandb tables.
import { isZeroVariance } from "../rl/advantages.ts";
import type { GrpoRolloutResult } from "../rl/grpo.ts";
import type { Prompt } from "../rl/hf-rollout.ts";
import type { StepReport } from "./grpo-loop.ts";

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
const std = (xs: number[]) =>
  Math.sqrt(mean(xs.map((x) => (x - mean(xs)) ** 2)) * (xs.length / Math.max(1, xs.length - 1)));

/** Prompt + completion tokens of the round's rows (what TRL's num_tokens adds per step). */
export function roundTokens(res: GrpoRolloutResult<Prompt>): number {
  return res.rows.reduce((s, x) => s + x.r.promptIds.length + x.r.completionIds.length, 0);
}

/** The round's rollout metrics under TRL's names. */
export function rolloutMetrics(
  res: GrpoRolloutResult<Prompt>,
  rewardNames: string[],
  G: number,
): Record<string, number> {
  const all = res.all;
  const total = all.map((x) => x.reward);
  const groups = Array.from({ length: all.length / G }, (_, i) => total.slice(i * G, (i + 1) * G));
  const lengths = all.map((x) => x.completionIds.length);
  const terminated = all.filter((x) => x.finishReason === "stop").map((x) => x.completionIds.length);
  return {
    reward: mean(total),
    reward_std: std(total),
    ...Object.fromEntries(
      rewardNames.flatMap((n) => {
        const v = all.map((x) => x.rewards[n]).filter((x): x is number => x !== null && x !== undefined);
        return [
          [`rewards/${n}/mean`, mean(v)],
          [`rewards/${n}/std`, std(v)],
        ];
      }),
    ),
    "completions/mean_length": mean(lengths),
    "completions/min_length": Math.min(...lengths),
    "completions/max_length": Math.max(...lengths),
    "completions/clipped_ratio": 1 - terminated.length / lengths.length,
    "completions/mean_terminated_length": mean(terminated),
    frac_reward_zero_std: groups.filter(isZeroVariance).length / groups.length,
  };
}

/** One optimizer step's row; `epoch` and `numTokens` are the run's counters after this step. */
export function trlRow(
  r: StepReport<Prompt>,
  rollout: Record<string, number>,
  o: { epoch: number; numTokens: number },
): Record<string, number> {
  const { m } = r;
  const generated = r.res.generatedTokens;
  return {
    step: r.step,
    epoch: o.epoch,
    loss: m.loss,
    grad_norm: m.grad_norm,
    learning_rate: r.lr,
    num_tokens: o.numTokens,
    ...rollout,
    kl: m.kl,
    entropy: m.entropy,
    "clip_ratio/low_mean": m.clipLow,
    "clip_ratio/high_mean": m.clipHigh,
    "clip_ratio/region_mean": m.clipFrac,
    rollout_seconds: r.rolloutSeconds,
    step_seconds: r.seconds,
    tokens_per_s: generated / r.rolloutSeconds,
  };
}

/** The first group of a step's completions, every logging_steps steps and at step 1. */
export function trlSamples(r: StepReport<Prompt>, G: number, loggingSteps: number, rewardNames: string[]) {
  if (!(r.step % loggingSteps === 0 || r.step === 1)) return [];
  return r.res.rows.slice(0, G).map((x) => ({
    step: r.step,
    prompt: x.r.example.text,
    completion: x.r.completion,
    reward: x.r.reward,
    advantage: x.a,
    rewards: Object.fromEntries(rewardNames.map((n) => [n, x.r.rewards[n]])),
  }));
}
