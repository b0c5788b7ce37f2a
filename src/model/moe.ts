// DeepSeekMoE (Dai et al. 2024; DeepSeek-V3 §2.1.2): shared experts that see every token plus
// fine-grained routed experts, of which each token uses the top numExpertsPerTok.
//   s_i = sigmoid(u . e_i)  (or softmax over experts)                   affinities
//   choose top-K of (s_i + b_i), within the topkGroup best of nGroup groups (group score: sum of
//   each group's top-2)                                                  b_i only selects, never weighs
//   g_i = s_i / sum_selected s_j * routedScalingFactor                  gate weights (normTopkProb)
//   y = sum_shared FFN(x) + sum_selected g_i FFN_i(x)
// Auxiliary-loss-free balancing: after each step b_i -= gamma if expert i was overloaded, += gamma
// if underloaded (updateRouterBias). An optional sequence-wise balance loss (alpha) is returned too.
// On the ORT executor only the chosen experts run (moe-dispatch.ts: one GEMM per expert over its
// sorted rows); under jax-js's jit and in eager code the experts are evaluated densely and masked
// (jit cannot compile the scatters of dispatch).
import {
  type Arr,
  add,
  broadcastTo,
  div,
  einsum,
  expandDims,
  greater,
  linear,
  mean,
  mul,
  oneHot,
  reshape,
  sigmoid,
  silu,
  softmax,
  stack,
  stopGradient,
  sum,
  topK,
  where,
} from "../engine/ops.ts";
import type { Params } from "../engine/params.ts";
import { tracingForOrt } from "../engine/trace-target.ts";
import type { ModelConfig } from "./config.ts";
import { expertLinear, fp8Mode } from "./linear.ts";
import { dispatchExperts } from "./moe-dispatch.ts";
import { swiglu } from "./mlp.ts";
import { weightOf } from "./quantize.ts";

export interface MoeOutput {
  out: Arr;
  /** Tokens routed to each expert in this call: [E] (no gradient). */
  load: Arr;
  /** Sequence-wise balance loss sum_i f_i P_i averaged over sequences (scalar; multiply by alpha). */
  balanceLoss: Arr;
}

/** Selection mask [N, E] (1 for the chosen experts) from affinities used for choice [N, E]. */
export function routeMask(c: ModelConfig, choice: Arr): Arr {
  return stopGradient(sum(oneHot(routeChoice(c, choice), c.nRoutedExperts), 1));
}

/** The chosen experts [N, K] (int32, best first) from affinities used for choice [N, E]. */
export function routeChoice(c: ModelConfig, choice: Arr): Arr {
  const E = c.nRoutedExperts;
  const N = choice.shape[0];
  let ch = choice;
  if (c.nGroup > 1 && c.topkGroup < c.nGroup) {
    const grouped = reshape(choice, [N, c.nGroup, E / c.nGroup]);
    const [top2] = topK(grouped, Math.min(2, E / c.nGroup));
    const groupScore = sum(top2, -1); // [N, G]
    const [, gIdx] = topK(groupScore, c.topkGroup);
    const gMask = sum(oneHot(gIdx, c.nGroup), 1); // [N, G]
    const eMask = reshape(broadcastTo(expandDims(gMask, -1), [N, c.nGroup, E / c.nGroup]), [N, E]);
    // transformers fills the experts of dropped groups with 0.0 before the top-K.
    ch = where(greater(eMask, 0), choice, 0);
  }
  const [, idx] = topK(ch, c.numExpertsPerTok);
  return stopGradient(idx);
}

export function moe(p: Params, prefix: string, c: ModelConfig, x: Arr): MoeOutput {
  const [B, T, D] = x.shape;
  const E = c.nRoutedExperts;
  const flat = reshape(x, [B * T, D]);
  const logits = linear(flat, p[`${prefix}.gate.weight`]);
  const scores = c.scoringFunc === "sigmoid" ? sigmoid(logits) : softmax(logits, -1);
  const biasKey = `${prefix}.gate.e_score_correction_bias`;
  const choice = stopGradient(p[biasKey] ? add(scores, p[biasKey]) : scores);
  const idx = routeChoice(c, choice); // [N, K]
  const sel = stopGradient(sum(oneHot(idx, E), 1)); // [N, E]
  let gates = mul(scores, sel);
  if (c.normTopkProb && c.numExpertsPerTok > 1)
    gates = div(gates, add(sum(gates, -1, { keepdims: true }), 1e-20));
  gates = mul(gates, c.routedScalingFactor);
  // [E, F, D] stacks of the per-expert HF weights.
  const stackW = (n: string) =>
    stack(
      Array.from({ length: E }, (_, e) => weightOf(p[`${prefix}.experts.${e}.${n}.weight`])),
      0,
    );
  let out: Arr;
  if (tracingForOrt() && fp8Mode() === "none") {
    // Only the chosen experts (moe-dispatch.ts); gate of each choice [N, K].
    const gk = sum(mul(expandDims(gates, 1), oneHot(idx, E)), -1);
    const w = { gate: stackW("gate_proj"), up: stackW("up_proj"), down: stackW("down_proj") };
    out = dispatchExperts(flat, idx, gk, w);
  } else {
    // Dense: every expert on every token, weighted by the (mostly zero) gates.
    const h = mul(
      silu(expertLinear("nd,efd->enf", flat, stackW("gate_proj"))),
      expertLinear("nd,efd->enf", flat, stackW("up_proj")),
    );
    out = einsum("ne,end->nd", gates, expertLinear("enf,edf->end", h, stackW("down_proj")));
  }
  if (c.nSharedExperts > 0) out = add(out, swiglu(p, `${prefix}.shared_experts`, flat));
  // Balance statistics: f_i = E/(K T) * tokens of the sequence on expert i, P_i = mean_t s'_i.
  const selSeq = reshape(sel, [B, T, E]);
  const sNorm = reshape(div(scores, sum(scores, -1, { keepdims: true })), [B, T, E]);
  const f = mul(sum(selSeq, 1), E / (c.numExpertsPerTok * T));
  const P = mean(sNorm, 1);
  const balanceLoss = mean(sum(mul(f, P), -1));
  return { out: reshape(out, [B, T, D]), load: stopGradient(sum(sel, 0)), balanceLoss };
}

/** Auxiliary-loss-free bias update on the host: b_i += gamma * sign(mean load - load_i). */
export function updateRouterBias(bias: Float32Array, load: ArrayLike<number>, gamma: number): Float32Array {
  let meanLoad = 0;
  for (let i = 0; i < load.length; i++) meanLoad += load[i] / load.length;
  const out = new Float32Array(bias.length);
  for (let i = 0; i < bias.length; i++) out[i] = bias[i] + gamma * Math.sign(meanLoad - load[i]);
  return out;
}

/** Max load over mean load (1 = perfectly balanced), the imbalance figure reports show. */
export function loadImbalance(load: ArrayLike<number>): number {
  let max = 0;
  let total = 0;
  for (let i = 0; i < load.length; i++) {
    max = Math.max(max, load[i]);
    total += load[i];
  }
  return total > 0 ? max / (total / load.length) : 1;
}
