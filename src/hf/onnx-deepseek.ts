// DeepSeek-V3's layers as ONNX subgraphs for onnx-decoder.ts, mirroring src/model/mla.ts (the
// non-absorbed form: full per-head keys and values) and src/model/moe.ts (experts evaluated densely
// and weighted by the routing gates, as r1lab does for small models).
// MLA: q = W^{UQ} RMSNorm(W^{DQ} h) (or q_proj), [c^KV ; k^R] = W^{DKV} h, [k^C ; v] = W^{UKV} RMSNorm(c^KV);
//   keys [k^C ; k^R] with k^R shared by all heads; softmax scale 1/sqrt(d_qk) with YaRN's mscale^2.
//   DeepSeek's interleaved RoPE pairs are turned into half-split ones by permuting the rows of the
//   projections that produce q^R and k^R (q.k is unchanged: both move alike), so the graph has one
//   RoPE form. With past, the cache holds the per-head keys [B, H, S, nope + rope] and values
//   [B, H, S, v_head_dim] (not the compressed latent).
// MoE: sigmoid (or softmax) affinities, routing bias for the choice only, group-limited top-K via
//   TopK + ScatterElements masks, normalised gates times routed_scaling_factor, shared experts added.
import { mlaSoftmaxScale } from "../model/rope.ts";
import { type AttentionOut, type DecoderOps, transposed, withCache } from "./onnx-decoder.ts";
import { DType, floatRaw } from "../engine/onnx-proto.ts";

/** Rows [base, base + rope) of a [rows, cols] matrix reordered from interleaved to half-split pairs. */
function deinterleaveRows(data: Float32Array, cols: number, bases: number[], rope: number): Float32Array {
  const out = Float32Array.from(data);
  for (const base of bases)
    for (let j = 0; j < rope; j++) {
      const src = j < rope / 2 ? 2 * j : 2 * (j - rope / 2) + 1;
      out.set(data.subarray((base + src) * cols, (base + src + 1) * cols), (base + j) * cols);
    }
  return out;
}

export function mlaAttention(ops: DecoderOps, x: string, at: string, layer: number | null): AttentionOut {
  const { g, c } = ops;
  const H = c.numAttentionHeads;
  const nope = c.qkNopeHeadDim;
  const rope = c.qkRopeHeadDim;
  const R = c.kvLoraRank;
  const qk = nope + rope;
  const vd = c.vHeadDim;
  const permuted = (name: string, bases: number[]) => {
    if (!c.ropeInterleave) return undefined;
    const t = ops.need(`${name}.weight`);
    return deinterleaveRows(t.data, t.shape[1], bases, rope);
  };
  const qBases = Array.from({ length: H }, (_, h) => h * qk + nope);
  const qFlat =
    c.qLoraRank !== null
      ? ops.linear(
          ops.rmsNorm(ops.linear(x, `${at}.q_a_proj`, false), `${at}.q_a_layernorm.weight`),
          `${at}.q_b_proj`,
          false,
          permuted(`${at}.q_b_proj`, qBases),
        )
      : ops.linear(x, `${at}.q_proj`, false, permuted(`${at}.q_proj`, qBases));
  const q = ops.heads(qFlat, H, qk); // [B, H, T, nope + rope]
  const qNope = g.op("Slice", [q, g.ints([0]), g.ints([nope]), g.ints([3])]);
  const qRope = ops.rope(g.op("Slice", [q, g.ints([nope]), g.ints([qk]), g.ints([3])]));
  const kvA = ops.linear(x, `${at}.kv_a_proj_with_mqa`, false, permuted(`${at}.kv_a_proj_with_mqa`, [R]));
  const ckv = ops.rmsNorm(
    g.op("Slice", [kvA, g.ints([0]), g.ints([R]), g.ints([2])]),
    `${at}.kv_a_layernorm.weight`,
  );
  const kRope = ops.rope(
    g.op("Unsqueeze", [g.op("Slice", [kvA, g.ints([R]), g.ints([R + rope]), g.ints([2])]), g.ints([1])]),
  );
  const kv = ops.heads(ops.linear(ckv, `${at}.kv_b_proj`, false), H, nope + vd); // [B, H, T, nope + v]
  const kNope = g.op("Slice", [kv, g.ints([0]), g.ints([nope]), g.ints([3])]);
  const vNew = g.op("Slice", [kv, g.ints([nope]), g.ints([nope + vd]), g.ints([3])]);
  const kNew = g.op("Concat", [kNope, g.op("Expand", [kRope, g.ints([1, H, 1, 1])])], { axis: -1 });
  const k = withCache(ops, layer, "key", kNew, H, qk);
  const v = withCache(ops, layer, "value", vNew, H, vd);
  const qFull = g.op("Concat", [qNope, qRope], { axis: -1 });
  const scores = g.op("Mul", [
    g.op("MatMul", [qFull, g.op("Transpose", [k], { perm: [0, 1, 3, 2] })]),
    g.scalar(mlaSoftmaxScale(c)),
  ]);
  const probs = g.op("Softmax", [g.op("Add", [scores, ops.mask4])], { axis: -1 });
  const o = g.op("MatMul", [probs, v]); // [B, H, T, v]
  const merged = g.op("Reshape", [g.op("Transpose", [o], { perm: [0, 2, 1, 3] }), g.ints([0, 0, H * vd])]);
  return { out: ops.linear(merged, `${at}.o_proj`, false), k, v, kDims: [H, qk], vDims: [H, vd] };
}

/** Experts' weights stacked and transposed: [E, in, out] from E HF matrices [out, in]. */
function stackedT(ops: DecoderOps, prefix: string, E: number, proj: string): string {
  const first = ops.need(`${prefix}.experts.0.${proj}.weight`);
  const [o, i] = first.shape;
  const out = new Float32Array(E * o * i);
  for (let e = 0; e < E; e++)
    out.set(transposed(ops.need(`${prefix}.experts.${e}.${proj}.weight`)), e * o * i);
  return ops.g.weight(`${prefix}.experts.${proj}.stacked_t`, out, [E, i, o]);
}

export function moeFfn(ops: DecoderOps, x: string, prefix: string): string {
  const { g, c } = ops;
  const E = c.nRoutedExperts;
  const D = c.hiddenSize;
  const logits = ops.linear(x, `${prefix}.gate`, false); // [B, T, E]
  const scores =
    c.scoringFunc === "sigmoid" ? g.op("Sigmoid", [logits]) : g.op("Softmax", [logits], { axis: -1 });
  const biasName = `${prefix}.gate.e_score_correction_bias`;
  const bias = ops.w[biasName];
  let choice = bias ? g.op("Add", [scores, g.weight(biasName, bias.data, bias.shape)]) : scores;
  const one = {
    tensor: { name: "one", dims: [1], dataType: DType.FLOAT, raw: floatRaw(Float32Array.of(1)) },
  };
  /** 1 at the top-k indices of the last axis, 0 elsewhere (same shape as t). */
  const topMask = (t: string, k: number) => {
    const [, idx] = g.opN("TopK", [t, g.ints([k])], 2, { axis: -1 });
    const zeros = g.op("ConstantOfShape", [g.op("Shape", [t])]);
    return g.op(
      "ScatterElements",
      [zeros, idx, g.op("ConstantOfShape", [g.op("Shape", [idx])], { value: one })],
      { axis: -1 },
    );
  };
  if (c.nGroup > 1 && c.topkGroup < c.nGroup) {
    const per = E / c.nGroup;
    const grouped = g.op("Reshape", [choice, g.ints([0, 0, c.nGroup, per])]);
    const [top2] = g.opN("TopK", [grouped, g.ints([Math.min(2, per)])], 2, { axis: -1 });
    const groupScore = g.op("ReduceSum", [top2, g.ints([-1])], { keepdims: 0 }); // [B, T, G]
    const keep = g.op("Cast", [g.op("Unsqueeze", [topMask(groupScore, c.topkGroup), g.ints([-1])])], {
      to: DType.BOOL,
    });
    choice = g.op("Reshape", [g.op("Where", [keep, grouped, g.scalar(0)]), g.ints([0, 0, E])]);
  }
  let gates = g.op("Mul", [scores, topMask(choice, c.numExpertsPerTok)]);
  if (c.normTopkProb && c.numExpertsPerTok > 1) {
    const total = g.op("ReduceSum", [gates, g.ints([-1])], { keepdims: 1 });
    gates = g.op("Div", [gates, g.op("Add", [total, g.scalar(1e-20)])]);
  }
  gates = g.op("Mul", [gates, g.scalar(c.routedScalingFactor)]);
  // Every expert on every token: [1, N, D] x [E, D, F] -> [E, N, F] -> [E, N, D], weighted by the gates.
  const flat = g.op("Unsqueeze", [g.op("Reshape", [x, g.ints([-1, D])]), g.ints([0])]);
  const gate = g.op("MatMul", [flat, stackedT(ops, prefix, E, "gate_proj")]);
  const act = g.op("Mul", [
    g.op("Mul", [gate, g.op("Sigmoid", [gate])]),
    g.op("MatMul", [flat, stackedT(ops, prefix, E, "up_proj")]),
  ]);
  const y = g.op("MatMul", [act, stackedT(ops, prefix, E, "down_proj")]);
  const gT = g.op("Unsqueeze", [
    g.op("Transpose", [g.op("Reshape", [gates, g.ints([-1, E])])], { perm: [1, 0] }),
    g.ints([2]),
  ]);
  const routed = g.op("ReduceSum", [g.op("Mul", [y, gT]), g.ints([0])], { keepdims: 0 }); // [N, D]
  let out = g.op("Reshape", [routed, g.op("Shape", [x])]);
  if (c.nSharedExperts > 0) out = g.op("Add", [out, ops.swiglu(x, `${prefix}.shared_experts`)]);
  return out;
}
