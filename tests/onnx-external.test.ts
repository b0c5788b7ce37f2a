// ONNX external data (onnx-external.ts): with the inline limit set small, the export writes
// onnx/model.onnx (graph only) + onnx/model.onnx_data (weights), the Optimum / transformers.js
// layout for models over 2 GiB; onnxruntime loads the pair from the path and gives exactly the
// inline graph's logits. The real 2 GiB limit is only a number here, so the test stays fast.
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, expect, it } from "vitest";
import { initEngine } from "../src/engine/device.ts";
import { loadModel } from "../src/hf/checkpoint.ts";
import { exportOnnx } from "../src/hf/onnx-export.ts";
import { externalize } from "../src/hf/onnx-external.ts";
import { DType } from "../src/engine/onnx-proto.ts";

const tmp = mkdtempSync(join(tmpdir(), "r1lab-onnx-ext-"));
const FIXTURE = join(import.meta.dirname, "fixtures/hf-reference/tiny-qwen2");
beforeAll(async () => {
  await initEngine({ device: "cpu" });
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function logits(path: string, ids: number[]): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(path);
  const t = (v: number[]) => new ort.Tensor("int64", BigInt64Array.from(v, BigInt), [1, v.length]);
  const out = await s.run({ input_ids: t(ids), attention_mask: t(ids.map(() => 1)) });
  await s.release();
  return out.logits.data as Float32Array;
}

it("writes model.onnx + model.onnx_data past the inline limit, and onnxruntime gives the same logits", async () => {
  const m = await loadModel(FIXTURE);
  const model = { config: m.config, params: m.params, tokenizer: m.tokenizer };
  const inline = await exportOnnx(join(tmp, "inline"), model, { withPast: false });
  expect(existsSync(`${inline}_data`)).toBe(false);
  const inlineSize = statSync(inline).size;

  const split = await exportOnnx(join(tmp, "split"), model, {
    withPast: false,
    maxInlineBytes: inlineSize - 1,
  });
  expect(split).toBe(join(tmp, "split", "onnx", "model.onnx"));
  const data = join(tmp, "split", "onnx", "model.onnx_data");
  expect(existsSync(data)).toBe(true);
  expect(statSync(split).size).toBeLessThan(inlineSize / 4);
  expect(statSync(data).size).toBeGreaterThan(inlineSize / 2);

  const ids = [1, 7, 19, 4, 33];
  const a = await logits(inline, ids);
  const b = await logits(split, ids);
  expect(b).toEqual(a);

  // "always" splits even a small model.
  const always = await exportOnnx(join(tmp, "always"), model, { withPast: false, externalData: "always" });
  expect(existsSync(`${always}_data`)).toBe(true);
  expect(await logits(always, ids)).toEqual(a);
});

it("aligns each external tensor to 4 KiB and keeps small ones inline", () => {
  const t = (name: string, n: number) => ({
    name,
    dims: [n],
    dataType: DType.FLOAT,
    raw: new Uint8Array(n * 4).fill(1),
  });
  const g = {
    name: "g",
    nodes: [],
    inputs: [],
    outputs: [],
    initializers: [t("big1", 1000), t("small", 10), t("big2", 300)],
  };
  const { graph, data } = externalize(g, "model.onnx_data");
  const [big1, small, big2] = graph.initializers;
  expect(big1.external).toEqual({ location: "model.onnx_data", offset: 0, length: 4000 });
  expect(small.external).toBeUndefined();
  expect(big2.external).toEqual({ location: "model.onnx_data", offset: 4096, length: 1200 });
  expect(data.reduce((s, c) => s + c.length, 0)).toBe(4096 + 1200);
  expect(() => externalize(g, "../x")).toThrow(/plain file name/);
});
