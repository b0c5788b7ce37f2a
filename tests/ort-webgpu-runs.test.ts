// The runs' own code paths on onnxruntime's WebGPU execution provider (`--device webgpu`, where
// `ort` is the default executor) against its CPU execution provider, in one process with the same
// seeds:
// - MoE dispatch's weight gradients when some experts get no token (`r1lab zero` crashed there:
//   the WebGPU EP's MatMul over an empty run segfaulted);
// - SFT with gradient accumulation and its eval loss (`sft`, `distill`'s student, `r1`'s SFT stages);
// - a GRPO run with beta > 0 and num_iterations 2 (rollouts, pi_ref and pi_old log-probs, the
//   update; `grpo`, `r1`, `zero`);
// - the serve batch engine, its KV cache on the device: a request joining a running batch, a cache
//   that grows and is compacted, greedy and seeded sampling (`serve`; `eval`'s native backend
//   samples through generate(), as the GRPO rollouts do);
// - `r1lab sft --device webgpu` as a child process without --executor or R1LAB_EXECUTOR: the
//   default executor there is ort.
// tests/ort-webgpu.test.ts covers the Trainer and generate() themselves. Tiny models and few steps:
// on llvmpipe every new WebGPU kernel is an LLVM compile. Skipped, with the reason, when
// onnxruntime finds no WebGPU adapter.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveGrpoConfig } from "../src/cli/grpo.ts";
import { compile } from "../src/engine/compile.ts";
import { initEngine } from "../src/engine/device.ts";
import { type OrtDevice, setOrtDevice } from "../src/engine/executor.ts";
import { isDeviceTensor } from "../src/engine/ort/device-tensors.ts";
import { type Array as JArray, numpy as np, tree, valueAndGrad } from "../src/engine/jax.ts";
import * as o from "../src/engine/ops.ts";
import { disposeParams, toHost } from "../src/engine/params.ts";
import { tidy } from "../src/engine/scope.ts";
import { generate } from "../src/generate/generate.ts";
import { GREEDY, type SamplingParams } from "../src/generate/sampling.ts";
import { loadModel } from "../src/hf/checkpoint.ts";
import { dispatchExperts } from "../src/model/moe-dispatch.ts";
import { frozenCopy } from "../src/rl/grpo-update.ts";
import { runGrpo } from "../src/runs/grpo.ts";
import { BatchEngine, type Job } from "../src/serve/batch-engine.ts";
import { readSftRecords, recordsToExamples } from "../src/train/sft-loader.ts";
import { sftEvalLoss, sftTrain } from "../src/train/sft.ts";
import { webgpuUnavailable } from "./helpers/webgpu-ep.ts";

const ROOT = join(import.meta.dirname, "..");
const FIX = join(ROOT, "tests", "fixtures", "hf-reference");
const tmp = mkdtempSync(join(tmpdir(), "r1lab-ort-webgpu-runs-"));

const unavailable = webgpuUnavailable();
if (unavailable)
  console.warn(`[ort-webgpu-runs] skipped: onnxruntime's WebGPU EP cannot start here: ${unavailable}`);

beforeAll(async () => {
  await initEngine({ device: "cpu", executor: "ort" });
});
afterAll(() => {
  setOrtDevice("cpu");
  rmSync(tmp, { recursive: true, force: true });
});

/** Run `f` with the ort executor's compiled steps on `device`'s execution provider. */
async function on<T>(device: OrtDevice, f: () => Promise<T>): Promise<T> {
  setOrtDevice(device);
  try {
    return await f();
  } finally {
    setOrtDevice("cpu");
  }
}

const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-3);

describe.skipIf(unavailable !== null)("runs on onnxruntime's WebGPU EP equal the CPU EP", () => {
  it("MoE dispatch with experts that get no token: loss and every gradient (<= 1e-5 relative)", async () => {
    const [N, E, D, F, K] = [8, 6, 8, 5, 2];
    const f32 = (shape: number[], seed: number) =>
      np.array(
        Float32Array.from(
          { length: shape.reduce((a, b) => a * b, 1) },
          (_, i) => Math.sin(i * 1.37 + seed) * 0.8,
        ),
        { shape } as never,
      ) as JArray;
    // Every token on experts 3 and 1: the other four runs are empty.
    const idx = () =>
      np.array(
        Int32Array.from({ length: N * K }, (_, i) => (i % 2 ? 1 : 3)),
        {
          shape: [N, K],
          dtype: "int32",
        } as never,
      ) as JArray;
    const args = () => [
      f32([N, D], 1),
      idx(),
      f32([N, K], 2),
      { gate: f32([E, F, D], 3), up: f32([E, F, D], 4), down: f32([E, D, F], 5) },
    ];
    const loss = (...a: unknown[]) =>
      tidy(() => {
        const y = (dispatchExperts as (...x: unknown[]) => o.Arr)(...a);
        return o.sum(o.mul(y, y));
      });
    const grads = (...a: unknown[]) => valueAndGrad(loss, { argnums: [0, 2, 3] } as never)(...(a as never[]));
    const run = async (device: OrtDevice) => {
      const out = compile(grads, { executor: "ort", device })(...args());
      const [leaves] = tree.flatten(out as never) as [o.Arr[], unknown];
      return Promise.all(leaves.map((l) => toHost(l)));
    };
    const cpu = await run("cpu");
    const gpu = await run("webgpu");
    expect(gpu.length).toBe(cpu.length);
    for (const [i, g] of gpu.entries()) {
      const scale = Math.max(...cpu[i].map(Math.abs));
      const diff = Math.max(...g.map((x, j) => Math.abs(x - cpu[i][j])));
      expect(diff / scale, `output ${i}`).toBeLessThan(1e-5);
    }
    // Expert 0 saw no token: its gate weights' gradient is exactly zero on the GPU too.
    const wGate = gpu[gpu.length - 3];
    expect(wGate.subarray(0, F * D).every((v) => v === 0)).toBe(true);
  });

  it("SFT on tiny-qwen2 (4 steps, 2 micro-batches each): losses, grad norms and eval loss", {
    timeout: 180_000,
  }, async () => {
    const data = join(tmp, "sft.jsonl");
    const rows = Array.from({ length: 12 }, (_, i) => {
      const [a, b] = [((i * 7) % 9) + 1, ((i * 5) % 9) + 1];
      return { prompt: `${a}+${b}=`, completion: ` ${a + b}` };
    });
    writeFileSync(data, `${rows.map((r) => JSON.stringify(r)).join("\n")}\n`);
    const cfg = {
      learning_rate: 3e-3,
      max_steps: 4,
      per_device_train_batch_size: 2,
      gradient_accumulation_steps: 2,
      max_seq_length: 32,
      packing: false,
      seed: 1,
    };
    const sft = async () => {
      const m = await loadModel(join(FIX, "tiny-qwen2")); // a fresh config: compiled steps are per config
      const train = recordsToExamples(m.tokenizer!, await readSftRecords(data));
      const { params, metrics } = await sftTrain({
        config: m.config,
        params: m.params,
        train,
        cfg,
        progress: false,
      });
      const onDevice = Object.values(params).some(isDeviceTensor);
      const evalLoss = await sftEvalLoss(m.config, params, train.slice(0, 4), {
        maxSeqLength: 32,
        batchSize: 2,
      });
      disposeParams(params);
      return { metrics, evalLoss, onDevice };
    };
    const cpu = await on("cpu", sft);
    const gpu = await on("webgpu", sft);
    expect(gpu.onDevice).toBe(true); // the optimizer kept the parameters on the GPU
    expect(cpu.onDevice).toBe(false);
    expect(gpu.metrics).toHaveLength(4);
    for (const k of ["loss", "grad_norm"] as const)
      for (const [i, g] of gpu.metrics.entries())
        expect(rel(g[k], cpu.metrics[i][k]), `${k}[${i}]`).toBeLessThan(1e-4);
    expect(cpu.metrics.at(-1)!.loss).toBeLessThan(cpu.metrics[0].loss); // it trained
    expect(rel(gpu.evalLoss, cpu.evalLoss)).toBeLessThan(1e-4);
  });

  it("GRPO on tiny-qwen2 (full fine-tuning, beta 0.1, num_iterations 2): rewards, loss, KL, grad norms", {
    timeout: 240_000,
  }, async () => {
    const data = join(tmp, "gsm.jsonl");
    const qa = [
      ["Tom has 3 apples and buys 2 more. How many?", "5"],
      ["What is 6 plus 6?", "12"],
    ];
    writeFileSync(data, qa.map(([q, a]) => JSON.stringify({ question: q, answer: `#### ${a}` })).join("\n"));
    const grpo = async (device: OrtDevice) => {
      const out = join(tmp, `grpo-${device}`);
      await runGrpo(
        resolveGrpoConfig({
          model: join(FIX, "tiny-qwen2"),
          data,
          task: "gsm8k",
          out,
          reward_funcs: "accuracy,language_consistency",
          max_steps: 2,
          per_device_train_batch_size: 4,
          num_generations: 4,
          max_completion_length: 6,
          max_prompt_length: 24,
          learning_rate: 0.01,
          beta: 0.1,
          num_iterations: 2,
          loss_type: "grpo",
          logging_steps: 1,
        }),
        () => {},
      );
      return readFileSync(join(out, "metrics.jsonl"), "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
    };
    const cpu = await on("cpu", () => grpo("cpu"));
    const gpu = await on("webgpu", () => grpo("webgpu"));
    expect(gpu).toHaveLength(2);
    for (const [i, g] of gpu.entries()) {
      const c = cpu[i];
      expect(g.reward, `reward[${i}]`).toBe(c.reward); // the same rollouts
      expect(g["completions/mean_length"]).toBe(c["completions/mean_length"]);
      expect(rel(g.grad_norm, c.grad_norm), `grad_norm[${i}]`).toBeLessThan(1e-4);
      expect(Math.abs(g.loss - c.loss), `loss[${i}]`).toBeLessThan(1e-5);
      expect(Math.abs(g.kl - c.kl), `kl[${i}]`).toBeLessThan(1e-6);
      expect(Math.abs(g.entropy - c.entropy), `entropy[${i}]`).toBeLessThan(1e-4);
    }
    expect(cpu[0].grad_norm).toBeGreaterThan(0);
    expect(cpu[1].kl).toBeGreaterThan(0); // the second step's policy has left pi_ref
    // pi_ref lives on the device there (uploaded once, not at every reference pass).
    const ref = await on("webgpu", async () => frozenCopy({ w: o.full([2, 2], 3) }));
    expect(isDeviceTensor(ref.w)).toBe(true);
    expect(Array.from(await toHost(ref.w))).toEqual([3, 3, 3, 3]);
    disposeParams(ref);
  });

  it("serve's batch engine on tiny-qwen2: a request joining a running batch, greedy and seeded sampling", {
    timeout: 180_000,
  }, async () => {
    const prompts = [[5, 17, 42, 9, 100, 3], [7, 8], Array.from({ length: 11 }, (_, i) => (i * 37) % 400)];
    const sampled: SamplingParams = { temperature: 0.8, topP: 0.95, topK: 0 };
    const specs = [
      { sampling: GREEDY, max: 8, seed: 0 },
      { sampling: sampled, max: 6, seed: 11 },
      { sampling: GREEDY, max: 9, seed: 0 }, // 11 + 9 slots: the cache grows from 16 to 32
    ];
    // Each prompt alone through generate() on the CPU EP.
    const m = await loadModel(join(FIX, "tiny-qwen2"));
    const alone: number[][] = [];
    for (const [i, p] of prompts.entries()) {
      const s = specs[i];
      const r = await generate(m.params, m.config, [p], {
        ...s.sampling,
        maxNewTokens: s.max,
        eosTokenIds: [],
        seed: s.seed,
      });
      alone.push(r.ids[0]);
    }
    const got = await on("webgpu", async () => {
      const engine = new BatchEngine(
        m.params,
        { ...m.config },
        {
          eosTokenIds: [],
          padTokenId: 0,
          maxBatch: 4,
          maxQueue: 8,
        },
      );
      const tokens: number[][] = prompts.map(() => []);
      const onDevice: boolean[] = [];
      const submit = (i: number) =>
        new Promise<void>((resolve, reject) => {
          const job: Job = {
            prompt: prompts[i],
            onError: reject,
            seqs: [
              {
                sampling: specs[i].sampling,
                seed: specs[i].seed,
                index: 0,
                maxNewTokens: specs[i].max,
                logprobs: null,
                onToken: (id) => {
                  tokens[i].push(id);
                  // A private peek: the engine's KV cache after a step lives on the GPU.
                  const cache = (engine as unknown as { cache: Record<string, unknown>[] | null }).cache;
                  if (cache) onDevice.push(isDeviceTensor(Object.values(cache[0])[0]));
                  return false;
                },
                onFinish: () => resolve(),
              },
            ],
          };
          engine.submit(job);
        });
      const first = [submit(0), submit(1)];
      await new Promise((res) => setTimeout(res, 50));
      await Promise.all([...first, submit(2)]); // the third joins while the others decode
      expect(onDevice.length).toBeGreaterThan(10);
      expect(onDevice.every((x) => x)).toBe(true);
      return tokens;
    });
    expect(got).toEqual(alone);
    disposeParams(m.params);
  });

  it("r1lab sft --device webgpu, no --executor: runs on ort, records it, and gives the in-process CPU EP's losses", {
    timeout: 180_000,
  }, async () => {
    const data = join(tmp, "sft.jsonl"); // written by the SFT case above
    const out = join(tmp, "sft-cli");
    const env: NodeJS.ProcessEnv = { ...process.env, R1LAB_THREADS: "1" };
    delete env.R1LAB_EXECUTOR;
    delete env.R1LAB_DEVICE;
    const args = ["sft", "--model", join(FIX, "tiny-qwen2"), "--data", data, "--out", out];
    const flags = ["--max-steps", "2", "--batch-size", "2", "--max-seq-length", "32", "--device", "webgpu"];
    const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [join(ROOT, "bin/r1lab.js"), ...args, ...flags], {
        cwd: ROOT,
        env,
      });
      let [stdout, stderr] = ["", ""];
      child.stdout.on("data", (d) => {
        stdout += d;
      });
      child.stderr.on("data", (d) => {
        stderr += d;
      });
      const timer = setTimeout(() => child.kill("SIGKILL"), 170_000);
      child.on("close", (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(out, "config.json"), "utf8"))).toMatchObject({
      device: "webgpu",
      executor: "ort",
    });
    const gpu = readFileSync(join(out, "sft_metrics.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l).loss as number);
    // The same two steps here on the CPU EP (the CLI's defaults: seed 0, no accumulation).
    const m = await loadModel(join(FIX, "tiny-qwen2"));
    const train = recordsToExamples(m.tokenizer!, await readSftRecords(data));
    const cli = JSON.parse(readFileSync(join(out, "config.json"), "utf8")).sft;
    const { params, metrics } = await sftTrain({
      config: m.config,
      params: m.params,
      train,
      cfg: cli,
      progress: false,
    });
    disposeParams(params);
    expect(gpu).toHaveLength(2);
    for (const [i, x] of gpu.entries()) expect(rel(x, metrics[i].loss), `loss[${i}]`).toBeLessThan(1e-4);
  });
});
