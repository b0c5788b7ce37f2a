// Parameter shapes of an r1lab model under Hugging Face names, and random initialisation
// (normal(0, initializerRange), norms at 1, biases at 0, routing bias at 0), as transformers does.
import { jaxKey } from "../engine/params.ts";
import { filled, normalInit, type Params } from "../engine/params.ts";
import { type ModelConfig, isMoeLayer, usesMla } from "./config.ts";

export type ParamShapes = Record<string, number[]>;

function attentionShapes(c: ModelConfig, pre: string, out: ParamShapes): void {
  const D = c.hiddenSize;
  const H = c.numAttentionHeads;
  if (usesMla(c)) {
    const qk = c.qkNopeHeadDim + c.qkRopeHeadDim;
    if (c.qLoraRank !== null) {
      out[`${pre}.q_a_proj.weight`] = [c.qLoraRank, D];
      out[`${pre}.q_a_layernorm.weight`] = [c.qLoraRank];
      out[`${pre}.q_b_proj.weight`] = [H * qk, c.qLoraRank];
    } else out[`${pre}.q_proj.weight`] = [H * qk, D];
    out[`${pre}.kv_a_proj_with_mqa.weight`] = [c.kvLoraRank + c.qkRopeHeadDim, D];
    out[`${pre}.kv_a_layernorm.weight`] = [c.kvLoraRank];
    out[`${pre}.kv_b_proj.weight`] = [H * (c.qkNopeHeadDim + c.vHeadDim), c.kvLoraRank];
    out[`${pre}.o_proj.weight`] = [D, H * c.vHeadDim];
    return;
  }
  const hd = c.headDim;
  const kv = c.numKeyValueHeads * hd;
  out[`${pre}.q_proj.weight`] = [H * hd, D];
  out[`${pre}.k_proj.weight`] = [kv, D];
  out[`${pre}.v_proj.weight`] = [kv, D];
  out[`${pre}.o_proj.weight`] = [D, H * hd];
  if (c.attentionBias) {
    out[`${pre}.q_proj.bias`] = [H * hd];
    out[`${pre}.k_proj.bias`] = [kv];
    out[`${pre}.v_proj.bias`] = [kv];
  }
}

function mlpShapes(pre: string, D: number, F: number, out: ParamShapes): void {
  out[`${pre}.gate_proj.weight`] = [F, D];
  out[`${pre}.up_proj.weight`] = [F, D];
  out[`${pre}.down_proj.weight`] = [D, F];
}

function blockShapes(c: ModelConfig, i: number, out: ParamShapes): void {
  const pre = `model.layers.${i}`;
  const D = c.hiddenSize;
  out[`${pre}.input_layernorm.weight`] = [D];
  out[`${pre}.post_attention_layernorm.weight`] = [D];
  attentionShapes(c, `${pre}.self_attn`, out);
  if (!isMoeLayer(c, i)) {
    mlpShapes(`${pre}.mlp`, D, c.intermediateSize, out);
    return;
  }
  out[`${pre}.mlp.gate.weight`] = [c.nRoutedExperts, D];
  out[`${pre}.mlp.gate.e_score_correction_bias`] = [c.nRoutedExperts];
  for (let e = 0; e < c.nRoutedExperts; e++)
    mlpShapes(`${pre}.mlp.experts.${e}`, D, c.moeIntermediateSize, out);
  if (c.nSharedExperts > 0)
    mlpShapes(`${pre}.mlp.shared_experts`, D, c.moeIntermediateSize * c.nSharedExperts, out);
}

/** Every tensor of the model; `withMtp` adds the MTP modules (layers L..L+D-1). */
export function paramShapes(c: ModelConfig, withMtp = true): ParamShapes {
  const out: ParamShapes = { "model.embed_tokens.weight": [c.vocabSize, c.hiddenSize] };
  for (let i = 0; i < c.numHiddenLayers; i++) blockShapes(c, i, out);
  out["model.norm.weight"] = [c.hiddenSize];
  if (!c.tieWordEmbeddings) out["lm_head.weight"] = [c.vocabSize, c.hiddenSize];
  if (withMtp) {
    for (let k = 0; k < c.numNextnPredictLayers; k++) {
      const L = c.numHiddenLayers + k;
      const pre = `model.layers.${L}`;
      blockShapes(c, L, out);
      out[`${pre}.enorm.weight`] = [c.hiddenSize];
      out[`${pre}.hnorm.weight`] = [c.hiddenSize];
      out[`${pre}.eh_proj.weight`] = [c.hiddenSize, 2 * c.hiddenSize];
      out[`${pre}.shared_head.norm.weight`] = [c.hiddenSize];
    }
  }
  return out;
}

/** True for tensors that are not trained by gradient (the routing bias has its own update rule). */
export function isBuffer(name: string): boolean {
  return name.endsWith("e_score_correction_bias");
}

export function initParams(
  c: ModelConfig,
  seed: number,
  opts: { std?: number; withMtp?: boolean } = {},
): Params {
  const std = opts.std ?? 0.02;
  const out: Params = {};
  for (const [name, shape] of Object.entries(paramShapes(c, opts.withMtp ?? true))) {
    const isNormGain = /norm\.weight$/.test(name);
    if (isNormGain) out[name] = filled(shape, 1);
    else if (shape.length === 1) out[name] = filled(shape, 0);
    else out[name] = normalInit(shape, std, jaxKey(seed, name));
  }
  return out;
}
