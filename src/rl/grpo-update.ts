// The policy update of one GRPO step, shared by every run (zero, r1, grpo): with num_iterations
// (mu) > 1 the batch's log-probs under the sampling policy are kept as pi_old and the batch is
// trained on mu times, one optimizer step each; with beta > 0 the reference model's log-probs are
// added for the k3 KL term. A step given as several micro-batches sums their gradients before the
// optimizer step (gradient accumulation; the loss scales each). One batch, mu = 1 and beta = 0 is
// exactly one Trainer.update.
import { compile } from "../engine/compile.ts";
import { currentExecutor, currentOrtDevice } from "../engine/executor.ts";
import * as o from "../engine/ops.ts";
import { onWebGpu, residentCopy } from "../engine/ort/resident.ts";
import { type Params, disposeParams, refParams } from "../engine/params.ts";
import { tidy } from "../engine/scope.ts";
import type { ModelConfig } from "../model/config.ts";
import type { Trainer } from "../train/trainer.ts";
import { type GrpoBatch, tokenLogprobs } from "./grpo-loss.ts";

export interface GrpoUpdateOptions {
  beta: number;
  numIterations: number;
  /** The sampling temperature (the loss divides the logits by it). */
  temperature: number;
  /** The learning rate of each of the mu optimizer steps (a number: the same for all). */
  lr: number | ((iteration: number) => number);
  /** pi_ref's parameters (the stage's starting point); required when beta > 0. */
  ref?: Params;
  /** The parameters the rollouts were sampled from (pi_old), when not the trainer's (a LoRA run's merged weights). */
  sampler?: Params;
  /** Called after each optimizer step with its metrics (before the next one starts). */
  onStep?: (iteration: number, m: Record<string, number>) => void;
}

const logprobFns = new Map<string, (p: Params, ids: o.Arr, targets: o.Arr, io: unknown) => o.Arr>();

/**
 * log pi(target) [N, T] of the batch under `p`, without gradients (one jitted forward per config,
 * temperature, executor and device: a compiled function keeps the execution provider it was made on).
 */
export function batchLogprobs(p: Params, c: ModelConfig, b: GrpoBatch, temperature: number): o.Arr {
  const key = `${JSON.stringify(c)}|${temperature}|${currentExecutor()}/${currentOrtDevice()}`;
  let f = logprobFns.get(key);
  if (!f) {
    f = compile(
      (pp: Params, ids: o.Arr, targets: o.Arr, io: any) =>
        tidy(() => tokenLogprobs(pp, c, ids, targets, io, temperature).picked),
      { name: "GRPO log-probs" },
    ) as any;
    logprobFns.set(key, f!);
  }
  return f!(refParams(p), refParams(b.ids), refParams(b.targets), refParams(b.io));
}

/**
 * A copy of `p` that later updates cannot touch (pi_ref for beta > 0; updates consume their inputs).
 * On onnxruntime's WebGPU EP it lives on the device, uploaded once rather than at every pi_ref pass.
 */
export function frozenCopy(p: Params): Params {
  const copy = Object.fromEntries(Object.entries(p).map(([k, a]) => [k, o.add(a, 0)]));
  if (!onWebGpu()) return copy;
  const onDevice = residentCopy(copy);
  disposeParams(copy);
  return onDevice;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

/**
 * num_iterations optimizer steps on `batch` (consumed), or on the micro-batches of `batch` as one
 * step each; returns each step's metrics (loss summed over micro-batches, the rest averaged).
 */
export async function grpoUpdate(
  tr: Trainer<GrpoBatch>,
  c: ModelConfig,
  batch: GrpoBatch | GrpoBatch[],
  u: GrpoUpdateOptions,
): Promise<Record<string, number>[]> {
  if (!(Number.isInteger(u.numIterations) && u.numIterations >= 1))
    throw new Error(`num_iterations must be an integer >= 1, got ${u.numIterations}`);
  if (u.beta > 0 && !u.ref) throw new Error(`beta = ${u.beta} > 0 needs the reference model's parameters`);
  const mbs = (Array.isArray(batch) ? batch : [batch]).map((b) => ({ ...b }));
  for (const b of mbs) {
    if (u.numIterations > 1) b.oldLogp = batchLogprobs(u.sampler ?? tr.params, c, b, u.temperature);
    if (u.beta > 0) b.refLogp = batchLogprobs(u.ref!, c, b, u.temperature);
  }
  const out: Record<string, number>[] = [];
  for (let it = 0; it < u.numIterations; it++) {
    const take = (b: GrpoBatch) => (it === u.numIterations - 1 ? b : refParams(b));
    const lr = typeof u.lr === "number" ? u.lr : u.lr(it);
    let m: Record<string, number>;
    if (mbs.length === 1) m = await tr.update(take(mbs[0]), lr);
    else {
      const aux: Record<string, number>[] = [];
      for (const b of mbs) aux.push(await tr.accumulate(take(b)));
      const gradNorm = await tr.applyAccumulated(lr);
      m = Object.fromEntries(Object.keys(aux[0]).map((k) => [k, mean(aux.map((a) => a[k]))]));
      m.loss = aux.reduce((s, a) => s + a.loss, 0);
      m.grad_norm = gradNorm;
    }
    u.onStep?.(it, m);
    out.push(m);
  }
  return out;
}
