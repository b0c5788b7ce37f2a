// The ORT executor against jax-js on whole programs, for a dense model and for DeepSeek-V3 in
// miniature (MLA + DeepSeekMoE + MTP): loss and every gradient of one step, the Trainer's losses,
// gradient norms and parameters after several AdamW steps (with the router-bias update), and
// greedy generation token for token.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile } from "../src/engine/compile.ts";
import { initEngine } from "../src/engine/device.ts";
import { setExecutor } from "../src/engine/executor.ts";
import { type Array as JArray, tree, valueAndGrad } from "../src/engine/jax.ts";
import { type Params, refParams, toHost } from "../src/engine/params.ts";
import { Rng } from "../src/engine/rng.ts";
import { generate } from "../src/generate/generate.ts";
import type { ModelConfig } from "../src/model/config.ts";
import { initParams } from "../src/model/init.ts";
import { tinyDeepSeek, tinyDense } from "../src/model/presets.ts";
import { makeLmBatch } from "../src/train/batch.ts";
import { type LmBatch, lmLoss } from "../src/train/lm-loss.ts";
import { Trainer } from "../src/train/trainer.ts";

beforeAll(async () => {
  await initEngine({ device: "cpu", executor: "ort" });
});
afterAll(() => setExecutor("ort"));

const V = 48;
const MODELS: [string, ModelConfig][] = [
  ["dense", tinyDense(V, { hiddenSize: 64, intermediateSize: 96, numHiddenLayers: 2, headDim: 16 })],
  [
    "MLA+MoE+MTP",
    tinyDeepSeek(V, { hiddenSize: 64, numHiddenLayers: 2, moeIntermediateSize: 32, intermediateSize: 96 }),
  ],
];
const W = { mtpLambda: 0.3, balanceAlpha: 1e-4 };

function batchOf(c: ModelConfig, seed: number): LmBatch {
  const rng = Rng.stream(seed, "ort-train");
  const seqs = Array.from({ length: 3 }, () => ({
    ids: Array.from({ length: 13 }, () => rng.int(V)),
    lossStart: 2,
  }));
  return makeLmBatch(c, seqs, 12, 0);
}

/** max |a - b| / max |b| over a tensor. */
function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / (den || 1);
}

async function hostLeaves(x: unknown): Promise<Float32Array[]> {
  const [leaves] = tree.flatten(x as never) as [JArray[], unknown];
  const out: Float32Array[] = [];
  for (const l of leaves) out.push(Float32Array.from(await l.data()));
  return out;
}

describe.each(MODELS)("ORT executor on the %s model", (_name, c) => {
  const withMtp = c.numNextnPredictLayers > 0;

  it("one step: loss, aux values and every gradient match jax-js (<= 1e-5 relative)", async () => {
    const p = initParams(c, 0, { withMtp });
    const { trainable, buffers } = Object.entries(p).reduce(
      (acc, [k, v]) => {
        (k.endsWith("e_score_correction_bias") ? acc.buffers : acc.trainable)[k] = v;
        return acc;
      },
      { trainable: {} as Params, buffers: {} as Params },
    );
    const b = batchOf(c, 1);
    const f = valueAndGrad((t: Params, bu: Params, bb: LmBatch) => lmLoss(t, bu, c, bb, W) as never, {
      hasAux: true,
    });
    const run = (executor: "ort" | "jax") =>
      compile(f as (...a: unknown[]) => unknown, { executor })(
        refParams(trainable),
        refParams(buffers),
        refParams(b),
      );
    const o = await hostLeaves(run("ort"));
    const j = await hostLeaves(run("jax"));
    expect(o.length).toBe(j.length);
    expect(o.length).toBeGreaterThan(10);
    for (let i = 0; i < o.length; i++) expect(relDiff(o[i], j[i])).toBeLessThan(1e-5);
  });

  it("Trainer: losses, grad norms and parameters after 4 AdamW steps match jax-js", async () => {
    const runTrainer = async (executor: "ort" | "jax") => {
      setExecutor(executor);
      const tr = new Trainer<LmBatch>({
        model: c,
        params: initParams(c, 0, { withMtp }),
        loss: (t, b, batch) => lmLoss(t, b, c, batch, W),
        optimizer: { weightDecay: 0.01 },
        biasUpdateGamma: withMtp ? 1e-3 : 0,
        withMtp,
      });
      const logs: Record<string, number>[] = [];
      for (let s = 0; s < 4; s++) logs.push(await tr.update(batchOf(c, 10 + s), 1e-3));
      const params: Record<string, Float32Array> = {};
      for (const [k, v] of Object.entries(tr.params)) params[k] = Float32Array.from(await toHost(v));
      return { logs, params };
    };
    const o = await runTrainer("ort");
    const j = await runTrainer("jax");
    setExecutor("ort");
    for (let s = 0; s < 4; s++) {
      expect(Object.keys(o.logs[s]).sort()).toEqual(Object.keys(j.logs[s]).sort());
      for (const k of Object.keys(j.logs[s])) expect(o.logs[s][k]).toBeCloseTo(j.logs[s][k], 4);
    }
    for (const k of Object.keys(j.params)) {
      // A key bias shifts every score of a query by the same amount, which softmax ignores: its
      // exact gradient is 0, so Adam's m / sqrt(v) turns rounding noise into steps of size ~lr.
      // Both executors then agree only to within those 4 steps. Elsewhere Adam's normalisation
      // also magnifies last-bit differences of small gradients (Sigmoid vs exp-based sigmoid,
      // other summation orders), hence 5e-4 of the tensor's scale rather than the step's 1e-5.
      if (k.endsWith("k_proj.bias"))
        expect(Math.max(...o.params[k].map((x, i) => Math.abs(x - j.params[k][i]))), k).toBeLessThanOrEqual(
          8e-3,
        );
      else expect(relDiff(o.params[k], j.params[k]), k).toBeLessThan(5e-4);
    }
  });

  it("greedy generation is identical token for token", async () => {
    const p = initParams(c, 3, { withMtp: false });
    const rng = Rng.stream(4, "prompts");
    const prompts = [5, 3, 7].map((n) => Array.from({ length: n }, () => rng.int(V)));
    const opts = { maxNewTokens: 10, eosTokenIds: [], seed: 0, temperature: 0, topP: 1, topK: 0 };
    setExecutor("ort");
    const o = await generate(p, { ...c }, prompts, opts);
    setExecutor("jax");
    const j = await generate(p, { ...c }, prompts, opts);
    setExecutor("ort");
    expect(o.ids).toEqual(j.ids);
    expect(o.ids.flat().length).toBe(30);
  });
});
