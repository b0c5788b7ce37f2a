// A scaled-down sft_qwen05b for iterating on the real-size SFT step: Qwen2.5-0.5B's config with
// fewer layers (full 151,936 vocabulary, tied head), random weights from initParams, full-AdamW
// steps on random tokens. Prints one JSON line: median step seconds, tokens/s, peak RSS.
//   pnpm tsx bench/sft-proxy.ts CONFIG.json [--layers 2 --batch 1 --seq 128 --steps 2 --vocab V --host-adamw]
// With R1LAB_ORT_PROFILE=PREFIX onnxruntime writes its per-node traces (bench/ort-profile.ts reads them).
import { readFileSync } from "node:fs";
import { initEngine } from "../src/engine/device.ts";
import { AdamW } from "../src/engine/optim.ts";
import { Rng } from "../src/engine/rng.ts";
import { endOrtProfiling } from "../src/engine/ort/session.ts";
import { parseHfConfig } from "../src/hf/config.ts";
import { initParams } from "../src/model/init.ts";
import { makeLmBatch } from "../src/train/batch.ts";
import { type LmBatch, lmLoss } from "../src/train/lm-loss.ts";
import { Trainer } from "../src/train/trainer.ts";

const [file, ...rest] = process.argv.slice(2);
const num = (k: string, d: number) => {
  const i = rest.indexOf(k);
  return i >= 0 ? Number(rest[i + 1]) : d;
};
await initEngine({ device: "cpu" });
const base = parseHfConfig(JSON.parse(readFileSync(file, "utf8")), file);
const c = { ...base, numHiddenLayers: num("--layers", 2), vocabSize: num("--vocab", base.vocabSize) };
// --host-adamw: AdamW on the host (adamw-host.ts), as at real size (R1LAB_ORT_LEAN_BYTES=0 gives lean sessions).
if (rest.includes("--host-adamw")) AdamW.hostUpdateBytes = 0;
const B = num("--batch", 1);
const T = num("--seq", 128);
const trainer = new Trainer<LmBatch>({
  model: c,
  params: initParams(c, 0, { withMtp: false }),
  loss: (t, b, batch) => lmLoss(t, b, c, batch, { mtpLambda: 0, balanceAlpha: 0 }),
  withMtp: false,
});
const rng = Rng.stream(0, "sft-proxy");
const times: number[] = [];
let loss = 0;
for (let s = 0; s < num("--steps", 2) + 1; s++) {
  const seqs = Array.from({ length: B }, () => ({
    ids: Array.from({ length: T + 1 }, () => rng.int(c.vocabSize)),
    lossStart: 0,
  }));
  const ts = performance.now();
  if (process.env.R1LAB_ORT_DEBUG)
    console.error(`[proxy] step ${s}: rss ${Math.round(process.memoryUsage().rss / 2 ** 20)} MiB`);
  loss = (await trainer.update(makeLmBatch(c, seqs, T, 0), 1e-5)).loss;
  if (s > 0) times.push((performance.now() - ts) / 1000);
}
endOrtProfiling();
const median = [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)];
console.log(
  JSON.stringify({
    layers: c.numHiddenLayers,
    loss,
    step_s: times,
    tokens_per_s: (B * T) / median,
    peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
  }),
);
