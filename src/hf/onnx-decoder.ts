// The r1lab decoder (Qwen2/Llama: RMSNorm, RoPE, GQA attention with optional q/k/v bias, SwiGLU,
// tied or untied head; DeepSeek-V3's MLA and MoE layers) as a standard-ops ONNX graph, mirroring
// src/model/transformer.ts, attention.ts, rope.ts and norm.ts operation by operation:
//   inputs  input_ids [batch, seq] int64, attention_mask [batch, total_seq] int64 (1 = real token)
//   output  logits [batch, seq, vocab] float32
// withPast adds the Optimum decoder-with-past layout that transformers.js and onnxruntime-genai use:
//   position_ids [batch, seq], past_key_values.{i}.key/value [batch, kv_heads, past, head_dim] in,
//   present.{i}.key/value [batch, kv_heads, past + seq, head_dim] out (MLA: all heads, its widths).
// Without past, positions come from the mask (cumsum(mask) - 1, clamped at 0), as in HF generate for
// left-padded batches. The attention mask is additive (-1e9), as in src/model/inputs.ts.
// Linear weights are stored transposed ([in, out]) so each projection is one MatMul.
// Dense attention always uses half-split RoPE pairs, as attention.ts does. DeepSeek-V3's MLA and
// DeepSeekMoE layers come from onnx-deepseek.ts (the MTP modules are training-only: not exported).
import { isMoeLayer, type ModelConfig, usesMla } from "../model/config.ts";
import { ropeDim } from "../model/inputs.ts";
import { ropeInvFreq } from "../model/rope.ts";
import { mlaAttention, moeFfn } from "./onnx-deepseek.ts";
import { GraphBuilder } from "./onnx-graph.ts";
import { DType, type GraphSpec } from "../engine/onnx-proto.ts";

/** Host weights by Hugging Face name: values (row-major) and shape. */
export type HostWeights = Record<string, { data: Float32Array; shape: number[] }>;

/** The graph-building helpers the layer builders share. */
export interface DecoderOps {
  g: GraphBuilder;
  c: ModelConfig;
  w: HostWeights;
  need(name: string): { data: Float32Array; shape: number[] };
  /** x @ W^T (+ b) for the HF weight `${name}.weight`, optionally with its rows permuted first. */
  linear(x: string, name: string, bias: boolean, rows?: Float32Array): string;
  rmsNorm(x: string, weightName: string): string;
  /** [B, T, n*d] -> [B, n, T, d] */
  heads(y: string, n: number, d: number): string;
  /** RoPE on the last axis (ropeDim(c) wide) of a [B, n, T, d] tensor. */
  rope(x: string): string;
  /** Additive mask [B, 1, T, S]. */
  mask4: string;
  swiglu(x: string, prefix: string): string;
}

/** null when the config can be exported, else the reason it cannot. */
export function exportable(c: ModelConfig): string | null {
  if (ropeDim(c) % 2 !== 0) return `the RoPE dim ${ropeDim(c)} is odd; RoPE needs an even dim`;
  if (usesMla(c)) return null;
  if (c.numAttentionHeads % c.numKeyValueHeads !== 0)
    return `num_attention_heads ${c.numAttentionHeads} is not a multiple of num_key_value_heads ${c.numKeyValueHeads}`;
  return null;
}

/** [rows, cols] -> [cols, rows]. */
export function transposed(w: { data: Float32Array; shape: number[] }): Float32Array {
  const [r, c] = w.shape;
  const out = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = w.data[i * c + j];
  return out;
}

export function decoderGraph(c: ModelConfig, w: HostWeights, opts: { withPast: boolean }): GraphSpec {
  const why = exportable(c);
  if (why) throw new Error(`onnx export: ${why}`);
  const g = new GraphBuilder("r1lab_decoder");
  const need = (n: string) => {
    const t = w[n];
    if (!t) throw new Error(`onnx export: weight ${n} is missing`);
    return t;
  };
  const ids = g.input("input_ids", DType.INT64, ["batch_size", "sequence_length"]);
  const mask = g.input("attention_mask", DType.INT64, ["batch_size", "total_sequence_length"]);
  let positions: string;
  if (opts.withPast) positions = g.input("position_ids", DType.INT64, ["batch_size", "sequence_length"]);
  else {
    const cum = g.op("CumSum", [mask, g.ints([1], true)]);
    positions = g.op("Max", [g.op("Sub", [cum, g.ints([1], true)]), g.ints([0], true)]);
  }

  // RoPE tables from positions: angle = pos * invFreq, [B, T, d/2] -> cos/sin [B, 1, T, d].
  const rd = ropeDim(c);
  const { invFreq, attnFactor } = ropeInvFreq(rd, c.ropeTheta, c.ropeScaling);
  const inv = g.weight("rope.inv_freq", Float32Array.from(invFreq), [rd / 2]);
  const posF = g.op("Unsqueeze", [g.op("Cast", [positions], { to: DType.FLOAT }), g.ints([2])]);
  const half = g.op("Mul", [posF, inv]);
  const angles = g.op("Concat", [half, half], { axis: -1 });
  const table = (fn: string) =>
    g.op("Unsqueeze", [g.op("Mul", [g.op(fn, [angles]), g.scalar(attnFactor)]), g.ints([1])]);
  const cos = table("Cos");
  const sin = table("Sin");

  // Additive mask [B, 1, T, S]: query t (slot S - T + t) sees key s when s <= S - T + t and
  // attention_mask[b, s] = 1.
  const T = g.op("Squeeze", [g.op("Shape", [ids], { start: 1, end: 2 }), g.ints([0])]);
  const S = g.op("Squeeze", [g.op("Shape", [mask], { start: 1, end: 2 }), g.ints([0])]);
  const zero = g.ints([0], true);
  const one = g.ints([1], true);
  const qSlot = g.op("Add", [g.op("Range", [zero, T, one]), g.op("Sub", [S, T])]);
  const causal = g.op("LessOrEqual", [
    g.op("Unsqueeze", [g.op("Range", [zero, S, one]), g.ints([0])]),
    g.op("Unsqueeze", [qSlot, g.ints([1])]),
  ]); // [T, S]
  const valid = g.op("Unsqueeze", [g.op("Cast", [mask], { to: DType.BOOL }), g.ints([1, 2])]); // [B, 1, 1, S]
  const mask4 = g.op("Where", [g.op("And", [causal, valid]), g.scalar(0), g.scalar(-1e9)]);

  const ops: DecoderOps = {
    g,
    c,
    w,
    need,
    mask4,
    linear(x, name, bias, rows) {
      const t = need(`${name}.weight`);
      const wt = transposed({ data: rows ?? t.data, shape: t.shape });
      const y = g.op("MatMul", [x, g.weight(`${name}.weight_t`, wt, [t.shape[1], t.shape[0]])]);
      if (!bias) return y;
      const b = need(`${name}.bias`);
      return g.op("Add", [y, g.weight(`${name}.bias`, b.data, b.shape)]);
    },
    rmsNorm(x, name) {
      const ms = g.op("ReduceMean", [g.op("Mul", [x, x])], { axes: [-1], keepdims: 1 });
      const invRms = g.op("Reciprocal", [g.op("Sqrt", [g.op("Add", [ms, g.scalar(c.rmsNormEps)])])]);
      const wn = need(name);
      return g.op("Mul", [g.op("Mul", [x, invRms]), g.weight(name, wn.data, wn.shape)]);
    },
    heads: (y, n, d) =>
      g.op("Transpose", [g.op("Reshape", [y, g.ints([0, 0, n, d])])], { perm: [0, 2, 1, 3] }),
    rope(x) {
      const x1 = g.op("Slice", [x, g.ints([0]), g.ints([rd / 2]), g.ints([3])]);
      const x2 = g.op("Slice", [x, g.ints([rd / 2]), g.ints([rd]), g.ints([3])]);
      const rotated = g.op("Concat", [g.op("Neg", [x2]), x1], { axis: -1 });
      return g.op("Add", [g.op("Mul", [x, cos]), g.op("Mul", [rotated, sin])]);
    },
    swiglu(x, prefix) {
      const gate = ops.linear(x, `${prefix}.gate_proj`, false);
      const act = g.op("Mul", [gate, g.op("Sigmoid", [gate])]);
      const up = ops.linear(x, `${prefix}.up_proj`, false);
      return ops.linear(g.op("Mul", [act, up]), `${prefix}.down_proj`, false);
    },
  };

  const emb = need("model.embed_tokens.weight");
  const embed = g.weight("model.embed_tokens.weight", emb.data, emb.shape);
  let h = g.op("Gather", [embed, ids], { axis: 0 });
  for (let i = 0; i < c.numHiddenLayers; i++) {
    const pre = `model.layers.${i}`;
    const x = ops.rmsNorm(h, `${pre}.input_layernorm.weight`);
    const attend = usesMla(c) ? mlaAttention : gqaAttention;
    const { out, k, v, kDims, vDims } = attend(ops, x, `${pre}.self_attn`, opts.withPast ? i : null);
    if (opts.withPast) {
      g.output(k, `present.${i}.key`, DType.FLOAT, [
        "batch_size",
        kDims[0],
        "total_sequence_length",
        kDims[1],
      ]);
      g.output(v, `present.${i}.value`, DType.FLOAT, [
        "batch_size",
        vDims[0],
        "total_sequence_length",
        vDims[1],
      ]);
    }
    h = g.op("Add", [h, out]);
    const f = ops.rmsNorm(h, `${pre}.post_attention_layernorm.weight`);
    h = g.op("Add", [h, isMoeLayer(c, i) ? moeFfn(ops, f, `${pre}.mlp`) : ops.swiglu(f, `${pre}.mlp`)]);
  }
  const final = ops.rmsNorm(h, "model.norm.weight");
  const head = c.tieWordEmbeddings
    ? g.op("Transpose", [embed], { perm: [1, 0] })
    : g.weight("lm_head.weight_t", transposed(need("lm_head.weight")), [c.hiddenSize, c.vocabSize]);
  g.output(g.op("MatMul", [final, head]), "logits", DType.FLOAT, [
    "batch_size",
    "sequence_length",
    c.vocabSize,
  ]);
  return g.spec();
}

/** An attention block's output, and the keys/values it attended to ([B, heads, S, dim]) with [heads, dim]. */
export interface AttentionOut {
  out: string;
  k: string;
  v: string;
  kDims: [number, number];
  vDims: [number, number];
}

/**
 * With `layer` set, the cached keys/values: past_key_values.{layer}.key/value inputs
 * [B, heads, past, dim] concatenated before this call's, on the time axis.
 */
export function withCache(
  ops: DecoderOps,
  layer: number | null,
  kind: "key" | "value",
  x: string,
  heads: number,
  dim: number,
): string {
  if (layer === null) return x;
  const past = ops.g.input(`past_key_values.${layer}.${kind}`, DType.FLOAT, [
    "batch_size",
    heads,
    "past_sequence_length",
    dim,
  ]);
  return ops.g.op("Concat", [past, x], { axis: 2 });
}

/** Grouped-query attention (attention.ts). GQA without copies: q [B, Hkv, group, T, hd] against k, v [B, Hkv, 1, S, hd]. */
function gqaAttention(ops: DecoderOps, x: string, at: string, layer: number | null): AttentionOut {
  const { g, c } = ops;
  const { numAttentionHeads: H, numKeyValueHeads: Hkv, headDim: hd } = c;
  const q = ops.rope(ops.heads(ops.linear(x, `${at}.q_proj`, c.attentionBias), H, hd));
  const k = withCache(
    ops,
    layer,
    "key",
    ops.rope(ops.heads(ops.linear(x, `${at}.k_proj`, c.attentionBias), Hkv, hd)),
    Hkv,
    hd,
  );
  const v = withCache(
    ops,
    layer,
    "value",
    ops.heads(ops.linear(x, `${at}.v_proj`, c.attentionBias), Hkv, hd),
    Hkv,
    hd,
  );
  const q5 = g.op("Reshape", [q, g.ints([0, Hkv, H / Hkv, -1, hd])]);
  const k5 = g.op("Unsqueeze", [k, g.ints([2])]);
  const v5 = g.op("Unsqueeze", [v, g.ints([2])]);
  const mask5 = g.op("Unsqueeze", [ops.mask4, g.ints([1])]); // [B, 1, 1, T, S]
  const scores = g.op("Mul", [
    g.op("MatMul", [q5, g.op("Transpose", [k5], { perm: [0, 1, 2, 4, 3] })]),
    g.scalar(1 / Math.sqrt(hd)),
  ]);
  const probs = g.op("Softmax", [g.op("Add", [scores, mask5])], { axis: -1 });
  const o = g.op("Reshape", [g.op("MatMul", [probs, v5]), g.ints([0, H, -1, hd])]);
  const merged = g.op("Reshape", [g.op("Transpose", [o], { perm: [0, 2, 1, 3] }), g.ints([0, 0, H * hd])]);
  const out = ops.linear(merged, `${at}.o_proj`, `${at}.o_proj.bias` in ops.w);
  return { out, k, v, kDims: [Hkv, hd], vDims: [Hkv, hd] };
}
