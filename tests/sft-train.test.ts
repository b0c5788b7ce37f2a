// SFT trainer: row building and masks, packing that computes exactly what separate rows compute
// (block-diagonal attention, position resets, MTP targets inside each example), gradient
// accumulation equal to one big batch, the loss going down, and resume = uninterrupted run.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initEngine } from "../src/engine/index.ts";
import { countBuffers } from "../src/engine/memory.ts";
import { disposeParams, scalar, toHost } from "../src/engine/params.ts";
import { tidy } from "../src/engine/scope.ts";
import { initParams } from "../src/model/init.ts";
import { tinyDeepSeek, tinyDense } from "../src/model/presets.ts";
import { lmLoss } from "../src/train/lm-loss.ts";
import { type SftExample, buildRows, makeSftBatch } from "../src/train/sft-batch.ts";
import { type SftConfig, sftEvalLoss, sftTrain } from "../src/train/sft.ts";

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), "r1lab-sft-"));
  dirs.push(d);
  return d;
};
beforeAll(async () => {
  await initEngine({ device: "cpu" });
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

// "prompt" tokens 3..5 are not targets; the "answer" is the prompt reversed, then EOS (2).
function example(prompt: number[]): SftExample {
  const ans = [...prompt].reverse().map((x) => x + 3);
  return {
    inputIds: [1, ...prompt, 9, ...ans, 2],
    lossMask: [0, ...prompt.map(() => 0), 0, ...ans.map(() => 1), 1],
  };
}
const data = [
  example([3, 4]),
  example([5, 3, 4]),
  example([4]),
  example([3, 5]),
  example([5, 5, 4]),
  example([4, 3]),
];
const small = {
  hiddenSize: 32,
  numHiddenLayers: 1,
  numAttentionHeads: 2,
  numKeyValueHeads: 2,
  headDim: 16,
  intermediateSize: 48,
};

describe("rows and batches", () => {
  it("packs greedily, truncates, drops examples without targets, and masks targets per example", async () => {
    const noTarget: SftExample = { inputIds: [1, 3, 4], lossMask: [0, 0, 0] };
    const { rows, truncated, dropped } = buildRows([data[0], data[2], noTarget, data[1]], 12, true);
    expect(dropped).toBe(1);
    expect(truncated).toBe(0);
    // 7 + 5 tokens fit in 12; the 9-token example starts a new row.
    expect(rows.map((r) => r.ids.length)).toEqual([12, 9]);
    expect(rows[0].segments).toEqual([0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
    expect(rows[0].positions).toEqual([0, 1, 2, 3, 4, 5, 6, 0, 1, 2, 3, 4]);
    expect(buildRows([data[1]], 6, false).truncated).toBe(1);
    expect(() => buildRows([{ inputIds: [1, 2], lossMask: [1] }], 8, false)).toThrow(/lossMask has 1/);

    const c = tinyDeepSeek(16, { ...small, numNextnPredictLayers: 1 });
    const { batch, targetTokens } = makeSftBatch(c, rows, 16, 0);
    const mask = await toHost(batch.lossMask);
    const tg = await toHost(batch.targets);
    const expected: number[] = [];
    // Row 0: example 0 = [1,3,4,9,7,6,2] predicts 7,6,2 from positions 3,4,5; position 6 (EOS) must
    // not predict the next example's BOS; example 2 = [1,4,9,7,2] predicts 7,2 from positions 9,10.
    for (let t = 0; t < 16; t++) expected.push([3, 4, 5, 9, 10].includes(t) ? 1 : 0);
    expect([...mask.slice(0, 16)]).toEqual(expected);
    expect([...tg.slice(3, 6)]).toEqual([7, 6, 2]);
    expect(targetTokens).toBe(5 + 4);
    // MTP depth 1: position i predicts token i+2 of the same example.
    const mtp = await toHost(batch.mtpLossMask![0]);
    expect([...mtp.slice(0, 15)].map((x, t) => (x ? t : -1)).filter((t) => t >= 0)).toEqual([2, 3, 4, 8, 9]);
    disposeParams(batch);
  });

  it("a packed row gives the same losses (CE and MTP) as the examples on their own rows", async () => {
    const c = tinyDeepSeek(16, { ...small, numNextnPredictLayers: 1, maxPositionEmbeddings: 64 });
    const params = initParams(c, 3);
    const ex = [data[1], data[0], data[3]];
    const lossOf = async (packing: boolean) => {
      const { rows } = buildRows(ex, 32, packing);
      const { batch } = makeSftBatch(c, rows, 32, 0);
      const [l, aux] = tidy(() => lmLoss(params, {}, c, batch, { mtpLambda: 1, balanceAlpha: 0 }));
      const out = { rows: rows.length, ce: await scalar(aux.ce), mtp: await scalar(aux.mtp) };
      disposeParams([l, aux, batch]);
      return out;
    };
    const packed = await lossOf(true);
    const single = await lossOf(false);
    expect(packed.rows).toBe(1);
    expect(single.rows).toBe(3);
    expect(packed.ce).toBeCloseTo(single.ce, 4);
    expect(packed.mtp).toBeCloseTo(single.mtp, 4);
    expect(packed.ce).toBeGreaterThan(1); // untrained: near ln(16)
    disposeParams(params);
  });
});

describe("sftTrain", () => {
  const c = tinyDense(16, small);
  const base: SftConfig = {
    learning_rate: 3e-3,
    max_steps: 6,
    per_device_train_batch_size: 2,
    gradient_accumulation_steps: 1,
    max_seq_length: 16,
    packing: false,
    seed: 5,
    lr_scheduler_type: "constant",
  };

  it("gradient accumulation over micro-batches equals one big batch", async () => {
    const run = async (B: number, GA: number) =>
      (
        await sftTrain({
          config: c,
          params: initParams(c, 1),
          train: data,
          cfg: { ...base, max_steps: 3, per_device_train_batch_size: B, gradient_accumulation_steps: GA },
          progress: false,
          log: () => {},
        })
      ).metrics;
    const big = await run(4, 1);
    const acc = await run(1, 4);
    expect(acc.map((m) => m.target_tokens)).toEqual(big.map((m) => m.target_tokens));
    for (let i = 0; i < 3; i++) {
      expect(acc[i].loss).toBeCloseTo(big[i].loss, 4);
      expect(acc[i].grad_norm).toBeCloseTo(big[i].grad_norm, 3);
    }
  });

  it("the loss on assistant tokens goes down (packed rows)", async () => {
    const r = await sftTrain({
      config: c,
      params: initParams(c, 2),
      train: data,
      cfg: { ...base, packing: true, max_steps: 40, max_seq_length: 24, learning_rate: 1e-2 },
      progress: false,
      log: () => {},
    });
    const first = r.metrics[0].loss;
    const last = r.metrics.slice(-5).reduce((a, m) => a + m.loss, 0) / 5;
    expect(first).toBeGreaterThan(2);
    expect(last).toBeLessThan(first * 0.5);
    disposeParams(r.params);
  });

  it("holds a constant number of engine buffers from step to step (MoE + MTP model, accumulation, eval)", async () => {
    const counter = await countBuffers("wasm");
    const ds = tinyDeepSeek(16, { ...small, numHiddenLayers: 2, numNextnPredictLayers: 1 });
    const live: number[] = [];
    const held = data.slice(0, 2);
    const r = await sftTrain({
      config: ds,
      params: initParams(ds, 6),
      train: data,
      cfg: { ...base, max_steps: 8, gradient_accumulation_steps: 2, packing: true, eval_steps: 2 },
      progress: false,
      log: () => {},
      evaluate: async (p) => ({ loss: await sftEvalLoss(ds, p, held, { maxSeqLength: 16, batchSize: 2 }) }),
      onStep: () => live.push(counter.live()),
    });
    expect(r.metrics[0].mtp).toBeGreaterThan(1);
    expect(r.metrics.filter((m) => m.eval_loss !== undefined)).toHaveLength(4);
    // Steps with and without an evaluation hold different (fixed) sets: compare like with like.
    expect([live[6], live[7]]).toEqual([live[2], live[3]]);
    disposeParams(r.params);
  });

  it("a run killed after a checkpoint resumes to the same metrics as an uninterrupted run", async () => {
    const cfg: SftConfig = { ...base, save_steps: 2, eval_steps: 3 };
    let evals = 0;
    const evaluate = async () => ({ calls: ++evals });
    const full = await sftTrain({
      config: c,
      params: initParams(c, 4),
      train: data,
      cfg,
      outDir: tmp(),
      progress: false,
      log: () => {},
    });
    const out = tmp();
    await expect(
      sftTrain({
        config: c,
        params: initParams(c, 4),
        train: data,
        cfg,
        outDir: out,
        progress: false,
        log: () => {},
        evaluate,
        onStep: (m) => {
          if (m.step === 5) throw new Error("killed");
        },
      }),
    ).rejects.toThrow("killed");
    expect(readFileSync(join(out, "sft_metrics.jsonl"), "utf8").trim().split("\n")).toHaveLength(5);
    const logs: string[] = [];
    const resumed = await sftTrain({
      config: c,
      params: initParams(c, 99),
      train: data,
      cfg,
      outDir: out,
      progress: false,
      log: (s) => logs.push(s),
      evaluate,
    });
    expect(logs.join("\n")).toMatch(/resuming at step 4/);
    // Same batches, parameters (in the same tree order) and moments: bit-identical metrics.
    const pick = (ms: typeof full.metrics) =>
      ms.map((m) => [m.step, m.loss, m.ce, m.grad_norm, m.lr, m.target_tokens]);
    expect(pick(resumed.metrics)).toEqual(pick(full.metrics));
    expect(resumed.metrics.filter((m) => m.eval_calls !== undefined).map((m) => m.step)).toEqual([3, 6]);
    const onDisk = readFileSync(join(out, "sft_metrics.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l).step);
    expect(onDisk).toEqual([1, 2, 3, 4, 5, 6]);
    await expect(
      sftTrain({
        config: c,
        params: initParams(c, 4),
        train: data,
        cfg: { ...cfg, learning_rate: 1 },
        outDir: out,
        progress: false,
        log: () => {},
      }),
    ).rejects.toThrow(/learning_rate/);
    disposeParams([full.params, resumed.params]);
  });
});
