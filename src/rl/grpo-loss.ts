// The GRPO policy loss (DeepSeekMath §4.1) and the variants TRL's GRPOTrainer exposes, computed
// like TRL's `_compute_loss` so that the same numbers give the same loss and gradients.
// Per completion token t of completion i, with log-ratio d = log pi_theta - log pi_old:
//   w_{i,t} = exp(d_{i,t})                                 importance_sampling_level "token"
//   w_{i,t} = exp(sum_t m d / sum_t m)                     "sequence" (GSPO): one weight per completion
//   l_{i,t} = -min(w A_i, clip(w, 1 - epsilon, 1 + epsilon_high) A_i)           grpo/bnpo/dr_grpo/dapo
//   l_{i,t} = -sg(min(w, epsilon_high)) A_i log pi_theta                         cispo (MiniMax-M1)
//   l_{i,t} *= IS_{i,t}   truncated importance sampling against the sampler's log-probs (a constant)
//   l_{i,t} += beta * KL_{i,t},  KL = pi_ref/pi_theta - log(pi_ref/pi_theta) - 1   (k3, >= 0)
// Aggregation (mask m_{i,t} = 1 on completion tokens), for one of gradient_accumulation_steps
// micro-batches whose gradients are summed into one optimizer step:
//   grpo:    mean_i ( sum_t m l / sum_t m ) / GA            per-sequence mean, then mean
//   bnpo:    sum m l / sum m / GA                           token mean over the micro-batch
//   dr_grpo: sum m l / (N * max_completion_length) / GA     constant normaliser, no length bias
//   dapo, cispo: sum m l / num_items_in_batch              token mean over the whole generation
//            batch (every micro-batch of the step), which is what the summed gradients then equal
// With num_iterations (mu) = 1, pi_old = pi_theta: old log-probs are the current ones under
// stop-gradient, so the ratio is exactly 1 while its gradient is not.
import * as o from "../engine/ops.ts";
import type { Params } from "../engine/params.ts";
import { tidy } from "../engine/scope.ts";
import type { AttnInputs } from "../model/attention.ts";
import type { ModelConfig } from "../model/config.ts";
import { forward } from "../model/transformer.ts";

export type LossType = "grpo" | "bnpo" | "dapo" | "dr_grpo" | "cispo";
export const LOSS_TYPES: readonly LossType[] = ["grpo", "bnpo", "dapo", "dr_grpo", "cispo"];
export type ImportanceSamplingLevel = "token" | "sequence";

/** AdamW for the policy update: no weight decay, beta2 0.99 (r1lab's GRPO runs and benchmarks). */
export const GRPO_ADAMW = { weightDecay: 0.0, beta2: 0.99 } as const;

export interface GrpoLossConfig {
  lossType: LossType;
  beta: number;
  epsilon: number;
  /** Upper clip 1 + epsilon_high; for cispo the cap of the weight itself (MiniMax-M1 uses 5). */
  epsilonHigh: number;
  maxCompletionLength: number;
  temperature: number;
  /** "token" (default) or "sequence" (GSPO). */
  importanceSamplingLevel?: ImportanceSamplingLevel;
  /** Micro-batches per optimizer step (grpo, bnpo, dr_grpo divide by it). Default 1. */
  gradientAccumulationSteps?: number;
}

export interface GrpoBatch {
  ids: o.Arr; // [N, T] int32: prompt + completion, right-padded
  targets: o.Arr; // [N, T] int32: ids shifted left
  mask: o.Arr; // [N, T] float32: 1 where targets[:, t] is a completion token
  advantages: o.Arr; // [N] float32
  io: AttnInputs;
  /** log pi_old(target) [N, T]; omitted when mu = 1. */
  oldLogp?: o.Arr;
  /** log pi_ref(target) [N, T]; required when beta > 0. */
  refLogp?: o.Arr;
  /** Truncated importance-sampling weights against the sampler [N, T] (importance.ts); constants. */
  isWeights?: o.Arr;
  /** dapo/cispo: completion tokens of the whole generation batch, a 0-d float32 (TRL's num_items_in_batch). */
  numItemsInBatch?: o.Arr;
}

export type GrpoAux = {
  /** Mean k3 KL over completion tokens (0 when beta = 0). */
  kl: o.Arr;
  /** Share of tokens clipped on either side (clip_ratio/region_mean; cispo: capped share). */
  clipFrac: o.Arr;
  /** clip_ratio/low_mean: w < 1 - epsilon with A < 0. */
  clipLow: o.Arr;
  /** clip_ratio/high_mean: w > 1 + epsilon_high with A > 0. */
  clipHigh: o.Arr;
  entropy: o.Arr;
};

/** log pi(target) per position and the policy entropy per position, both [N, T]. */
export function tokenLogprobs(
  p: Params,
  c: ModelConfig,
  ids: o.Arr,
  targets: o.Arr,
  io: AttnInputs,
  temperature: number,
) {
  const logits = forward(p, c, ids, io).logits;
  const scaled = temperature !== 1 ? o.div(logits, temperature) : logits;
  const logp = o.logSoftmax(scaled, -1);
  const V = logits.shape[2];
  const picked = o.sum(o.mul(logp, o.oneHot(targets, V)), -1);
  const entropy = o.neg(o.sum(o.mul(o.exp(logp), logp), -1));
  return { picked, entropy };
}

/** Check the parts a configuration needs before anything is traced (beta > 0 without reference log-probs, ...). */
export function checkGrpoBatch(b: GrpoBatch, cfg: GrpoLossConfig): void {
  if (cfg.beta > 0 && !b.refLogp)
    throw new Error(
      `grpo loss: beta = ${cfg.beta} > 0 needs the reference model's log-probs (refLogp); none were given`,
    );
  if (cfg.beta < 0 || !Number.isFinite(cfg.beta))
    throw new Error(`grpo loss: beta must be >= 0, got ${cfg.beta}`);
  const ga = cfg.gradientAccumulationSteps ?? 1;
  if (!(Number.isInteger(ga) && ga >= 1))
    throw new Error(`grpo loss: gradient_accumulation_steps must be an integer >= 1, got ${ga}`);
}

/**
 * The loss from the policy's log-probs `logp` and entropies [N, T] (pure: tested on hand-made numbers).
 * Returns the scalar loss and the metrics of TRL's log.
 */
export function policyLoss(logp: o.Arr, entropy: o.Arr, b: GrpoBatch, cfg: GrpoLossConfig): [o.Arr, GrpoAux] {
  checkGrpoBatch(b, cfg);
  const m = b.mask;
  const GA = cfg.gradientAccumulationSteps ?? 1;
  const tokens = o.maximum(o.sum(m), 1);
  const masked = (x: o.Arr) => o.div(o.sum(o.mul(x, m)), tokens);
  const old = b.oldLogp ?? o.stopGradient(logp);
  const logRatio = o.sub(logp, old);
  // [N, T] or [N, 1] (sequence level)
  const logW =
    cfg.importanceSamplingLevel === "sequence"
      ? o.expandDims(o.div(o.sum(o.mul(logRatio, m), -1), o.maximum(o.sum(m, -1), 1)), -1)
      : logRatio;
  const w = o.exp(logW);
  const A = o.expandDims(b.advantages, -1);
  let perTok: o.Arr;
  let clipLow: o.Arr;
  let clipHigh: o.Arr;
  const full = (x: o.Arr) => o.astype(o.broadcastTo(x, m.shape), "float32");
  if (cfg.lossType === "cispo") {
    const capped = o.stopGradient(o.minimum(w, cfg.epsilonHigh));
    perTok = o.neg(o.mul(o.mul(capped, A), logp));
    clipLow = o.zeros([]);
    clipHigh = masked(full(o.mul(o.greater(w, cfg.epsilonHigh), o.greater(A, 0))));
  } else {
    const clipped = o.clip(w, 1 - cfg.epsilon, 1 + cfg.epsilonHigh);
    perTok = o.neg(o.minimum(o.mul(w, A), o.mul(clipped, A)));
    clipLow = masked(full(o.mul(o.less(w, 1 - cfg.epsilon), o.less(A, 0))));
    clipHigh = masked(full(o.mul(o.greater(w, 1 + cfg.epsilonHigh), o.greater(A, 0))));
  }
  if (perTok.shape[1] !== m.shape[1]) perTok = o.broadcastTo(perTok, m.shape);
  if (b.isWeights) perTok = o.mul(perTok, b.isWeights);
  let kl: o.Arr = o.zeros([]);
  if (cfg.beta > 0) {
    const d = o.sub(b.refLogp!, logp);
    const klTok = o.sub(o.sub(o.exp(d), d), 1);
    perTok = o.add(perTok, o.mul(klTok, cfg.beta));
    kl = masked(o.stopGradient(klTok));
  }
  let loss: o.Arr;
  const summed = o.sum(o.mul(perTok, m));
  if (cfg.lossType === "grpo") {
    loss = o.div(o.mean(o.div(o.sum(o.mul(perTok, m), -1), o.maximum(o.sum(m, -1), 1))), GA);
  } else if (cfg.lossType === "bnpo") {
    loss = o.div(o.div(summed, tokens), GA);
  } else if (cfg.lossType === "dr_grpo") {
    loss = o.div(summed, m.shape[0] * cfg.maxCompletionLength * GA);
  } else {
    loss = o.div(summed, b.numItemsInBatch ? o.maximum(b.numItemsInBatch, 1) : tokens);
  }
  const clipFrac = o.add(clipLow, clipHigh); // a new array even for cispo (jit's aux may not repeat one)
  return [loss, { kl, clipFrac, clipLow, clipHigh, entropy: masked(o.stopGradient(entropy)) }];
}

/** The GRPO loss of a full parameter tree `p` on one micro-batch. */
export function grpoObjective(
  p: Params,
  c: ModelConfig,
  b: GrpoBatch,
  cfg: GrpoLossConfig,
): [o.Arr, GrpoAux] {
  return tidy(() => {
    const { picked, entropy } = tokenLogprobs(p, c, b.ids, b.targets, b.io, cfg.temperature);
    return policyLoss(picked, entropy, b, cfg);
  });
}

/** Trainer's form: trained tensors and buffers (routing biases) are one tree for the model. */
export function grpoLoss(
  trainable: Params,
  buffers: Params,
  c: ModelConfig,
  b: GrpoBatch,
  cfg: GrpoLossConfig,
): [o.Arr, GrpoAux] {
  return grpoObjective({ ...trainable, ...buffers }, c, b, cfg);
}
