// The benchmark list of `pnpm bench`: each entry runs r1lab's side, then the PyTorch peer on the
// same model and shapes, and returns one result row. Sizes per mode: full (default) and --quick.
import { cacheBytesPerToken } from "../src/model/kv-cache.ts";
import { jaxMatmulGflops, wasmPeakGflops } from "./ceiling.ts";
import { TRAIN_SHAPES, mlaMoeConfig } from "./models.ts";
import { evalSeconds, generateSeconds, grpoSeconds, median, type Reps, trainSeconds } from "./r1lab-side.ts";
import { REAL_BENCHES } from "./real-rows.ts";
import { serveThroughput } from "./serve.ts";
import type { TorchPeer } from "./torch-peer.ts";

export type Row = Record<string, number | string | null>;
export interface Bench {
  name: string;
  /** What the figure is: "tokens/s", "samples/s", "s/step", "bytes/token". */
  unit: string;
  inQuick: boolean;
  /** `reps` overrides the warm-up / timed repetitions (tests use the fewest). */
  run(torch: TorchPeer | null, quick: boolean, reps?: Reps): Promise<Row>;
}

const ratio = (a: number, b: number | null) => (b ? a / b : null);
const pick = (quick: boolean, full: Reps, q: Reps, override?: Reps): Reps => override ?? (quick ? q : full);

function trainBench(name: string, full: Reps, q: Reps, inQuick: boolean): Bench {
  const s = TRAIN_SHAPES[name];
  return {
    name: `train_${name}`,
    unit: "tokens/s",
    inQuick,
    async run(torch, quick, override) {
      const r = pick(quick, full, q, override);
      // An r1lab failure (e.g. the Wasm heap limit) still lets the peer's figure be recorded.
      let mine: number | null = null;
      let error: string | null = null;
      try {
        mine = (s.batch * s.seq) / median(await trainSeconds(s, r));
      } catch (e) {
        error = `r1lab: ${(e as Error).message}`;
      }
      const theirs = torch
        ? (await torch.request("train", { config: s.config, batch: s.batch, seq: s.seq, ...r })).tokens_per_s
        : null;
      return {
        r1lab_tokens_per_s: mine,
        torch_tokens_per_s: theirs,
        ratio: mine === null ? null : ratio(mine, theirs),
        ...(error ? { error } : {}),
      };
    },
  };
}

function genBench(name: string, model: "small" | "mla_moe", batch: number, inQuick: boolean): Bench {
  const c = model === "small" ? TRAIN_SHAPES.small.config : mlaMoeConfig();
  return {
    name,
    unit: "tokens/s",
    inQuick,
    async run(torch, quick, override) {
      const r = pick(quick, { warmup: 1, steps: 3 }, { warmup: 1, steps: 2 }, override);
      const prompt = 16;
      const newTokens = quick ? 24 : 64;
      const mine = (batch * newTokens) / median(await generateSeconds(c, batch, prompt, newTokens, r));
      const theirs = torch
        ? (await torch.request("generate", { config: c, batch, prompt, new_tokens: newTokens, ...r }))
            .tokens_per_s
        : null;
      return { r1lab_tokens_per_s: mine, torch_tokens_per_s: theirs, ratio: ratio(mine, theirs) };
    },
  };
}

const kvCacheBench: Bench = {
  name: "kv_cache_mla",
  unit: "bytes/token",
  inQuick: true,
  async run(torch) {
    const c = mlaMoeConfig();
    const { actual, mhaEquivalent } = cacheBytesPerToken(c);
    // The peer measures the bytes its own MLA cache holds after a short generation.
    const theirs = torch
      ? (
          await torch.request("generate", {
            config: c,
            batch: 2,
            prompt: 8,
            new_tokens: 4,
            warmup: 0,
            steps: 1,
          })
        ).cache_bytes_per_token
      : null;
    return {
      r1lab_bytes_per_token: actual,
      mha_bytes_per_token: mhaEquivalent,
      mla_over_mha: actual / mhaEquivalent,
      torch_bytes_per_token: theirs,
      ratio: ratio(actual, theirs),
    };
  },
};

const grpoBench: Bench = {
  name: "grpo_step",
  unit: "s/step",
  inQuick: false,
  async run(torch, quick, override) {
    const g = {
      prompts: 8,
      numGenerations: 8,
      maxCompletionLength: quick ? 24 : 48,
      beta: 0.04,
      temperature: 1.0,
    };
    const r = pick(quick, { warmup: 1, steps: 2 }, { warmup: 1, steps: 1 }, override);
    const mine = await grpoSeconds(g, r);
    const row: Row = {
      r1lab_rollout_s: median(mine.rollout),
      r1lab_reference_s: median(mine.reference),
      r1lab_update_s: median(mine.update),
    };
    const total =
      (row.r1lab_rollout_s as number) + (row.r1lab_reference_s as number) + (row.r1lab_update_s as number);
    row.r1lab_step_s = total;
    if (torch) {
      const t = await torch.request("grpo", {
        config: mine.config,
        rows: g.prompts * g.numGenerations,
        prompt: mine.promptLen,
        max_completion_length: g.maxCompletionLength,
        seq: mine.seq,
        temperature: g.temperature,
        beta: g.beta,
        ...r,
      });
      Object.assign(row, {
        torch_rollout_s: t.rollout,
        torch_reference_s: t.reference,
        torch_update_s: t.update,
      });
      row.torch_step_s = t.rollout + t.reference + t.update;
    }
    // Speed ratio (r1lab steps/s over torch steps/s), like every other ratio here.
    row.ratio = row.torch_step_s ? (row.torch_step_s as number) / total : null;
    return row;
  },
};

const evalBench: Bench = {
  name: "eval",
  unit: "samples/s",
  inQuick: false,
  async run(torch, quick, override) {
    const n = 16;
    const k = 4;
    const L = quick ? 24 : 48;
    const r = pick(quick, { warmup: 1, steps: 2 }, { warmup: 1, steps: 1 }, override);
    const mine = await evalSeconds(n, k, L, r);
    const sps = (n * k) / median(mine.seconds);
    const theirs = torch
      ? (
          await torch.request("eval", {
            config: mine.config,
            samples: n * k,
            prompt: mine.promptLen,
            max_completion_length: L,
            temperature: 0.6,
            top_p: 0.95,
            ...r,
          })
        ).samples_per_s
      : null;
    return { r1lab_samples_per_s: sps, torch_samples_per_s: theirs, ratio: ratio(sps, theirs) };
  },
};

/**
 * The matmul ceiling (bench/ceiling.ts): Wasm SIMD's peak multiply-add rate on one thread, r1lab's
 * jitted matmul, and PyTorch's, all on [2048, 256] @ [256, 768] (the shapes of train_small's MLP).
 * wasm_peak_over_torch_1t bounds how close any Wasm kernel can come to PyTorch's matmul.
 */
const ceilingBench: Bench = {
  name: "ceiling",
  unit: "GFLOP/s",
  inQuick: false,
  async run(torch) {
    const [m, k, n] = [2048, 256, 768];
    const simdPeak = wasmPeakGflops(false);
    const fmaPeak = wasmPeakGflops(true);
    const mine = await jaxMatmulGflops(m, k, n);
    const t = torch ? await torch.request("matmul", { m, k, n, warmup: 3, steps: 15 }) : null;
    return {
      r1lab_matmul_gflops_per_s: mine,
      torch_matmul_gflops_per_s: t?.gflops ?? null,
      ratio: ratio(mine, t?.gflops ?? null),
      wasm_simd_peak_gflops_1t: simdPeak,
      wasm_relaxed_fma_peak_gflops_1t: fmaPeak,
      torch_matmul_gflops_1t: t?.gflops_1t ?? null,
      wasm_peak_over_torch_1t: t?.gflops_1t && simdPeak ? simdPeak / t.gflops_1t : null,
    };
  },
};

/** r1lab's server engine: concurrent requests sharing decode steps vs the same requests one by one. */
function serveBench(name: string, quantize: "none" | "int8" | "int4"): Bench {
  return {
    name,
    unit: "tokens/s",
    inQuick: false,
    async run(_torch, quick) {
      const requests = quick ? 8 : 32;
      const r = await serveThroughput(TRAIN_SHAPES.small.config, {
        requests,
        newTokens: quick ? 16 : 32,
        maxBatch: 16,
        quantize,
      });
      return {
        r1lab_tokens_per_s: r.concurrent,
        sequential_tokens_per_s: r.sequential,
        speedup_over_sequential: r.concurrent / r.sequential,
        rows_per_step: r.rowsPerStep,
        requests,
        torch_tokens_per_s: null,
        ratio: null,
      };
    },
  };
}

export const BENCHES: Bench[] = [
  trainBench("tiny", { warmup: 2, steps: 8 }, { warmup: 2, steps: 3 }, true),
  trainBench("small", { warmup: 1, steps: 5 }, { warmup: 1, steps: 3 }, true),
  trainBench("mla_moe", { warmup: 1, steps: 3 }, { warmup: 1, steps: 2 }, false),
  genBench("gen_small_b1", "small", 1, true),
  genBench("gen_small_b64", "small", 64, true),
  genBench("gen_mla_moe_b64", "mla_moe", 64, false),
  kvCacheBench,
  ceilingBench,
  grpoBench,
  evalBench,
  serveBench("serve_small_b16", "none"),
  serveBench("serve_small_b16_int8", "int8"),
  serveBench("serve_small_b16_int4", "int4"),
  // Last: at B16 T256 it can exhaust the Wasm backend's 4 GiB (memory32) heap, after which the
  // engine cannot allocate again in this process.
  trainBench("medium", { warmup: 1, steps: 2 }, { warmup: 1, steps: 1 }, false),
  // Real sizes (scripts/make-random-checkpoint.ts makes the folders; skipped without them).
  ...REAL_BENCHES,
];
