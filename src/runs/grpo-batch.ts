// The rows of one generation round and the fixed-shape micro-batches the optimizer sees.
// A round samples G completions for each of per_device_train_batch_size x gradient_accumulation_steps
// / G prompts; its rows are cut into gradient_accumulation_steps micro-batches of
// per_device_train_batch_size rows, each [rows, seqLen] with seqLen = longest prompt +
// max_completion_length, so the step compiles once. Log-probs that must stay fixed over a round
// (pi_old for num_iterations > 1, pi_ref for beta > 0) are computed once and kept on the host.
import { compile } from "../engine/compile.ts";
import * as o from "../engine/ops.ts";
import { type Params, refParams, toHost } from "../engine/params.ts";
import { tidy } from "../engine/scope.ts";
import type { ModelConfig } from "../model/config.ts";
import { makeLmBatch } from "../train/batch.ts";
import { type GrpoBatch, tokenLogprobs } from "../rl/grpo-loss.ts";

export interface RoundRow {
  promptIds: number[];
  /** Generated ids, EOS included when the completion stopped. */
  completionIds: number[];
  advantage: number;
  /** In the loss (false: masked out, e.g. a truncated completion with mask_truncated_completions). */
  live: boolean;
}

/** Host tensors of one micro-batch, rebuilt into engine arrays for every pass (the step consumes them). */
export interface HostMicroBatch {
  rows: RoundRow[];
  oldLogp?: Float32Array;
  refLogp?: Float32Array;
}

export function microBatches(rows: RoundRow[], perDevice: number): HostMicroBatch[] {
  const out: HostMicroBatch[] = [];
  for (let i = 0; i < rows.length; i += perDevice) out.push({ rows: rows.slice(i, i + perDevice) });
  return out;
}

/** Completion tokens in the loss over the whole round (dapo/cispo's num_items_in_batch). */
export function itemsInRound(rows: RoundRow[], seqLen: number): number {
  return rows.reduce(
    (s, r) => s + (r.live ? Math.min(r.completionIds.length, seqLen + 1 - r.promptIds.length) : 0),
    0,
  );
}

/** Engine arrays for a micro-batch. */
export function toGrpoBatch(
  c: ModelConfig,
  mb: HostMicroBatch,
  seqLen: number,
  padId: number,
  numItems: number,
): GrpoBatch {
  const lm = makeLmBatch(
    c,
    mb.rows.map((r) => {
      const ids = [...r.promptIds, ...r.completionIds].slice(0, seqLen + 1);
      return { ids, lossStart: r.live ? r.promptIds.length : ids.length + 1 };
    }),
    seqLen,
    padId,
  );
  for (const a of lm.mtpIo) for (const v of Object.values(a)) (v as o.Arr).dispose();
  const N = mb.rows.length;
  // Absent parts are left out of the object (jit's pytrees take no undefined leaves).
  const b: GrpoBatch = {
    ids: lm.ids,
    targets: lm.targets,
    mask: lm.lossMask,
    io: lm.io,
    advantages: o.fromArray(
      mb.rows.map((r) => r.advantage),
      [N],
    ),
    numItemsInBatch: o.fromArray([numItems], []),
  };
  if (mb.oldLogp) b.oldLogp = o.fromArray(mb.oldLogp, [N, seqLen]);
  if (mb.refLogp) b.refLogp = o.fromArray(mb.refLogp, [N, seqLen]);
  return b;
}

/** log pi(target) of a micro-batch under `p`, on the host ([rows * seqLen]); a jitted forward without gradients. */
export function makeLogprobFn(c: ModelConfig, temperature: number, padId: number, seqLen: number) {
  const f = compile((p: Params, ids: o.Arr, targets: o.Arr, io: any) =>
    tidy(() => tokenLogprobs(p, c, ids, targets, io, temperature).picked),
  );
  return async (p: Params, mb: HostMicroBatch): Promise<Float32Array> => {
    const b = toGrpoBatch(c, mb, seqLen, padId, 0);
    const lp = (f as any)(refParams(p), b.ids, b.targets, b.io) as o.Arr;
    for (const a of [b.mask, b.advantages, b.numItemsInBatch!]) a.dispose();
    const host = (await toHost(lp)) as Float32Array;
    lp.dispose();
    return host;
  };
}
