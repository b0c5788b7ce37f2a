// The language-model training loss of DeepSeek-V3 in miniature:
//   L = CE(next token) + lambda/D * sum_k CE_k(MTP depth k: token i+k+1) + alpha * balance loss
// Cross-entropies are averaged over the tokens where lossMask = 1 (completion tokens, no padding).
// Returns the loss and, as aux, the parts and the MoE loads (for the bias update and reports).
import * as o from "../engine/ops.ts";
import type { Params } from "../engine/params.ts";
import { tidy } from "../engine/scope.ts";
import type { AttnInputs } from "../model/attention.ts";
import type { ModelConfig } from "../model/config.ts";
import { forward } from "../model/transformer.ts";

export interface LmBatch {
  /** Input ids [B, T] (int32). */
  ids: o.Arr;
  /** Next-token targets [B, T] (int32): targets[:, i] = ids[:, i+1]. */
  targets: o.Arr;
  /** 1 where targets[:, i] is trained on, else 0: [B, T] float32. */
  lossMask: o.Arr;
  io: AttnInputs;
  /** Attention inputs for MTP depth k (length T-k), index k-1. */
  mtpIo: AttnInputs[];
  /** Optional loss mask for MTP depth k ([B, T-k], index k-1); default lossMask[:, k:] (packed rows need their own). */
  mtpLossMask?: o.Arr[];
}

export interface LmLossWeights {
  /** MTP loss weight lambda (DeepSeek-V3: 0.3 early, 0.1 later). */
  mtpLambda: number;
  /** Sequence-wise balance loss weight alpha (DeepSeek-V3: 0.0001). */
  balanceAlpha: number;
}

/** Masked mean cross-entropy. logits [B, T', V], targets [B, T'] int32, mask [B, T']. */
export function maskedCrossEntropy(logits: o.Arr, targets: o.Arr, mask: o.Arr): o.Arr {
  const V = logits.shape[logits.shape.length - 1];
  const logp = o.logSoftmax(logits, -1);
  const picked = o.sum(o.mul(logp, o.oneHot(targets, V)), -1);
  return o.div(o.neg(o.sum(o.mul(picked, mask))), o.maximum(o.sum(mask), 1));
}

export function lmLoss(
  trainable: Params,
  buffers: Params,
  c: ModelConfig,
  batch: LmBatch,
  w: LmLossWeights,
): [o.Arr, { ce: o.Arr; mtp: o.Arr; balance: o.Arr; loads: o.Arr[] }] {
  return tidy(() => {
    const p = { ...trainable, ...buffers };
    const useMtp = c.numNextnPredictLayers > 0 && w.mtpLambda > 0;
    const out = forward(p, c, batch.ids, batch.io, useMtp ? { mtp: { io: batch.mtpIo } } : {});
    const ce = maskedCrossEntropy(out.logits, batch.targets, batch.lossMask);
    const T = batch.ids.shape[1];
    let mtp = o.zeros([]);
    out.mtpLogits.forEach((lg, i) => {
      const k = i + 1;
      const tgt = o.slice(batch.targets, null, [k, T]);
      const m = batch.mtpLossMask?.[i] ?? o.slice(batch.lossMask, null, [k, T]);
      mtp = o.add(mtp, maskedCrossEntropy(lg, tgt, m));
    });
    if (out.mtpLogits.length > 0) mtp = o.div(mtp, out.mtpLogits.length);
    let loss = o.add(ce, o.mul(mtp, w.mtpLambda));
    if (w.balanceAlpha > 0) loss = o.add(loss, o.mul(out.balanceLoss, w.balanceAlpha));
    return [loss, { ce, mtp, balance: out.balanceLoss, loads: out.loads }];
  });
}
