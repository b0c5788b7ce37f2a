// The GRPO policy loss (DeepSeekMath §4.1) and the variants TRL exposes as `loss_type`.
// Per completion token t of completion i, with ratio rho = pi_theta / pi_old:
//   l_{i,t} = -min(rho A_i, clip(rho, 1 - epsilon, 1 + epsilon_high) A_i) + beta * KL_{i,t}
//   KL_{i,t} = pi_ref/pi_theta - log(pi_ref/pi_theta) - 1                 (k3 estimator, >= 0)
// Aggregation over tokens (mask m_{i,t} = 1 on completion tokens):
//   grpo:    mean_i ( sum_t m l / sum_t m )                 per-sequence mean, then mean (original)
//   bnpo:    sum_{i,t} m l / sum_{i,t} m                    token-level mean over the batch
//   dapo:    same normaliser as bnpo (one process: the global batch is the local batch)
//   dr_grpo: sum_{i,t} m l / (N * max_completion_length)   constant normaliser, no length bias
// With num_iterations (mu) = 1, pi_old = pi_theta: old log-probs are the current ones under
// stop-gradient, so the ratio is exactly 1 while its gradient is not.
import * as o from "../engine/ops.ts";
import type { Params } from "../engine/params.ts";
import { tidy } from "../engine/scope.ts";
import type { AttnInputs } from "../model/attention.ts";
import type { ModelConfig } from "../model/config.ts";
import { forward } from "../model/transformer.ts";

export type LossType = "grpo" | "bnpo" | "dapo" | "dr_grpo";

/** AdamW for the policy update: no weight decay, beta2 0.99 (r1lab's GRPO runs and benchmarks). */
export const GRPO_ADAMW = { weightDecay: 0.0, beta2: 0.99 } as const;

export interface GrpoLossConfig {
  lossType: LossType;
  beta: number;
  epsilon: number;
  epsilonHigh: number;
  maxCompletionLength: number;
  temperature: number;
}

export interface GrpoBatch {
  ids: o.Arr; // [N, T] int32: prompt + completion, right-padded
  targets: o.Arr; // [N, T] int32: ids shifted left
  mask: o.Arr; // [N, T] float32: 1 where targets[:, t] is a completion token
  advantages: o.Arr; // [N] float32
  io: AttnInputs;
  /** log pi_old(target) [N, T]; omitted when mu = 1. */
  oldLogp?: o.Arr;
  /** log pi_ref(target) [N, T]; needed when beta > 0. */
  refLogp?: o.Arr;
}

/** log pi(target) per position and the policy entropy per position, both [N, T]. */
export function tokenLogprobs(p: Params, c: ModelConfig, ids: o.Arr, targets: o.Arr, io: AttnInputs, temperature: number) {
  const logits = forward(p, c, ids, io).logits;
  const scaled = temperature !== 1 ? o.div(logits, temperature) : logits;
  const logp = o.logSoftmax(scaled, -1);
  const V = logits.shape[2];
  const picked = o.sum(o.mul(logp, o.oneHot(targets, V)), -1);
  const entropy = o.neg(o.sum(o.mul(o.exp(logp), logp), -1));
  return { picked, entropy };
}

export function grpoLoss(trainable: Params, buffers: Params, c: ModelConfig, b: GrpoBatch, cfg: GrpoLossConfig) {
  return tidy(() => {
    const p = { ...trainable, ...buffers };
    const { picked: logp, entropy } = tokenLogprobs(p, c, b.ids, b.targets, b.io, cfg.temperature);
    const old = b.oldLogp ?? o.stopGradient(logp);
    const ratio = o.exp(o.sub(logp, old));
    const A = o.expandDims(b.advantages, -1);
    const unclipped = o.mul(ratio, A);
    const clipped = o.mul(o.clip(ratio, 1 - cfg.epsilon, 1 + cfg.epsilonHigh), A);
    let perTok = o.neg(o.minimum(unclipped, clipped));
    let kl = o.zeros([]);
    if (cfg.beta > 0 && b.refLogp) {
      const d = o.sub(b.refLogp, logp);
      const klTok = o.sub(o.sub(o.exp(d), d), 1);
      perTok = o.add(perTok, o.mul(klTok, cfg.beta));
      kl = o.div(o.sum(o.mul(klTok, b.mask)), o.maximum(o.sum(b.mask), 1));
    }
    const m = b.mask;
    const tokens = o.maximum(o.sum(m), 1);
    let loss: o.Arr;
    if (cfg.lossType === "grpo") {
      const perSeq = o.div(o.sum(o.mul(perTok, m), -1), o.maximum(o.sum(m, -1), 1));
      loss = o.mean(perSeq);
    } else if (cfg.lossType === "dr_grpo") {
      loss = o.div(o.sum(o.mul(perTok, m)), b.ids.shape[0] * cfg.maxCompletionLength);
    } else {
      loss = o.div(o.sum(o.mul(perTok, m)), tokens);
    }
    // Share of tokens whose ratio left the trust region in the direction the clip binds.
    const low = o.mul(o.less(ratio, 1 - cfg.epsilon), o.less(A, 0));
    const high = o.mul(o.greater(ratio, 1 + cfg.epsilonHigh), o.greater(A, 0));
    const clipFrac = o.div(o.sum(o.mul(o.add(o.astype(low, "float32"), o.astype(high, "float32")), m)), tokens);
    const meanEntropy = o.div(o.sum(o.mul(o.stopGradient(entropy), m)), tokens);
    return [loss, { kl, clipFrac, entropy: meanEntropy }] as [o.Arr, { kl: o.Arr; clipFrac: o.Arr; entropy: o.Arr }];
  });
}
