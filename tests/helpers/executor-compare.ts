// What the executor tests share (ort-train.test.ts: ORT against jax-js; ort-webgpu.test.ts: the
// WebGPU EP against the CPU EP): the two tiny models every comparison runs on, random LM batches,
// the relative difference of two tensors, and the two whole-program comparisons, a few Trainer
// steps and greedy generation, each run once per side with `use(side)` switching executor or device.
import { expect } from "vitest";
import { type Array as JArray, tree, valueAndGrad } from "../../src/engine/jax.ts";
import type { DeviceTensor } from "../../src/engine/ort/device-tensors.ts";
import { type Params, refParams, toHost } from "../../src/engine/params.ts";
import { Rng } from "../../src/engine/rng.ts";
import { generate } from "../../src/generate/generate.ts";
import type { ModelConfig } from "../../src/model/config.ts";
import { initParams } from "../../src/model/init.ts";
import { tinyDeepSeek, tinyDense } from "../../src/model/presets.ts";
import { makeLmBatch } from "../../src/train/batch.ts";
import { type LmBatch, lmLoss } from "../../src/train/lm-loss.ts";
import { Trainer } from "../../src/train/trainer.ts";

/** LM loss weights of the comparisons (MTP and the balance loss switched on). */
export const LOSS_WEIGHTS = { mtpLambda: 0.3, balanceAlpha: 1e-4 };

/** A dense model and DeepSeek-V3 in miniature (MLA + DeepSeekMoE + MTP), hidden size `h`, vocabulary `V`. */
export function comparedModels(V: number, h: number, denseLayers: number): [string, ModelConfig][] {
  const intermediateSize = (h * 3) / 2;
  return [
    ["dense", tinyDense(V, { hiddenSize: h, intermediateSize, numHiddenLayers: denseLayers, headDim: 16 })],
    [
      "MLA+MoE+MTP",
      tinyDeepSeek(V, { hiddenSize: h, numHiddenLayers: 2, moeIntermediateSize: h / 2, intermediateSize }),
    ],
  ];
}

/** `rows` random sequences of `len` tokens (loss from position 2) as an LM batch of length len - 1. */
export function randomBatch(
  c: ModelConfig,
  seed: number,
  stream: string,
  rows: number,
  len: number,
): LmBatch {
  const rng = Rng.stream(seed, stream);
  const seqs = Array.from({ length: rows }, () => ({
    ids: Array.from({ length: len }, () => rng.int(c.vocabSize)),
    lossStart: 2,
  }));
  return makeLmBatch(c, seqs, len - 1, 0);
}

/** A model's parameters as the Trainer splits them: trained tensors and the routers' bias buffers. */
export function splitBuffers(p: Params): { trainable: Params; buffers: Params } {
  const trainable: Params = {};
  const buffers: Params = {};
  for (const [k, v] of Object.entries(p))
    (k.endsWith("e_score_correction_bias") ? buffers : trainable)[k] = v;
  return { trainable, buffers };
}

/**
 * One training step's program: the value and gradient of the LM loss (with aux values) over the
 * trained tensors, for a model initialised with seed 0, and the arguments to call it with.
 */
export function lossAndGrad(c: ModelConfig, batch: LmBatch) {
  const { trainable, buffers } = splitBuffers(initParams(c, 0, { withMtp: c.numNextnPredictLayers > 0 }));
  const f = valueAndGrad(
    (t: Params, bu: Params, bb: LmBatch) => lmLoss(t, bu, c, bb, LOSS_WEIGHTS) as never,
    {
      hasAux: true,
    },
  ) as (...a: unknown[]) => unknown;
  return { f, args: () => [refParams(trainable), refParams(buffers), refParams(batch)] };
}

/** max |a - b| / max |b| over a tensor. */
export function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / (den || 1);
}

/** Every leaf of a pytree on the host. */
export async function hostLeaves(x: unknown): Promise<Float32Array[]> {
  const [leaves] = tree.flatten(x as never) as [(JArray | DeviceTensor)[], unknown];
  const out: Float32Array[] = [];
  for (const l of leaves) out.push(Float32Array.from(await toHost(l)));
  return out;
}

/** `steps` AdamW steps (weight decay 0.01, lr 1e-3, router-bias update with MTP) on `batchAt(10 + step)`. */
export async function trainSteps(
  c: ModelConfig,
  steps: number,
  batchAt: (seed: number) => LmBatch,
): Promise<{ tr: Trainer<LmBatch>; logs: Record<string, number>[] }> {
  const withMtp = c.numNextnPredictLayers > 0;
  const tr = new Trainer<LmBatch>({
    model: c,
    params: initParams(c, 0, { withMtp }),
    loss: (t, b, batch) => lmLoss(t, b, c, batch, LOSS_WEIGHTS),
    optimizer: { weightDecay: 0.01 },
    biasUpdateGamma: withMtp ? 1e-3 : 0,
    withMtp,
  });
  const logs: Record<string, number>[] = [];
  for (let s = 0; s < steps; s++) logs.push(await tr.update(batchAt(10 + s), 1e-3));
  return { tr, logs };
}

/** Every tensor of a parameter tree on the host. */
export async function hostParams(p: Params): Promise<Record<string, Float32Array>> {
  const out: Record<string, Float32Array> = {};
  for (const [k, v] of Object.entries(p)) out[k] = Float32Array.from(await toHost(v));
  return out;
}

type Trained = { logs: Record<string, number>[]; params: Record<string, Float32Array> };

/**
 * Two sides' training agree: the same metrics to 4 decimals at every step, and every parameter to
 * 5e-4 of its tensor's scale, except the attention key biases: their exact gradient is 0 (a key
 * bias shifts every score of a query alike, which softmax ignores), so Adam's m / sqrt(v) turns
 * rounding noise into steps of size ~lr and they agree only to `keyBiasTol` in absolute terms.
 * Elsewhere Adam's normalisation also magnifies last-bit differences of small gradients (other
 * summation orders, other sigmoids), hence 5e-4 of the scale rather than one step's 1e-5.
 */
export function expectSameTraining(a: Trained, b: Trained, keyBiasTol: number): void {
  expect(a.logs.length).toBe(b.logs.length);
  for (let s = 0; s < b.logs.length; s++) {
    expect(Object.keys(a.logs[s]).sort()).toEqual(Object.keys(b.logs[s]).sort());
    for (const k of Object.keys(b.logs[s])) expect(a.logs[s][k], k).toBeCloseTo(b.logs[s][k], 4);
  }
  for (const k of Object.keys(b.params)) {
    if (k.endsWith("k_proj.bias"))
      expect(Math.max(...a.params[k].map((x, i) => Math.abs(x - b.params[k][i]))), k).toBeLessThanOrEqual(
        keyBiasTol,
      );
    else expect(relDiff(a.params[k], b.params[k]), k).toBeLessThan(5e-4);
  }
}

/**
 * Greedy generation from random prompts of the given lengths gives the same tokens on both sides
 * (`use` switches to a side before it runs), and all `maxNewTokens` of them for every prompt.
 */
export async function expectSameGreedy(
  c: ModelConfig,
  promptLengths: number[],
  maxNewTokens: number,
  use: (side: "a" | "b") => void,
  /** Batch rows as indexes into the prompts (repeats share a prefill on ORT); default one row each. */
  rows?: number[],
): Promise<void> {
  const p = initParams(c, 3, { withMtp: false });
  const rng = Rng.stream(4, "prompts");
  const distinct = promptLengths.map((n) => Array.from({ length: n }, () => rng.int(c.vocabSize)));
  const prompts = rows ? rows.map((i) => distinct[i]) : distinct;
  const opts = { maxNewTokens, eosTokenIds: [], seed: 0, temperature: 0, topP: 1, topK: 0 };
  use("a");
  const a = await generate(p, { ...c }, prompts, opts);
  use("b");
  const b = await generate(p, { ...c }, prompts, opts);
  expect(a.ids).toEqual(b.ids);
  expect(a.ids.flat().length).toBe(prompts.length * maxNewTokens);
  // Greedy rows of one prompt are one sequence.
  for (const [r, i] of (rows ?? []).entries()) expect(a.ids[r]).toEqual(a.ids[rows?.indexOf(i) ?? -1]);
}
