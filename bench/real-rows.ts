// Benchmark rows at real sizes: Qwen2.5-0.5B and DeepSeek-R1-Distill-Qwen-1.5B (their exact configs,
// random weights) loaded from the folders scripts/make-random-checkpoint.ts writes under
// R1LAB_REAL_MODELS (default /tmp/r1lab-real). r1lab's side runs in a child process
// (bench/real-models.ts) so its peak RSS is its own; the PyTorch peer builds the same model from
// the config with random fp32 weights and reports its process's peak RSS. A missing folder makes
// the row say how to create it, rather than fail.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseHfConfig } from "../src/hf/config.ts";
import type { Bench, Row } from "./suite.ts";

const here = dirname(fileURLToPath(import.meta.url));
export const realModelsDir = (): string => process.env.R1LAB_REAL_MODELS ?? "/tmp/r1lab-real";

interface Spec {
  mode: "gen" | "sft";
  batch: number;
  /** gen: prompt and new tokens; sft: sequence length. */
  prompt?: number;
  newTokens?: number;
  seq?: number;
  /** sft: LoRA rank over a frozen base (0: full AdamW). The PyTorch peer has no LoRA: no peer figure. */
  lora?: number;
}

function runR1lab(dir: string, s: Spec): Record<string, any> {
  const args = [join(here, "real-models.ts"), dir, s.mode, "--batch", String(s.batch)];
  if (s.mode === "gen") args.push("--prompt", String(s.prompt), "--new", String(s.newTokens));
  else args.push("--seq", String(s.seq), "--lora", String(s.lora ?? 0));
  const r = spawnSync(process.execPath, ["--import", "tsx", ...args], {
    encoding: "utf8",
    maxBuffer: 1 << 24,
  });
  const last = r.stdout.trim().split("\n").pop() ?? "";
  if (r.status !== 0 || !last.startsWith("{"))
    throw new Error(
      `bench/real-models.ts exited ${r.status}: ${r.stderr.trim().split("\n").slice(-3).join(" | ")}`,
    );
  return JSON.parse(last);
}

export function realBench(name: string, model: string, s: Spec): Bench {
  return {
    name,
    unit: "tokens/s",
    inQuick: false,
    async run(torch) {
      const dir = join(realModelsDir(), model);
      if (!existsSync(join(dir, "config.json")))
        return {
          skipped: `no ${dir}: make it with pnpm tsx scripts/make-random-checkpoint.ts ${model} ${dir}`,
        };
      const config = parseHfConfig(JSON.parse(readFileSync(join(dir, "config.json"), "utf8")), dir);
      let mine: Record<string, any> | null = null;
      let error: string | null = null;
      try {
        mine = runR1lab(dir, s);
      } catch (e) {
        error = `r1lab: ${(e as Error).message}`;
      }
      let theirs: Record<string, any> | null = null;
      if (torch && !s.lora) {
        const reps = { warmup: 1, steps: 2 };
        theirs =
          s.mode === "gen"
            ? await torch.request("generate", {
                config,
                batch: s.batch,
                prompt: s.prompt,
                new_tokens: s.newTokens,
                ...reps,
              })
            : await torch.request("train", { config, batch: s.batch, seq: s.seq, ...reps });
      }
      const row: Row = {
        r1lab_tokens_per_s: mine?.tokens_per_s ?? null,
        torch_tokens_per_s: theirs?.tokens_per_s ?? null,
        ratio: mine && theirs ? mine.tokens_per_s / theirs.tokens_per_s : null,
        r1lab_peak_rss_mb: mine?.peak_rss_mb ?? null,
        torch_peak_rss_mb: theirs?.peak_rss_mb ?? null,
        r1lab_load_s: mine?.load_s ?? null,
        params: mine?.params ?? null,
        ...(s.lora ? { lora_rank: s.lora, torch_note: "no LoRA in the PyTorch peer" } : {}),
        ...(error ? { error } : {}),
      };
      return row;
    },
  };
}

/** Qwen2.5-0.5B: full AdamW fits (about 8 GB of state); the 1.5B's would need 28 GB, so it trains LoRA. */
export const REAL_BENCHES: Bench[] = [
  realBench("gen_qwen05b", "qwen2.5-0.5b", { mode: "gen", batch: 1, prompt: 32, newTokens: 32 }),
  realBench("sft_qwen05b", "qwen2.5-0.5b", { mode: "sft", batch: 1, seq: 128 }),
  realBench("gen_distill15b", "r1-distill-qwen-1.5b", { mode: "gen", batch: 1, prompt: 32, newTokens: 32 }),
  realBench("sft_distill15b_lora", "r1-distill-qwen-1.5b", { mode: "sft", batch: 1, seq: 128, lora: 16 }),
];
