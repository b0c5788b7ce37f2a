// State outside jax-js's heap on the ORT executor (src/engine/resident.ts): parameters from init and
// from a checkpoint, AdamW moments, gradients and the KV cache are resident host buffers, and no
// jax-js buffer of their size is ever allocated (counted by a hook on jax-js's backend); AdamW
// updates them in place (donation); generation writes only the new cache rows per token; and the
// results equal the jax executor's (training and greedy generation with batch shrinking).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initEngine } from "../src/engine/device.ts";
import { setExecutor } from "../src/engine/executor.ts";
import { type BufferCounter, countBuffers } from "../src/engine/memory.ts";
import { AdamW } from "../src/engine/optim.ts";
import { type Params, toHost } from "../src/engine/params.ts";
import { ResidentTensor, isResident, residentStats } from "../src/engine/resident.ts";
import { Rng } from "../src/engine/rng.ts";
import { generate } from "../src/generate/generate.ts";
import { hostCache, keepRows, writeRows } from "../src/generate/host-cache.ts";
import { loadModel, saveModel } from "../src/hf/checkpoint.ts";
import type { ModelConfig } from "../src/model/config.ts";
import { initParams } from "../src/model/init.ts";
import { tinyDeepSeek, tinyDense } from "../src/model/presets.ts";
import { makeLmBatch } from "../src/train/batch.ts";
import { type LmBatch, lmLoss } from "../src/train/lm-loss.ts";
import { Trainer } from "../src/train/trainer.ts";

let counter: BufferCounter;
beforeAll(async () => {
  await initEngine({ device: "cpu", executor: "ort" });
  counter = await countBuffers("wasm");
});
afterAll(() => setExecutor("ort"));

// A vocabulary large enough that the embedding (512 x 64 floats = 128 KiB) is larger than every
// per-step jax-js array: ids, masks and RoPE tables of a 3 x 12 batch, and the largest, the
// trace's zero tangent of the loss's one-hot targets, [3, 12, 512] (72 KiB).
const V = 512;
const dense = tinyDense(V, { hiddenSize: 64, intermediateSize: 96, numHiddenLayers: 2, headDim: 16 });
const deepseek = tinyDeepSeek(V, {
  hiddenSize: 64,
  numHiddenLayers: 2,
  moeIntermediateSize: 32,
  intermediateSize: 96,
});
const EMBED_BYTES = V * 64 * 4;

function batchOf(c: ModelConfig, seed: number): LmBatch {
  const rng = Rng.stream(seed, "ort-resident");
  const seqs = Array.from({ length: 3 }, () => ({
    ids: Array.from({ length: 13 }, () => rng.int(V)),
    lossStart: 2,
  }));
  return makeLmBatch(c, seqs, 12, 0);
}

const allResident = (p: Params) => Object.values(p).every((a) => isResident(a));

describe("resident state on the ORT executor", () => {
  it("init, Trainer (params, moments, gradient sums) and AdamW never allocate a jax-js buffer of a weight's size", async () => {
    setExecutor("ort");
    const p = initParams(dense, 0, { withMtp: false });
    expect(allResident(p)).toBe(true);
    counter.resetLargest();
    const tr = new Trainer<LmBatch>({
      model: dense,
      params: p,
      loss: (t, b, batch) => lmLoss(t, b, dense, batch, { mtpLambda: 0, balanceAlpha: 0 }),
    });
    const embed = tr.trainable["model.embed_tokens.weight"] as unknown as ResidentTensor;
    const buffer = embed.host;
    await tr.update(batchOf(dense, 1), 1e-3);
    await tr.accumulate(batchOf(dense, 2));
    await tr.accumulate(batchOf(dense, 3));
    await tr.applyAccumulated(1e-3);
    expect(allResident(tr.trainable) && allResident(tr.optState.m) && allResident(tr.optState.v)).toBe(true);
    // AdamW wrote the new embedding into the old buffer (donation), and it changed.
    const after = tr.trainable["model.embed_tokens.weight"] as unknown as ResidentTensor;
    expect(after.host).toBe(buffer);
    expect(after.host.buffer).toBe(buffer.buffer);
    expect(counter.largest()).toBeLessThan(EMBED_BYTES);
  });

  it("the host AdamW update (real-size trees) equals the one-program update", async () => {
    setExecutor("ort");
    const run = async (host: boolean) => {
      const saved = AdamW.hostUpdateBytes;
      if (host) AdamW.hostUpdateBytes = 0;
      try {
        const tr = new Trainer<LmBatch>({
          model: dense,
          params: initParams(dense, 0, { withMtp: false }),
          loss: (t, b, batch) => lmLoss(t, b, dense, batch, { mtpLambda: 0, balanceAlpha: 0 }),
          optimizer: { weightDecay: 0.01, maxGradNorm: 0.5 },
        });
        const logs = [await tr.update(batchOf(dense, 1), 1e-3), await tr.update(batchOf(dense, 2), 1e-3)];
        return { logs, embed: Float32Array.from(await toHost(tr.trainable["model.embed_tokens.weight"])) };
      } finally {
        AdamW.hostUpdateBytes = saved;
      }
    };
    const a = await run(false);
    const b = await run(true);
    for (let s = 0; s < 2; s++) expect(b.logs[s].grad_norm).toBeCloseTo(a.logs[s].grad_norm, 4);
    let worst = 0;
    for (let i = 0; i < a.embed.length; i++) worst = Math.max(worst, Math.abs(a.embed[i] - b.embed[i]));
    expect(worst).toBeLessThan(1e-6);
  });

  it("a loaded checkpoint is resident without passing through jax-js", async () => {
    const dir = mkdtempSync(join(tmpdir(), "r1lab-resident-"));
    try {
      const p = initParams(dense, 5, { withMtp: false });
      await saveModel(join(dir, "m"), { config: dense, params: p }, { dtype: "bfloat16" });
      counter.resetLargest();
      const m = await loadModel(join(dir, "m"));
      expect(allResident(m.params)).toBe(true);
      expect(counter.largest()).toBeLessThan(EMBED_BYTES / 4);
      // bf16 round trip: within bf16's relative precision of the saved weights.
      const a = await toHost(p["model.layers.0.mlp.up_proj.weight"]);
      const b = await toHost(m.params["model.layers.0.mlp.up_proj.weight"]);
      for (let i = 0; i < a.length; i += 97)
        expect(Math.abs(a[i] - b[i])).toBeLessThanOrEqual(Math.abs(a[i]) / 128);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("host cache: rows land in their slots; dropping batch rows compacts in place", () => {
    const c = { ...dense, numHiddenLayers: 1, numKeyValueHeads: 1, headDim: 2 };
    const [layer] = hostCache(c, 3, 4);
    // rows [B=3, Hkv=1, T=2, d=2] with value 100*b + 10*t + j
    const rows = new Float32Array(12).map(
      (_, i) => 100 * Math.floor(i / 4) + 10 * Math.floor((i % 4) / 2) + (i % 2),
    );
    const r = new ResidentTensor(rows, [3, 1, 2, 2], "float32");
    writeRows([layer], [{ k: r, v: r } as never], 1);
    expect(Array.from(layer.k.host.subarray(0, 8))).toEqual([0, 0, 0, 1, 10, 11, 0, 0]);
    expect(Array.from(layer.k.host.subarray(16, 24))).toEqual([0, 0, 200, 201, 210, 211, 0, 0]);
    const [kept] = keepRows([layer], [2]);
    expect(kept.k.shape).toEqual([1, 1, 4, 2]);
    expect(Array.from(kept.k.host)).toEqual([0, 0, 200, 201, 210, 211, 0, 0]);
    expect(kept.k.host.buffer).toBe(layer.k.host.buffer);
  });

  it.each([
    ["dense", dense],
    ["MLA+MoE", deepseek],
  ] as [string, ModelConfig][])(
    "%s: greedy generation with early stops equals jax's; a decode step moves rows, not the cache",
    async (_n, c) => {
      const p = initParams(c, 3, { withMtp: false });
      const rng = Rng.stream(4, "prompts");
      const prompts = [5, 3, 7, 4].map((n) => Array.from({ length: n }, () => rng.int(V)));
      // Rows 0-2 stop early, so the batch shrinks to the one running row (keepRows).
      const opts = {
        maxNewTokens: 16,
        eosTokenIds: [],
        seed: 0,
        temperature: 0,
        topP: 1,
        topK: 0,
        shouldStop: (row: number, ids: number[]) => row < 3 && ids.length >= 2 + row,
      };
      setExecutor("ort");
      await generate(p, c, prompts, opts); // compile first
      const before = residentStats();
      const o = await generate(p, c, prompts, opts);
      const moved = residentStats().bytes - before.bytes;
      setExecutor("jax");
      const j = await generate(p, c, prompts, opts);
      setExecutor("ort");
      expect(o.ids).toEqual(j.ids);
      expect(o.ids[3].length).toBe(16);
      // The cache is allocated once; 15 decode steps returning whole caches would move 15x it.
      const cacheBytes = hostCache(c, 4, 7 + 16).reduce(
        (n, l) => n + Object.values(l).reduce((m, t) => m + t.host.byteLength, 0),
        0,
      );
      const logitsBytes = 4 * V * 4 * 17;
      expect(moved).toBeLessThan(2 * cacheBytes + logitsBytes);
    },
  );
});
