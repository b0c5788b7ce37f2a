// The policy update of one GRPO step on one batch, for runs that build the batch in one piece
// (zero, r1): with num_iterations (mu) > 1 the batch's log-probs under the sampling policy are kept
// as pi_old and the batch is trained on mu times; with beta > 0 the reference model's log-probs are
// added for the k3 KL term. mu = 1 and beta = 0 is exactly one Trainer.update.
import { jit } from "../engine/jax.ts";
import * as o from "../engine/ops.ts";
import { type Params, refParams } from "../engine/params.ts";
import { tidy } from "../engine/scope.ts";
import type { ModelConfig } from "../model/config.ts";
import type { Trainer } from "../train/trainer.ts";
import { type GrpoBatch, tokenLogprobs } from "./grpo-loss.ts";

export interface GrpoUpdateOptions {
  beta: number;
  numIterations: number;
  /** The sampling temperature (the loss divides the logits by it). */
  temperature: number;
  lr: number;
  /** pi_ref's parameters (the stage's starting point); required when beta > 0. */
  ref?: Params;
}

const logprobFns = new Map<string, (p: Params, ids: o.Arr, targets: o.Arr, io: unknown) => o.Arr>();

/** log pi(target) [N, T] of the batch under `p`, without gradients (one jitted forward per config and temperature). */
export function batchLogprobs(p: Params, c: ModelConfig, b: GrpoBatch, temperature: number): o.Arr {
  const key = `${JSON.stringify(c)}|${temperature}`;
  let f = logprobFns.get(key);
  if (!f) {
    f = jit((pp: Params, ids: o.Arr, targets: o.Arr, io: any) =>
      tidy(() => tokenLogprobs(pp, c, ids, targets, io, temperature).picked),
    ) as any;
    logprobFns.set(key, f!);
  }
  return f!(refParams(p), refParams(b.ids), refParams(b.targets), refParams(b.io));
}

/** A copy of `p` that later updates cannot touch (pi_ref for beta > 0; updates consume their inputs). */
export function frozenCopy(p: Params): Params {
  return Object.fromEntries(Object.entries(p).map(([k, a]) => [k, o.add(a, 0)]));
}

/** num_iterations updates on `batch` (consumed); returns each update's metrics (loss, kl, clipFrac, ...). */
export async function grpoUpdate(
  tr: Trainer<GrpoBatch>,
  c: ModelConfig,
  batch: GrpoBatch,
  u: GrpoUpdateOptions,
): Promise<Record<string, number>[]> {
  if (!(Number.isInteger(u.numIterations) && u.numIterations >= 1))
    throw new Error(`num_iterations must be an integer >= 1, got ${u.numIterations}`);
  if (u.beta > 0 && !u.ref) throw new Error(`beta = ${u.beta} > 0 needs the reference model's parameters`);
  const b: GrpoBatch = { ...batch };
  if (u.numIterations > 1) b.oldLogp = batchLogprobs(tr.params, c, b, u.temperature);
  if (u.beta > 0) b.refLogp = batchLogprobs(u.ref!, c, b, u.temperature);
  const out: Record<string, number>[] = [];
  for (let it = 0; it < u.numIterations; it++) {
    const last = it === u.numIterations - 1;
    out.push(await tr.update(last ? b : refParams(b), u.lr));
  }
  return out;
}
