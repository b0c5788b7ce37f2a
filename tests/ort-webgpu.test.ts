// The ORT executor on onnxruntime's WebGPU execution provider (`--device webgpu --executor ort`)
// against its CPU execution provider, on a GPU or on Mesa's llvmpipe (CI): one step's loss and
// every gradient of a dense and an MLA+MoE+MTP model, a few Trainer steps with the parameters and
// AdamW moments kept on the device, and greedy generation token for token. Shapes are tiny: on
// llvmpipe every new WebGPU kernel is an LLVM compile. Skipped, with the reason, when onnxruntime
// finds no WebGPU adapter.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile } from "../src/engine/compile.ts";
import { initEngine } from "../src/engine/device.ts";
import { setExecutor, setOrtDevice } from "../src/engine/executor.ts";
import { DeviceTensor } from "../src/engine/ort/device-tensors.ts";
import * as o from "../src/engine/ops.ts";
import { type Params, toHost } from "../src/engine/params.ts";
import type { ModelConfig } from "../src/model/config.ts";
import type { LmBatch } from "../src/train/lm-loss.ts";
import {
  comparedModels,
  expectSameGreedy,
  expectSameTraining,
  hostLeaves,
  hostParams,
  lossAndGrad,
  randomBatch,
  relDiff,
  trainSteps,
} from "./helpers/executor-compare.ts";
import { webgpuUnavailable } from "./helpers/webgpu-ep.ts";

beforeAll(async () => {
  await initEngine({ device: "cpu", executor: "ort" });
});
afterAll(() => {
  setExecutor("ort");
  setOrtDevice("cpu");
});

const MODELS = comparedModels(32, 32, 1);
const batchOf = (c: ModelConfig, seed: number): LmBatch => randomBatch(c, seed, "ort-webgpu", 2, 9);

const unavailable = webgpuUnavailable();
if (unavailable)
  console.warn(`[ort-webgpu] skipped: onnxruntime's WebGPU EP cannot start here: ${unavailable}`);
// Both models run on llvmpipe too: the MLA+MoE+MTP model's cases take 6-18 s there (December 6;
// they took minutes before MoE dispatch ran only the chosen experts, and were opt-in then).

describe.skipIf(unavailable !== null).each(MODELS)("ORT WebGPU EP on the %s model", (_name, c) => {
  it("one step: loss, aux values and every gradient match the CPU EP (<= 1e-4 relative)", {
    timeout: 300_000,
  }, async () => {
    const { f, args } = lossAndGrad(c, batchOf(c, 1));
    const run = (device: "cpu" | "webgpu") => {
      const g = compile(f, {
        executor: "ort",
        device,
        deviceOutputs: [1],
        placement: true,
      });
      return [g(...args()), g] as const;
    };
    const [gpuOut, gpuFn] = run("webgpu");
    // The gradients stayed on the device; the loss and aux values came back to the host.
    const grads = (gpuOut as [unknown, Params])[1];
    expect(Object.values(grads).every((g) => g instanceof DeviceTensor)).toBe(true);
    const gpu = await hostLeaves(gpuOut);
    const cpu = await hostLeaves(run("cpu")[0]);
    expect(gpu.length).toBe(cpu.length);
    expect(gpu.length).toBeGreaterThan(10);
    for (let i = 0; i < gpu.length; i++) expect(relDiff(gpu[i], cpu[i]), `leaf ${i}`).toBeLessThan(1e-4);
    // Nodes onnxruntime could not place on the WebGPU EP are counted (R1LAB_ORT_DEBUG prints them).
    const pl = (gpuFn as unknown as { stats: unknown }).stats as {
      placement?: { byProvider: Record<string, number> };
    };
    expect(pl.placement?.byProvider.WebGpuExecutionProvider ?? 0).toBeGreaterThan(100);
  });

  it("Trainer: 3 AdamW steps on the device match the CPU EP; parameters and moments stay there", {
    timeout: 300_000,
  }, async () => {
    const runTrainer = async (device: "cpu" | "webgpu") => {
      setOrtDevice(device);
      const { tr, logs } = await trainSteps(c, 3, (seed) => batchOf(c, seed));
      const resident = [...Object.values(tr.trainable), ...Object.values(tr.optState.m)].every(
        (t) => (t as unknown) instanceof DeviceTensor,
      );
      const params = await hostParams(tr.params);
      // Eager code may use a device tensor too (ops.ts reads it back first).
      const [k0, w0] = Object.entries(tr.trainable)[0];
      const eagerSum = (await toHost(o.sum(w0)))[0];
      setOrtDevice("cpu");
      return { logs, params, resident, eagerSum, hostSum: params[k0].reduce((a, b) => a + b, 0) };
    };
    const g = await runTrainer("webgpu");
    const cpu = await runTrainer("cpu");
    expect(g.resident).toBe(true);
    expect(g.eagerSum).toBeCloseTo(g.hostSum, 3);
    expect(cpu.resident).toBe(false);
    expectSameTraining(g, cpu, 6e-3);
  });

  it("greedy generation is identical token for token, with the KV cache on the device", {
    timeout: 300_000,
  }, async () => {
    await expectSameGreedy(c, [4, 2], 4, (side) => setOrtDevice(side === "a" ? "webgpu" : "cpu"));
    setOrtDevice("cpu");
  });
});
