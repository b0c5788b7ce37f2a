// Writes tests/fixtures/onnx-quantized/tiny-qwen2: the tiny-qwen2 reference checkpoint exported to
// ONNX in the transformers.js layout (config, tokenizer, onnx/model.onnx with past_key_values), plus
// its quantised graphs onnx/model_q4.onnx (MatMulNBits, 4-bit, block 32) and
// onnx/model_quantized.onnx (dynamic int8: DynamicQuantizeLinear + MatMulInteger), made by
// src/hf/onnx-quantize.ts. No download: the source is tests/fixtures/hf-reference/tiny-qwen2.
//   pnpm tsx scripts/make-onnx-quantized.ts [OUT_DIR]
import { join } from "node:path";
import { initEngine } from "../src/engine/device.ts";
import { loadModel } from "../src/hf/checkpoint.ts";
import { decoderGraph } from "../src/hf/onnx-decoder.ts";
import { exportOnnx, hostWeightsOf, writeChunks } from "../src/hf/onnx-export.ts";
import { modelProto, OPSET } from "../src/engine/onnx-proto.ts";
import { ONNX_DTYPE_FILES, quantizeGraph } from "../src/hf/onnx-quantize.ts";

const root = join(import.meta.dirname, "..");
const out = process.argv[2] ?? join(root, "tests/fixtures/onnx-quantized/tiny-qwen2");
await initEngine({ device: "cpu" });
const m = await loadModel(join(root, "tests/fixtures/hf-reference/tiny-qwen2"));
await exportOnnx(out, { config: m.config, params: m.params, tokenizer: m.tokenizer });
const graph = decoderGraph(m.config, await hostWeightsOf(m.params), { withPast: true });
const meta = { "r1lab.model_type": m.config.modelType, "r1lab.with_past": "true" };
for (const [dtype, mode] of [
  ["q4", "q4"],
  ["q8", "q8"],
] as const) {
  const file = join(out, "onnx", ONNX_DTYPE_FILES[dtype]);
  const q = quantizeGraph(graph, mode, 32);
  const domains: Record<string, number> = mode === "q4" ? { "com.microsoft": 1 } : {};
  writeChunks(file, modelProto(q, { ...meta, "r1lab.quantization": mode }, OPSET, domains));
  console.log(`wrote ${file}`);
}
