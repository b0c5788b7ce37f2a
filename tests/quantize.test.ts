// Quantised weights: int8 per channel and int4 block-wise codes round-trip within half a step of
// their scale; the jitted dequantisation (weightOf) gives exactly the host's values; a quantised
// model stays close to its float32 self (measured by src/serve/quant-error.ts) and is smaller;
// `serve model --quantize int4` answers the openai client; and the onnx backend runs the
// transformers.js-layout quantised graphs of tests/fixtures/onnx-quantized (model_q4.onnx with
// MatMulNBits, model_quantized.onnx with MatMulInteger; scripts/make-onnx-quantized.ts) close to
// model.onnx.
import { join } from "node:path";
import OpenAI from "openai";
import { beforeAll, describe, expect, it } from "vitest";
import { OnnxBackend } from "../src/backends/onnx.ts";
import { initEngine } from "../src/engine/device.ts";
import * as o from "../src/engine/ops.ts";
import { toHost } from "../src/engine/params.ts";
import { Rng } from "../src/engine/rng.ts";
import { OnnxDecoder } from "../src/hf/onnx-session.ts";
import {
  dequantizeHost,
  quantizeInt4,
  quantizeInt8,
  quantizeParams,
  weightOf,
} from "../src/model/quantize.ts";
import { measureQuantError } from "../src/serve/quant-error.ts";
import { loadServedModel } from "../src/serve/served-model.ts";
import { listenModelServer } from "../src/serve/server.ts";

const QWEN = join(import.meta.dirname, "fixtures/hf-reference/tiny-qwen2");
const ONNX = join(import.meta.dirname, "fixtures/onnx-quantized/tiny-qwen2");

beforeAll(async () => {
  await initEngine({ device: "cpu" });
});

function randomWeight(out: number, inDim: number): Float32Array {
  const rng = Rng.stream(3, "quant-test");
  return Float32Array.from(
    { length: out * inDim },
    () => (rng.float() - 0.5) * (rng.float() < 0.02 ? 2 : 0.1),
  );
}

describe("codes", () => {
  it("int8 per channel: error at most half a step, and the jitted dequantisation matches the host", async () => {
    const [out, inDim] = [6, 64];
    const w = randomWeight(out, inDim);
    const q = quantizeInt8(w, out, inDim);
    const back = dequantizeHost(q, out, inDim, 8);
    for (let i = 0; i < w.length; i++)
      expect(Math.abs(back[i] - w[i])).toBeLessThanOrEqual(q.scale[Math.floor(i / inDim)] / 2 + 1e-7);
    const arr = {
      q8: o.fromArray(q.packed as unknown as Int32Array, [out, inDim / 4], "uint32"),
      scale: o.fromArray(q.scale, [out, 1]),
    };
    expect(Array.from(await toHost(weightOf(arr)))).toEqual(Array.from(back));
  });

  it.each([32, 128])("int4 group %i: error at most half a step per block, jitted == host", async (g) => {
    const [out, inDim] = [5, 256];
    const w = randomWeight(out, inDim);
    const q = quantizeInt4(w, out, inDim, g);
    const back = dequantizeHost(q, out, inDim, 4);
    const blocks = inDim / g;
    for (let i = 0; i < w.length; i++) {
      const b = Math.floor(i / inDim) * blocks + Math.floor((i % inDim) / g);
      expect(Math.abs(back[i] - w[i])).toBeLessThanOrEqual(q.scale[b] / 2 + 1e-6);
    }
    const arr = {
      q4: o.fromArray(q.packed as unknown as Int32Array, [out, inDim / 8], "uint32"),
      scale: o.fromArray(q.scale, [out, blocks]),
      zero: o.fromArray(q.zero!, [out, blocks]),
    };
    const dev = await toHost(weightOf(arr));
    for (let i = 0; i < w.length; i++) expect(dev[i]).toBeCloseTo(back[i], 6);
  });
});

describe("models", () => {
  it("int8 and int4 tiny-qwen2 stay close to float32 and are smaller", async () => {
    const ids = Array.from({ length: 96 }, (_, i) => (i * 31 + 7) % 400);
    const rows = await measureQuantError(QWEN, ids, [{ mode: "int8" }, { mode: "int4", groupSize: 32 }], {
      greedyTokens: 12,
    });
    const [i8, i4] = rows;
    expect(i8.linearBytesF32 / i8.linearBytes).toBeGreaterThan(3.7);
    expect(i4.linearBytesF32 / i4.linearBytes).toBeGreaterThan(5.3);
    expect(i8.logitsRelRms).toBeLessThan(0.02);
    expect(i8.argmaxAgreement).toBeGreaterThan(0.95);
    expect(i4.logitsRelRms).toBeLessThan(0.2);
    expect(i4.logitsRelRms).toBeGreaterThan(i8.logitsRelRms);
    expect(i4.argmaxAgreement).toBeGreaterThan(0.8);
    expect(i8.quantized).toBe(14);
    // int4 group 128 does not fit a 64-wide input: those weights stay float32 and are reported.
    const { report } = await quantizeParams(
      { "model.layers.0.self_attn.q_proj.weight": o.zeros([64, 64]) },
      { mode: "int4", groupSize: 128 },
    );
    expect(report.skipped).toEqual(["model.layers.0.self_attn.q_proj.weight"]);
  });

  it("serve model --quantize int4 answers the openai client", async () => {
    const m = await loadServedModel({ model: QWEN, name: "q", quantize: "int4", groupSize: 32 });
    expect(m.quant!.quantized).toBe(14);
    const s = await listenModelServer(m, { port: 0 });
    try {
      const client = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: "none", maxRetries: 0 });
      const r = await client.completions.create({
        model: "q",
        prompt: "Hello",
        temperature: 0,
        max_tokens: 5,
      });
      expect(r.choices[0].text.length).toBeGreaterThan(0);
      expect(r.usage!.completion_tokens).toBe(5);
    } finally {
      await s.close();
    }
  });
});

describe("quantised ONNX graphs (transformers.js layout)", () => {
  const prompt = [[5, 17, 42, 9, 100, 3, 77]];
  const step = async (file: string) => {
    const d = await OnnxDecoder.open(join(ONNX, "onnx", file), { heads: 2, headDim: 16 });
    const r = await d.step(prompt, [prompt[0].map(() => 1)], [prompt[0].map((_, i) => i)], null);
    await d.close();
    return r.logits;
  };

  it.each([
    ["model_q4.onnx", 0.2],
    ["model_quantized.onnx", 0.05],
  ])("%s runs in onnxruntime close to model.onnx", async (file, tol) => {
    const ref = await step("model.onnx");
    const got = await step(file as string);
    let se = 0;
    let sr = 0;
    for (let i = 0; i < ref.length; i++) {
      se += (got[i] - ref[i]) ** 2;
      sr += ref[i] ** 2;
    }
    const rel = Math.sqrt(se / sr);
    expect(rel).toBeGreaterThan(0); // really quantised
    expect(rel).toBeLessThan(tol as number);
  });

  it("the onnx backend picks them by transformers.js dtype and generates", async () => {
    const out: string[] = [];
    for (const dtype of ["fp32", "q4", "q8"]) {
      const b = await OnnxBackend.load({ model: ONNX, dtype });
      expect(b.name).toContain(
        dtype === "fp32" ? "model.onnx" : dtype === "q4" ? "model_q4.onnx" : "model_quantized.onnx",
      );
      expect(b.usesKvCache).toBe(true);
      const [r] = await b.generate([{ prompt: "Hello world" }], {
        temperature: 0,
        topP: 1,
        maxTokens: 6,
        n: 1,
      });
      out.push(r.completions[0]);
      await b.close();
    }
    expect(out[0].length).toBeGreaterThan(0);
    await expect(OnnxBackend.load({ model: ONNX, dtype: "q3" })).rejects.toThrow(
      /dtype 'q3' is not one of fp32, fp16, q8/,
    );
    await expect(OnnxBackend.load({ model: ONNX, dtype: "fp16" })).rejects.toThrow(
      /model_fp16.onnx: no such ONNX file \(onnx\/ holds model.onnx, model_q4.onnx, model_quantized.onnx\)/,
    );
  });
});
