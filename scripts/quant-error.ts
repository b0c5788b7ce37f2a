// What int8 and int4 weights cost each model, against its own float32 weights, on one text: weight
// memory, logits error, perplexity, teacher-forced argmax agreement and identical greedy tokens
// (src/serve/quant-error.ts). Prints one markdown table per model (the tables in docs/serving.md).
//   pnpm tsx scripts/quant-error.ts [--text FILE] MODEL_DIR...
// Defaults: the three tests/fixtures/hf-reference models and tests/fixtures/text/quantization.txt.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { initEngine } from "../src/engine/device.ts";
import { loadTokenizer } from "../src/hf/tokenizer.ts";
import { measureQuantError, quantErrorTable } from "../src/serve/quant-error.ts";

const root = join(import.meta.dirname, "..");
const args = process.argv.slice(2);
const at = args.indexOf("--text");
const textFile = at >= 0 ? args.splice(at, 2)[1] : join(root, "tests/fixtures/text/quantization.txt");
const models = args.length
  ? args
  : ["tiny-qwen2", "tiny-llama", "tiny-deepseek-v3"].map((m) => join(root, "tests/fixtures/hf-reference", m));
await initEngine({ device: "cpu" });
const text = readFileSync(textFile, "utf8");
for (const model of models) {
  const ids = (await loadTokenizer(model)).encode(text);
  const t0 = Date.now();
  const rows = await measureQuantError(model, ids, [
    { mode: "none" },
    { mode: "int8" },
    { mode: "int4", groupSize: 32 },
    { mode: "int4", groupSize: 128 },
  ]);
  console.log(
    `\n${model} (${Math.min(ids.length, 256)} tokens of ${textFile}; ${((Date.now() - t0) / 1000).toFixed(1)} s)\n`,
  );
  console.log(quantErrorTable(rows));
}
