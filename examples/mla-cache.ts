// Build a tiny DeepSeek-V3-style model, print its parameter count and what MLA saves in the KV
// cache, and generate a few tokens with the latent cache.
// Run: pnpm tsx examples/mla-cache.ts
import { initEngine, paramCount } from "../src/engine/index.ts";
import { generate } from "../src/generate/generate.ts";
import { initParams } from "../src/model/init.ts";
import { cacheBytesPerToken } from "../src/model/kv-cache.ts";
import { tinyDeepSeek } from "../src/model/presets.ts";

await initEngine({ device: process.env.R1LAB_DEVICE ?? "cpu" });
const config = tinyDeepSeek(64);
const params = initParams(config, 0);
const bytes = cacheBytesPerToken(config);
console.log(`parameters: ${paramCount(params).toLocaleString()}`);
console.log(
  `KV cache per token: MLA ${bytes.actual} B vs MHA ${bytes.mhaEquivalent} B (${(bytes.mhaEquivalent / bytes.actual).toFixed(1)}x smaller)`,
);
const out = await generate(
  params,
  config,
  [
    [1, 2, 3],
    [4, 5],
  ],
  {
    temperature: 0.6,
    topP: 0.95,
    topK: 0,
    maxNewTokens: 8,
    eosTokenIds: [],
    seed: 0,
  },
);
console.log("sampled ids:", out.ids);
process.exit(0);
