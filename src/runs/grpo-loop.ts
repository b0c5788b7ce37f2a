// The one GRPO loop of r1lab, driven by `r1lab zero` and the r1 pipeline's RL stages (through
// grpo-stage.ts) and by `r1lab grpo` (grpo.ts). Per generation round: the round's prompts, G
// completions each sampled from the policy and scored by its reward functions, group-relative
// advantages and the update batch (rl/grpo.ts), num_iterations optimizer steps on it
// (rl/grpo-update.ts), then metrics rows and samples appended, a checkpoint, an evaluation.
// What differs between the runs is an option here, not a second loop:
//   prompt order     `drawn`: a seeded draw of prompts_per_step for each round (zero, r1);
//                    `epochs`: rounds walk through a seeded shuffle per epoch (TRL's sampler, grpo)
//   reward shape     the policy's (rl/rollout.ts's charPolicy: per-completion rule rewards;
//                    rl/hf-rollout.ts's hfPolicy: batch reward functions, possibly remote)
//   step counting    `countIterations`: each of num_iterations optimizer steps is a step with its
//                    own row and learning rate (TRL), or each round is one step (r1lab)
//   metric names     `row` builds each metrics row (r1lab's in grpo-stage.ts, TRL's in grpo-trl-row.ts)
//   checkpoints      `checkpoint(step, round)` after every round chooses its cadence and layout
//   evaluation       `evaluate(step)` before the first round and after every round (optional)
// Everything random comes from (seed, stage, round), so a resumed run draws what the uninterrupted
// one would have. Left out: building the trainer, resuming it and the final outputs (the caller's).
import { appendJsonl, truncateJsonl } from "../engine/jsonl.ts";
import type { Params } from "../engine/params.ts";
import { Rng, deriveSeed } from "../engine/rng.ts";
import { Progress } from "../report/progress.ts";
import type { ScaleRewards } from "../rl/advantages.ts";
import type { GrpoBatch, LossType } from "../rl/grpo-loss.ts";
import { type GrpoRolloutResult, grpoRollouts } from "../rl/grpo.ts";
import { grpoUpdate } from "../rl/grpo-update.ts";
import type { RolloutPolicy } from "../rl/rollout.ts";
import type { Trainer } from "../train/trainer.ts";

/** The loop's GRPO settings, named after TRL's GRPOConfig (absent: off, or 0). */
export interface LoopSettings {
  num_generations: number;
  max_completion_length: number;
  temperature: number;
  top_p: number;
  top_k?: number;
  beta: number;
  num_iterations: number;
  loss_type: LossType;
  scale_rewards: ScaleRewards;
  dynamic_sampling?: boolean;
  max_resample_rounds?: number;
  mask_truncated_completions?: boolean;
}

export type PromptOrder = "drawn" | "epochs";

/** What a metrics row is built from: one optimizer step (TRL counting) or one round (r1lab). */
export interface StepReport<E> {
  /** Steps done, this one included. */
  step: number;
  /** The generation round, from 0. */
  round: number;
  res: GrpoRolloutResult<E>;
  /** The optimizer step's metrics (r1lab counting: the round's last step's). */
  m: Record<string, number>;
  lr: number;
  rolloutSeconds: number;
  /** Seconds since the round began. */
  seconds: number;
}

export interface GrpoLoopArgs<E> {
  /** Names the prompt and sample streams (`<stage>-prompts`, `<stage>-order`, `<stage>-sample`) and the progress bar. */
  stage: string;
  seed: number;
  s: LoopSettings;
  tr: Trainer<GrpoBatch>;
  policy: RolloutPolicy<E>;
  prompts: E[];
  promptsPerRound: number;
  order: PromptOrder;
  /** Fixed length of update batches: the longest prompt + max_completion_length. */
  seqLen: number;
  /** Rows per micro-batch (gradient accumulation); absent: one batch per step, zero-advantage rows left out when exact. */
  microBatchRows?: number;
  countIterations: boolean;
  totalSteps: number;
  /** Where to continue from (zeros for a fresh run). */
  start: { step: number; round: number };
  /** The learning rate of step `step` (from 0). */
  lr: (step: number) => number;
  /** pi_ref's parameters for beta > 0. */
  ref?: Params;
  /** The weights to sample from when they are not the trainer's (LoRA merged in), and their release. */
  sampler?: { take(): Params; release(p: Params): void };
  metricsFile: string;
  samplesFile?: string;
  row: (r: StepReport<E>) => Record<string, number>;
  /** The samples to log for a step (none: []). */
  samples?: (r: StepReport<E>) => object[];
  /** The progress bar's fields, from a metrics row. */
  bar: (row: Record<string, number>) => Record<string, number>;
  checkpoint: (step: number, round: number) => Promise<void>;
  evaluate?: (step: number) => Promise<void>;
}

/** The prompts of round `round` (`resample` > 0: dynamic sampling's fresh draws). */
export function roundPrompts<E>(a: GrpoLoopArgs<E>, round: number, resample: number): E[] {
  const pool = a.prompts;
  if (a.order === "drawn")
    return Rng.stream(a.seed, `${a.stage}-prompts`, round * 16 + resample)
      .shuffle([...pool])
      .slice(0, a.promptsPerRound);
  return Array.from({ length: a.promptsPerRound }, (_, j) => {
    const idx = round * a.promptsPerRound + j;
    const epoch = Math.floor(idx / pool.length);
    const order = Rng.stream(a.seed, `${a.stage}-order`, epoch).shuffle([...pool.keys()]);
    return pool[order[idx % pool.length]];
  });
}

/** Run rounds until totalSteps; returns the steps and rounds done. */
export async function grpoLoop<E>(a: GrpoLoopArgs<E>): Promise<{ step: number; round: number }> {
  const { s, tr } = a;
  if (a.order === "epochs" && s.dynamic_sampling)
    throw new Error("dynamic_sampling draws fresh prompts for dropped groups; it needs prompt order 'drawn'");
  let { step, round } = a.start;
  truncateJsonl(a.metricsFile, step);
  if (a.samplesFile) truncateJsonl(a.samplesFile, step);
  await a.evaluate?.(step);
  const bar = new Progress({ total: a.totalSteps, label: a.stage });
  bar.update(step);
  while (step < a.totalSteps) {
    const ts = performance.now();
    const r0 = round;
    const p = a.sampler?.take() ?? tr.params;
    const res = await grpoRollouts(p, a.policy, (k) => roundPrompts(a, r0, k), {
      numGenerations: s.num_generations,
      maxCompletionLength: s.max_completion_length,
      temperature: s.temperature,
      topP: s.top_p,
      topK: s.top_k ?? 0,
      seed: deriveSeed(a.seed, `${a.stage}-sample`, r0),
      scaleRewards: s.scale_rewards,
      dynamicSampling: s.dynamic_sampling ?? false,
      maxResampleRounds: s.max_resample_rounds ?? 0,
      seqLen: a.seqLen,
      // Leaving zero-advantage rows out is exact only when they carry no gradient: beta = 0, one update per batch.
      compact:
        a.microBatchRows === undefined && s.beta === 0 && s.num_iterations === 1
          ? { lossType: s.loss_type }
          : undefined,
      maskTruncated: s.mask_truncated_completions,
      microBatchRows: a.microBatchRows,
    });
    const rolloutSeconds = (performance.now() - ts) / 1000;
    const step0 = step;
    const lrAt = (it: number) => a.lr(a.countIterations ? step0 + it : step0);
    const log = (it: number, m: Record<string, number>) => {
      step++;
      const rep = {
        step,
        round: r0,
        res,
        m,
        lr: lrAt(it),
        rolloutSeconds,
        seconds: (performance.now() - ts) / 1000,
      };
      const row = a.row(rep);
      appendJsonl(a.metricsFile, row);
      if (a.samplesFile) for (const x of a.samples?.(rep) ?? []) appendJsonl(a.samplesFile, x);
      bar.update(step, a.bar(row));
    };
    const updates = await grpoUpdate(tr, a.policy.config, res.batches, {
      beta: s.beta,
      numIterations: a.countIterations ? Math.min(s.num_iterations, a.totalSteps - step0) : s.num_iterations,
      temperature: s.temperature,
      lr: lrAt,
      ref: a.ref,
      sampler: a.sampler ? p : undefined,
      onStep: a.countIterations ? log : undefined,
    });
    if (!a.countIterations) log(updates.length - 1, updates[updates.length - 1]);
    a.sampler?.release(p);
    round++;
    await a.checkpoint(step, round);
    await a.evaluate?.(step);
  }
  bar.done();
  return { step, round };
}
