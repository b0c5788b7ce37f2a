// Real sizes: load a Hugging Face folder (made by scripts/make-random-checkpoint.ts: Qwen2.5-0.5B's
// or DeepSeek-R1-Distill-Qwen-1.5B's exact config, random weights), then either generate greedily
// with the KV cache or run SFT steps (full AdamW, or LoRA on q_proj/v_proj over a frozen base with
// --lora), and print
// one JSON line: tokens/s, load time and the process's peak RSS. Each measurement runs in its own
// process (the bench rows spawn this file), so peak RSS is that run's alone.
//   pnpm tsx bench/real-models.ts DIR gen [--batch 1 --prompt 32 --new 32]
//   pnpm tsx bench/real-models.ts DIR sft [--batch 1 --seq 128 --steps 2] [--lora 16]
import { initEngine } from "../src/engine/device.ts";
import { Rng } from "../src/engine/rng.ts";
import { generate } from "../src/generate/generate.ts";
import { loadModel } from "../src/hf/checkpoint.ts";
import { initLora, loraScaling, mergeLora, resolveTargets } from "../src/model/lora.ts";
import { makeLmBatch } from "../src/train/batch.ts";
import { type LmBatch, lmLoss } from "../src/train/lm-loss.ts";
import { Trainer } from "../src/train/trainer.ts";

const peakRssMb = () => process.resourceUsage().maxRSS / 1024;

export interface RealResult {
  tokens_per_s: number;
  load_s: number;
  peak_rss_mb: number;
  params: number;
  step_seconds: number[];
}

async function main(): Promise<void> {
  const [dir, mode, ...rest] = process.argv.slice(2);
  const num = (k: string, d: number) => {
    const i = rest.indexOf(k);
    return i >= 0 ? Number(rest[i + 1]) : d;
  };
  if (!dir || (mode !== "gen" && mode !== "sft")) {
    console.error(
      "usage: pnpm tsx bench/real-models.ts DIR gen|sft [--batch B --prompt P --new N --seq T --steps S --lora R]",
    );
    process.exit(2);
  }
  await initEngine({ device: "cpu" });
  const t0 = performance.now();
  const m = await loadModel(dir);
  const loadS = (performance.now() - t0) / 1000;
  const c = m.config;
  const nParams = Object.values(m.params).reduce((n, a) => n + a.size, 0);
  const B = num("--batch", 1);
  const rng = Rng.stream(0, "real-models");
  const times: number[] = [];
  let tokens = 0;
  if (mode === "gen") {
    const P = num("--prompt", 32);
    const N = num("--new", 32);
    const prompts = Array.from({ length: B }, () => Array.from({ length: P }, () => rng.int(c.vocabSize)));
    const opts = { maxNewTokens: N, eosTokenIds: [], seed: 0, temperature: 0, topP: 1, topK: 0 };
    for (let r = 0; r < num("--reps", 2) + 1; r++) {
      const ts = performance.now();
      await generate(m.params, c, prompts, opts);
      if (r > 0) times.push((performance.now() - ts) / 1000); // the first run compiles
    }
    tokens = B * N;
  } else {
    const T = num("--seq", 128);
    const rank = num("--lora", 0);
    const w = { mtpLambda: 0, balanceAlpha: 0 };
    // PEFT's default targets for Qwen2 (q_proj, v_proj): W + s B A is formed inside the step, and
    // with every linear layer adapted the merged copies alone would add the base's size again.
    const lora = {
      r: rank,
      alpha: 2 * rank,
      dropout: 0,
      targetModules: ["q_proj", "v_proj"],
      useRslora: false,
    };
    const loss = (t: any, b: any, batch: LmBatch) => lmLoss(t, b, c, batch, w);
    // LoRA: the adapters train, the base rides along frozen; W + s B A is formed inside the step.
    const loraLoss = (t: any, b: any, batch: LmBatch) =>
      lmLoss(mergeLora(b, t, loraScaling(lora)), {}, c, batch, w);
    const trainer =
      rank > 0
        ? new Trainer<LmBatch>({
            model: c,
            params: initLora(
              m.params,
              resolveTargets(m.params, lora.targetModules, c.numHiddenLayers),
              lora,
              0,
            ),
            frozen: m.params,
            loss: loraLoss,
            withMtp: false,
          })
        : new Trainer<LmBatch>({ model: c, params: m.params, loss, withMtp: false });
    for (let s = 0; s < num("--steps", 2) + 1; s++) {
      const seqs = Array.from({ length: B }, () => ({
        ids: Array.from({ length: T + 1 }, () => rng.int(c.vocabSize)),
        lossStart: 0,
      }));
      const ts = performance.now();
      await trainer.update(makeLmBatch(c, seqs, T, 0), 1e-5);
      if (s > 0) times.push((performance.now() - ts) / 1000); // the first step compiles
    }
    tokens = B * T;
  }
  const sorted = [...times].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  const res: RealResult = {
    tokens_per_s: tokens / median,
    load_s: loadS,
    peak_rss_mb: peakRssMb(),
    params: nParams,
    step_seconds: times,
  };
  console.log(JSON.stringify(res));
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
