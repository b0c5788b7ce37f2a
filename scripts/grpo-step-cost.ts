// Time and memory of one `r1lab grpo` round on a random-weight model of a real config
// (Qwen2.5-0.5B-Instruct by default), without downloading anything: G completions of a
// fixed-length random prompt, the reference log-probs (beta > 0), then one optimizer step of LoRA
// (q_proj, v_proj, r 16) over gradient_accumulation_steps micro-batches, the same parts as
// src/runs/grpo.ts. Prints seconds per phase and the process's peak resident memory.
//   pnpm tsx scripts/grpo-step-cost.ts [--G 8] [--prompt 128] [--completion 256] [--micro 1] [--layers N] [--full]
import { parseArgs } from "node:util";
import { initEngine } from "../src/engine/device.ts";
import { deriveSeed } from "../src/engine/rng.ts";
import { generate } from "../src/generate/generate.ts";
import { parseHfConfig } from "../src/hf/config.ts";
import { initParams } from "../src/model/init.ts";
import { initLora, loraScaling, mergeLora, resolveTargets } from "../src/model/lora.ts";
import { type GrpoBatch, grpoObjective } from "../src/rl/grpo-loss.ts";
import { grpoBatch, itemsInBatch, microBatches, type TokenRow } from "../src/rl/grpo.ts";
import { batchLogprobs } from "../src/rl/grpo-update.ts";
import { Trainer } from "../src/train/trainer.ts";

// Qwen/Qwen2.5-0.5B-Instruct's config.json (the fields r1lab reads).
const QWEN25_05B = {
  model_type: "qwen2",
  hidden_size: 896,
  intermediate_size: 4864,
  num_hidden_layers: 24,
  num_attention_heads: 14,
  num_key_value_heads: 2,
  vocab_size: 151936,
  max_position_embeddings: 32768,
  rope_theta: 1000000.0,
  rms_norm_eps: 1e-6,
  tie_word_embeddings: true,
  bos_token_id: 151643,
  eos_token_id: 151645,
  hidden_act: "silu",
};

const { values: v } = parseArgs({
  options: {
    G: { type: "string", default: "8" },
    prompt: { type: "string", default: "128" },
    completion: { type: "string", default: "256" },
    micro: { type: "string", default: "1" },
    layers: { type: "string" },
    full: { type: "boolean", default: false },
  },
});
const G = Number(v.G);
const P = Number(v.prompt);
const L = Number(v.completion);
const micro = Number(v.micro);
const raw = { ...QWEN25_05B, ...(v.layers ? { num_hidden_layers: Number(v.layers) } : {}) };
const c = parseHfConfig(raw, "Qwen2.5-0.5B-Instruct config");
await initEngine({ device: process.env.R1LAB_DEVICE ?? "cpu" });
const t = () => performance.now() / 1000;
let t0 = t();
const base = initParams(c, 1, { withMtp: false });
const n = Object.values(base).reduce((s, a) => s + a.size, 0);
console.log(
  `random ${c.modelType}: ${(n / 1e6).toFixed(0)}M parameters, ${c.numHiddenLayers} layers (${(t() - t0).toFixed(1)} s to build)`,
);

const lora = { r: 16, alpha: 32, dropout: 0, targetModules: ["q_proj", "v_proj"] };
const trainable = v.full ? base : initLora(base, resolveTargets(base, lora.targetModules), lora, 1);
const lossCfg = {
  lossType: "dapo" as const,
  beta: 0.04,
  epsilon: 0.2,
  epsilonHigh: 0.2,
  maxCompletionLength: L,
  temperature: 1,
  gradientAccumulationSteps: G / micro,
};
const loss = v.full
  ? (tr: any, b: any, batch: GrpoBatch) => grpoObjective({ ...tr, ...b }, c, batch, lossCfg)
  : (tr: any, b: any, batch: GrpoBatch) =>
      grpoObjective(mergeLora(b, tr, loraScaling(lora)), c, batch, lossCfg);
const trainer = new Trainer<GrpoBatch>({
  model: c,
  params: trainable,
  loss,
  optimizer: { beta2: 0.999, weightDecay: 0 },
  withMtp: false,
  frozen: v.full ? {} : base,
});

const prompt = Array.from({ length: P }, (_, i) => (i * 7919) % 150000);
t0 = t();
const policy = v.full ? trainer.params : { ...base };
const gen = await generate(
  policy,
  c,
  Array.from({ length: G }, () => prompt),
  {
    maxNewTokens: L,
    eosTokenIds: [],
    seed: deriveSeed(1, "cost"),
    temperature: 1,
    topP: 1,
    topK: 0,
    padTokenId: 0,
  },
);
const tGen = t() - t0;
console.log(`rollouts: ${G} x ${L} tokens in ${tGen.toFixed(1)} s (${((G * L) / tGen).toFixed(1)} tokens/s)`);

const rows: TokenRow[] = gen.ids.map((ids, i) => ({
  promptIds: prompt,
  completionIds: ids,
  advantage: i % 2 ? 1 : -1,
  live: true,
}));
const seqLen = P + L;
const numItems = itemsInBatch(rows, seqLen);
const mbs = microBatches(rows, micro).map((mb) => grpoBatch(c, 0, mb, seqLen, numItems));
t0 = t();
for (const mb of mbs) mb.refLogp = batchLogprobs(base, c, mb, 1);
await Promise.all(mbs.map((mb) => mb.refLogp!.blockUntilReady()));
const tRef = t() - t0;
console.log(`reference log-probs: ${tRef.toFixed(1)} s`);
t0 = t();
for (const mb of mbs) await trainer.accumulate(mb);
const gn = await trainer.applyAccumulated(1e-5);
const tStep = t() - t0;
console.log(
  `update: ${mbs.length} micro-batches of ${micro} x ${seqLen} tokens in ${tStep.toFixed(1)} s (grad norm ${gn.toFixed(4)})`,
);
const rss = process.resourceUsage().maxRSS / 1024 / 1024;
console.log(`round total ${(tGen + tRef + tStep).toFixed(1)} s; peak resident memory ${rss.toFixed(2)} GiB`);
process.exit(0);
