// The r1lab dense decoder (Qwen2/Llama: RMSNorm, RoPE, GQA attention with optional q/k/v bias,
// SwiGLU, tied or untied head) as a standard-ops ONNX graph, mirroring src/model/transformer.ts,
// attention.ts, rope.ts and norm.ts operation by operation:
//   inputs  input_ids [batch, seq] int64, attention_mask [batch, total_seq] int64 (1 = real token)
//   output  logits [batch, seq, vocab] float32
// withPast adds the Optimum decoder-with-past layout that transformers.js and onnxruntime-genai use:
//   position_ids [batch, seq], past_key_values.{i}.key/value [batch, kv_heads, past, head_dim] in,
//   present.{i}.key/value [batch, kv_heads, past + seq, head_dim] out.
// Without past, positions come from the mask (cumsum(mask) - 1, clamped at 0), as in HF generate for
// left-padded batches. The attention mask is additive (-1e9), as in src/model/inputs.ts.
// Linear weights are stored transposed ([in, out]) so each projection is one MatMul.
// MLA and MoE (DeepSeek-V3) are not exported: exportable() says why. Dense attention always uses
// half-split RoPE pairs, as attention.ts does (ropeInterleave applies to MLA only).
import { type ModelConfig, usesMla } from "../model/config.ts";
import { ropeInvFreq } from "../model/rope.ts";
import { GraphBuilder } from "./onnx-graph.ts";
import { DType, type GraphSpec } from "./onnx-proto.ts";

/** Host weights by Hugging Face name: values (row-major) and shape. */
export type HostWeights = Record<string, { data: Float32Array; shape: number[] }>;

/** null when the config can be exported, else the reason it cannot. */
export function exportable(c: ModelConfig): string | null {
  if (usesMla(c) || c.nRoutedExperts > 0)
    return `model_type ${c.modelType} (MLA / DeepSeekMoE) is not supported by the ONNX exporter yet; only dense qwen2/llama models`;
  if (c.headDim % 2 !== 0) return `head_dim ${c.headDim} is odd; RoPE needs an even head_dim`;
  if (c.numAttentionHeads % c.numKeyValueHeads !== 0)
    return `num_attention_heads ${c.numAttentionHeads} is not a multiple of num_key_value_heads ${c.numKeyValueHeads}`;
  return null;
}

/** [rows, cols] -> [cols, rows]. */
function transposed(w: { data: Float32Array; shape: number[] }): Float32Array {
  const [r, c] = w.shape;
  const out = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = w.data[i * c + j];
  return out;
}

export function decoderGraph(c: ModelConfig, w: HostWeights, opts: { withPast: boolean }): GraphSpec {
  const why = exportable(c);
  if (why) throw new Error(`onnx export: ${why}`);
  const need = (n: string) => {
    const t = w[n];
    if (!t) throw new Error(`onnx export: weight ${n} is missing`);
    return t;
  };
  const g = new GraphBuilder("r1lab_decoder");
  const { numHiddenLayers: L, numAttentionHeads: H, numKeyValueHeads: Hkv, headDim: hd, hiddenSize: D } = c;
  const V = c.vocabSize;
  const group = H / Hkv;

  const ids = g.input("input_ids", DType.INT64, ["batch_size", "sequence_length"]);
  const mask = g.input("attention_mask", DType.INT64, ["batch_size", "total_sequence_length"]);
  let positions: string;
  if (opts.withPast) positions = g.input("position_ids", DType.INT64, ["batch_size", "sequence_length"]);
  else {
    const cum = g.op("CumSum", [mask, g.ints([1], true)]);
    positions = g.op("Max", [g.op("Sub", [cum, g.ints([1], true)]), g.ints([0], true)]);
  }

  // RoPE tables from positions: angle = pos * invFreq, [B, T, hd/2] -> cos/sin [B, 1, T, hd].
  const { invFreq, attnFactor } = ropeInvFreq(hd, c.ropeTheta, c.ropeScaling);
  const inv = g.weight("rope.inv_freq", Float32Array.from(invFreq), [hd / 2]);
  const posF = g.op("Unsqueeze", [g.op("Cast", [positions], { to: DType.FLOAT }), g.ints([2])]);
  const half = g.op("Mul", [posF, inv]);
  const angles = g.op("Concat", [half, half], { axis: -1 });
  const table = (fn: string) =>
    g.op("Unsqueeze", [g.op("Mul", [g.op(fn, [angles]), g.scalar(attnFactor)]), g.ints([1])]);
  const cos = table("Cos");
  const sin = table("Sin");
  const rope = (x: string) => {
    const x1 = g.op("Slice", [x, g.ints([0]), g.ints([hd / 2]), g.ints([3])]);
    const x2 = g.op("Slice", [x, g.ints([hd / 2]), g.ints([hd]), g.ints([3])]);
    const rotated = g.op("Concat", [g.op("Neg", [x2]), x1], { axis: -1 });
    return g.op("Add", [g.op("Mul", [x, cos]), g.op("Mul", [rotated, sin])]);
  };

  // Additive mask [B, 1, 1, T, S]: query t (slot S - T + t) sees key s when s <= S - T + t and
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
  const valid = g.op("Unsqueeze", [g.op("Cast", [mask], { to: DType.BOOL }), g.ints([1, 2, 3])]); // [B,1,1,1,S]
  const allowed = g.op("And", [causal, valid]); // [B, 1, 1, T, S]
  const addMask = g.op("Where", [allowed, g.scalar(0), g.scalar(-1e9)]);

  const linear = (x: string, name: string, bias: boolean) => {
    const t = need(`${name}.weight`);
    const y = g.op("MatMul", [x, g.weight(`${name}.weight_t`, transposed(t), [t.shape[1], t.shape[0]])]);
    if (!bias) return y;
    const b = need(`${name}.bias`);
    return g.op("Add", [y, g.weight(`${name}.bias`, b.data, b.shape)]);
  };
  const rmsNorm = (x: string, name: string) => {
    const ms = g.op("ReduceMean", [g.op("Mul", [x, x])], { axes: [-1], keepdims: 1 });
    const invRms = g.op("Reciprocal", [g.op("Sqrt", [g.op("Add", [ms, g.scalar(c.rmsNormEps)])])]);
    const wn = need(name);
    return g.op("Mul", [g.op("Mul", [x, invRms]), g.weight(name, wn.data, wn.shape)]);
  };
  // [B, T, n*hd] -> [B, n, T, hd]
  const heads = (y: string, n: number) =>
    g.op("Transpose", [g.op("Reshape", [y, g.ints([0, 0, n, hd])])], { perm: [0, 2, 1, 3] });

  const emb = need("model.embed_tokens.weight");
  const embed = g.weight("model.embed_tokens.weight", emb.data, emb.shape);
  let h = g.op("Gather", [embed, ids], { axis: 0 });
  const kvDims = ["batch_size", Hkv, "past_sequence_length", hd];
  const presentDims = ["batch_size", Hkv, "total_sequence_length", hd];
  for (let i = 0; i < L; i++) {
    const pre = `model.layers.${i}`;
    const at = `${pre}.self_attn`;
    const x = rmsNorm(h, `${pre}.input_layernorm.weight`);
    const q = rope(heads(linear(x, `${at}.q_proj`, c.attentionBias), H));
    let k = rope(heads(linear(x, `${at}.k_proj`, c.attentionBias), Hkv));
    let v = heads(linear(x, `${at}.v_proj`, c.attentionBias), Hkv);
    if (opts.withPast) {
      const pk = g.input(`past_key_values.${i}.key`, DType.FLOAT, kvDims);
      const pv = g.input(`past_key_values.${i}.value`, DType.FLOAT, kvDims);
      k = g.op("Concat", [pk, k], { axis: 2 });
      v = g.op("Concat", [pv, v], { axis: 2 });
      g.output(k, `present.${i}.key`, DType.FLOAT, presentDims);
      g.output(v, `present.${i}.value`, DType.FLOAT, presentDims);
    }
    // GQA without copies: q [B, Hkv, group, T, hd] against k, v [B, Hkv, 1, S, hd].
    const q5 = g.op("Reshape", [q, g.ints([0, Hkv, group, -1, hd])]);
    const k5 = g.op("Unsqueeze", [k, g.ints([2])]);
    const v5 = g.op("Unsqueeze", [v, g.ints([2])]);
    const scores = g.op("Mul", [
      g.op("MatMul", [q5, g.op("Transpose", [k5], { perm: [0, 1, 2, 4, 3] })]),
      g.scalar(1 / Math.sqrt(hd)),
    ]);
    const probs = g.op("Softmax", [g.op("Add", [scores, addMask])], { axis: -1 });
    const o = g.op("Reshape", [g.op("MatMul", [probs, v5]), g.ints([0, H, -1, hd])]);
    const merged = g.op("Reshape", [g.op("Transpose", [o], { perm: [0, 2, 1, 3] }), g.ints([0, 0, H * hd])]);
    const attnOut = linear(merged, `${at}.o_proj`, `${at}.o_proj.bias` in w);
    h = g.op("Add", [h, attnOut]);
    const f = rmsNorm(h, `${pre}.post_attention_layernorm.weight`);
    const mlp = `${pre}.mlp`;
    const gate = linear(f, `${mlp}.gate_proj`, false);
    const act = g.op("Mul", [gate, g.op("Sigmoid", [gate])]);
    const up = linear(f, `${mlp}.up_proj`, false);
    h = g.op("Add", [h, linear(g.op("Mul", [act, up]), `${mlp}.down_proj`, false)]);
  }
  const final = rmsNorm(h, "model.norm.weight");
  const head = c.tieWordEmbeddings
    ? g.op("Transpose", [embed], { perm: [1, 0] })
    : g.weight("lm_head.weight_t", transposed(need("lm_head.weight")), [D, V]);
  g.output(g.op("MatMul", [final, head]), "logits", DType.FLOAT, ["batch_size", "sequence_length", V]);
  return g.spec();
}
