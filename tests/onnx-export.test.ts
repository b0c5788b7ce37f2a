// The ONNX exporter against r1lab's own forward and against transformers: each checkpoint in
// tests/fixtures/hf-reference/ (Qwen2, Llama, DeepSeek-V3) and random tiny models (GQA/MHA, bias
// or not, tied or untied, RoPE scalings; MLA + MoE variants) are exported, run by onnxruntime, and their logits compared
// with the native forward at every position (1e-4) and with the fixture's reference.json (1e-4).
// The Optimum KV-cache graph must give the same logits one token at a time as the full graph,
// and a left-padded row the same logits as the row alone.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initEngine } from "../src/engine/device.ts";
import { fromArray } from "../src/engine/ops.ts";
import { type Params, toHost } from "../src/engine/params.ts";
import { tidy } from "../src/engine/scope.ts";
import { loadModel } from "../src/hf/checkpoint.ts";
import { exportOnnx, hostWeightsOf, onnxModelBytes, writeChunks } from "../src/hf/onnx-export.ts";
import { exportable } from "../src/hf/onnx-decoder.ts";
import { varint } from "../src/engine/onnx-proto.ts";
import type { ModelConfig } from "../src/model/config.ts";
import { initParams } from "../src/model/init.ts";
import { causalInputs } from "../src/model/inputs.ts";
import { tinyDeepSeek, tinyDense } from "../src/model/presets.ts";
import { forward } from "../src/model/transformer.ts";

const FIXTURES = join(import.meta.dirname, "fixtures/hf-reference");
const tmp = mkdtempSync(join(tmpdir(), "r1lab-onnx-export-"));
const TOL = 1e-4;

beforeAll(async () => {
  await initEngine({ device: "cpu" });
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Native logits [B * T * V] of rows of equal length. */
async function nativeLogits(p: Params, c: ModelConfig, rows: number[][]): Promise<Float32Array> {
  const B = rows.length;
  const T = rows[0].length;
  const out = tidy(
    () => forward(p, c, fromArray(rows.flat(), [B, T], "int32"), causalInputs(c, B, T)).logits,
  );
  const host = await toHost(out);
  out.dispose();
  return host as Float32Array;
}

const i64 = (v: number[], dims: number[]) =>
  new ort.Tensor(
    "int64",
    BigInt64Array.from(v, (x) => BigInt(x)),
    dims,
  );

/** onnxruntime logits of `rows` (left-padded with `masks` when given), graph without past. */
async function onnxLogits(
  s: ort.InferenceSession,
  rows: number[][],
  masks?: number[][],
): Promise<Float32Array> {
  const B = rows.length;
  const T = rows[0].length;
  const m = masks ?? rows.map((r) => r.map(() => 1));
  const out = await s.run({ input_ids: i64(rows.flat(), [B, T]), attention_mask: i64(m.flat(), [B, T]) });
  expect(out.logits.dims).toEqual([B, T, out.logits.dims[2]]);
  return out.logits.data as Float32Array;
}

describe.each(["tiny-qwen2", "tiny-llama", "tiny-deepseek-v3"])("fixture %s", (name) => {
  it("logits equal the native forward and transformers' reference within 1e-4", async () => {
    const m = await loadModel(join(FIXTURES, name));
    const ref = JSON.parse(readFileSync(join(FIXTURES, name, "reference.json"), "utf8"));
    const path = await exportOnnx(
      join(tmp, name),
      { config: m.config, params: m.params, tokenizer: m.tokenizer },
      { withPast: false },
    );
    expect(path).toBe(join(tmp, name, "onnx", "model.onnx"));
    const s = await ort.InferenceSession.create(path);
    const ids: number[] = ref.input_ids;
    const T = ids.length;
    const V = m.config.vocabSize;
    const got = await onnxLogits(s, [ids]);
    expect(maxAbsDiff(got, await nativeLogits(m.params, m.config, [ids]))).toBeLessThan(TOL);
    expect(maxAbsDiff(got.subarray(0, V), ref.logits_first)).toBeLessThan(TOL);
    expect(maxAbsDiff(got.subarray((T - 1) * V), ref.logits_last)).toBeLessThan(TOL);
    const argmax = Array.from({ length: T }, (_, t) => {
      let b = 0;
      for (let i = 1; i < V; i++) if (got[t * V + i] > got[t * V + b]) b = i;
      return b;
    });
    expect(argmax).toEqual(ref.argmax_all);
    await s.release();
  });
});

it("refuses what it cannot express, with the reason", async () => {
  const c = tinyDense(50, { hiddenSize: 28, numAttentionHeads: 4, headDim: 7, numKeyValueHeads: 2 });
  expect(exportable(c)).toMatch(/RoPE dim 7 is odd/);
  await expect(exportOnnx(join(tmp, "odd"), { config: c, params: {} })).rejects.toThrow(
    /export-onnx: the RoPE dim 7 is odd/,
  );
  expect(exportable(tinyDense(50, { numKeyValueHeads: 3 }))).toMatch(
    /not a multiple of num_key_value_heads 3/,
  );
});

const small = { hiddenSize: 32, numHiddenLayers: 2, numAttentionHeads: 4, headDim: 8, intermediateSize: 40 };
const VARIANTS: [string, ModelConfig][] = [
  ["qwen2 GQA, bias, untied", tinyDense(50, small)],
  [
    "llama MHA, no bias, tied",
    tinyDense(50, {
      ...small,
      modelType: "llama",
      numKeyValueHeads: 4,
      attentionBias: false,
      tieWordEmbeddings: true,
    }),
  ],
  [
    "llama3 RoPE scaling",
    tinyDense(50, {
      ...small,
      ropeScaling: { ropeType: "llama3", factor: 8, originalMaxPositionEmbeddings: 16 },
    }),
  ],
  [
    "yarn scaling, one kv head",
    tinyDense(50, {
      ...small,
      numKeyValueHeads: 1,
      ropeScaling: { ropeType: "yarn", factor: 4, originalMaxPositionEmbeddings: 32 },
    }),
  ],
  // DeepSeek-V3 in miniature: MLA with q_lora_rank, interleaved RoPE, sigmoid routing over 2 groups,
  // a shared expert, a dense first layer; then no q_lora_rank, softmax routing, YaRN, no shared expert.
  [
    "tinyDeepSeek",
    tinyDeepSeek(50, {
      ...small,
      kvLoraRank: 16,
      qLoraRank: 24,
      qkNopeHeadDim: 8,
      qkRopeHeadDim: 4,
      vHeadDim: 8,
      moeIntermediateSize: 16,
    }),
  ],
  [
    "tinyDeepSeek: q_proj, softmax routing, YaRN",
    tinyDeepSeek(50, {
      ...small,
      kvLoraRank: 16,
      qLoraRank: null,
      qkNopeHeadDim: 8,
      qkRopeHeadDim: 4,
      vHeadDim: 6,
      moeIntermediateSize: 16,
      scoringFunc: "softmax",
      nGroup: 1,
      topkGroup: 1,
      nSharedExperts: 0,
      routedScalingFactor: 2.5,
      ropeScaling: {
        ropeType: "yarn",
        factor: 4,
        originalMaxPositionEmbeddings: 32,
        mscale: 1,
        mscaleAllDim: 0.7,
      },
    }),
  ],
];

describe.each(VARIANTS)("random %s", (_label, c) => {
  let p: Params;
  let full: ort.InferenceSession;
  let cached: ort.InferenceSession;
  const rows = [
    [1, 5, 9, 13, 17, 21, 25, 29, 33, 37],
    [1, 40, 3, 3, 7, 49, 12, 2, 0, 8],
  ];
  beforeAll(async () => {
    // Larger weights than the default 0.02 so that attention is far from uniform.
    p = initParams(c, 7, { std: 0.3, withMtp: false });
    // The graph alone (the folder layout is checked with the fixtures above).
    const w = await hostWeightsOf(p);
    const file = (withPast: boolean) => {
      const f = join(tmp, `${_label.replace(/\W+/g, "-")}-${withPast}.onnx`);
      writeChunks(f, onnxModelBytes(c, w, withPast));
      return f;
    };
    full = await ort.InferenceSession.create(file(false));
    cached = await ort.InferenceSession.create(file(true));
  });

  it("full-sequence logits equal the native forward (batch of 2)", async () => {
    expect(maxAbsDiff(await onnxLogits(full, rows), await nativeLogits(p, c, rows))).toBeLessThan(TOL);
  });

  it("a left-padded row gives the logits of the row alone", async () => {
    const short = rows[1].slice(0, 6);
    const padded = [rows[0], [0, 0, 0, 0, ...short]];
    const masks = [rows[0].map(() => 1), [0, 0, 0, 0, 1, 1, 1, 1, 1, 1]];
    const got = await onnxLogits(full, padded, masks);
    const alone = await onnxLogits(full, [short]);
    const V = c.vocabSize;
    expect(maxAbsDiff(got.subarray((10 + 4) * V, 20 * V), alone)).toBeLessThan(TOL);
    expect(maxAbsDiff(got.subarray(0, 10 * V), await onnxLogits(full, [rows[0]]))).toBeLessThan(TOL);
  });

  it("past_key_values: prefill then one token at a time equals the full graph", async () => {
    const B = rows.length;
    const V = c.vocabSize;
    const want = await onnxLogits(full, rows);
    let past: Record<string, ort.Tensor> = {};
    for (const m of cached.inputMetadata as unknown as { name: string; shape: number[] }[])
      if (m.name.startsWith("past_key_values."))
        past[m.name] = new ort.Tensor("float32", new Float32Array(0), [B, m.shape[1], 0, m.shape[3]]);
    expect(Object.keys(past)).toHaveLength(2 * c.numHiddenLayers);
    const P = 7;
    for (let t = P; t <= 10; t++) {
      const start = t === P ? 0 : t - 1;
      const ids = rows.map((r) => r.slice(start, t));
      const n = t - start;
      const out = await cached.run({
        input_ids: i64(ids.flat(), [B, n]),
        attention_mask: i64(Array(B * t).fill(1), [B, t]),
        position_ids: i64(
          rows.flatMap(() => Array.from({ length: n }, (_, j) => start + j)),
          [B, n],
        ),
        ...past,
      });
      expect(out["present.0.key"].dims).toEqual([
        B,
        past["past_key_values.0.key"].dims[1],
        t,
        past["past_key_values.0.key"].dims[3],
      ]);
      const lg = out.logits.data as Float32Array;
      for (let b = 0; b < B; b++)
        for (let j = 0; j < n; j++) {
          const pos = start + j;
          const a = lg.subarray((b * n + j) * V, (b * n + j + 1) * V);
          const e = want.subarray((b * 10 + pos) * V, (b * 10 + pos + 1) * V);
          expect(maxAbsDiff(a, e)).toBeLessThan(TOL);
        }
      past = {};
      for (let i = 0; i < c.numHiddenLayers; i++)
        for (const kv of ["key", "value"]) past[`past_key_values.${i}.${kv}`] = out[`present.${i}.${kv}`];
    }
  });
});

it("varints: protobuf's encoding of small, multi-byte and negative int64 values", () => {
  expect(Array.from(varint(1))).toEqual([1]);
  expect(Array.from(varint(300))).toEqual([0xac, 0x02]);
  const minus1 = varint(-1);
  expect(minus1.length).toBe(10);
  expect(Array.from(minus1)).toEqual([...Array(9).fill(0xff), 0x01]);
});
