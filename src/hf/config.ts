// Hugging Face config.json <-> ModelConfig. parseHfConfig reads the configs of Qwen2, Llama (and
// Mistral without a sliding window, which is the Llama architecture) and DeepSeek-V3 as written by
// the Hub checkpoints (`rope_theta` + `rope_scaling`) and by transformers 5 (`rope_parameters`).
// toHfConfig writes a config.json that transformers 4.x/5.x and vLLM load: `rope_theta` at top level,
// `rope_scaling` only when set. Fields the config omits take transformers' defaults (HF_DEFAULTS,
// the one place they are written down); a field our decoder cannot honour is an error, never ignored.
import type { ModelConfig, ModelType } from "../model/config.ts";
import { Fields, show } from "./fields.ts";
import { parseRope, ropeScalingJson } from "./rope-config.ts";

type HfModelType = "qwen2" | "llama" | "mistral" | "deepseek_v3";
export const SUPPORTED_MODEL_TYPES: readonly HfModelType[] = ["qwen2", "llama", "mistral", "deepseek_v3"];

/**
 * What transformers assumes when config.json leaves a field out, per model_type. A field in neither
 * this table nor the derived defaults below is required. Derived defaults: num_key_value_heads =
 * num_attention_heads (llama, deepseek_v3; required for qwen2 and mistral, whose transformers defaults
 * 32 and 8 are never what a small model means); head_dim = hidden_size / num_attention_heads (dense)
 * or qk_rope_head_dim (deepseek_v3, as DeepseekV3Config sets it).
 */
// biome-ignore format: a table reads best one model type per row
export const HF_DEFAULTS: Record<HfModelType, Record<string, unknown>> = {
  qwen2: { rms_norm_eps: 1e-6, rope_theta: 10000, tie_word_embeddings: false, attention_bias: true, bos_token_id: null, eos_token_id: null, pad_token_id: null, num_nextn_predict_layers: 0 },
  llama: { rms_norm_eps: 1e-6, rope_theta: 10000, tie_word_embeddings: false, attention_bias: false, bos_token_id: 1, eos_token_id: 2, pad_token_id: null, num_nextn_predict_layers: 0 },
  mistral: { rms_norm_eps: 1e-6, rope_theta: 10000, tie_word_embeddings: false, attention_bias: false, bos_token_id: 1, eos_token_id: 2, pad_token_id: null, num_nextn_predict_layers: 0 },
  deepseek_v3: {
    rms_norm_eps: 1e-6, rope_theta: 10000, tie_word_embeddings: false, attention_bias: false, bos_token_id: 0, eos_token_id: 1, pad_token_id: null,
    rope_interleave: true, n_shared_experts: 1, first_k_dense_replace: 3, n_group: 8, topk_group: 4, norm_topk_prob: true,
    routed_scaling_factor: 2.5, scoring_func: "sigmoid", topk_method: "noaux_tc", moe_layer_freq: 1, num_nextn_predict_layers: 0,
  },
};

/** The MLA/MoE fields of a dense model (what parseHfConfig returns for qwen2/llama). */
// biome-ignore format: one group of fields per line
export const DENSE_MOE_FIELDS = {
  qLoraRank: null, kvLoraRank: 0, qkNopeHeadDim: 0, qkRopeHeadDim: 0, vHeadDim: 0,
  nRoutedExperts: 0, nSharedExperts: 0, numExpertsPerTok: 0, moeIntermediateSize: 0, firstKDenseReplace: 0,
  nGroup: 1, topkGroup: 1, normTopkProb: true, routedScalingFactor: 1, scoringFunc: "sigmoid",
} as const satisfies Partial<ModelConfig>;

const ARCHITECTURES: Record<ModelType, string> = {
  qwen2: "Qwen2ForCausalLM",
  llama: "LlamaForCausalLM",
  deepseek_v3: "DeepseekV3ForCausalLM",
};

/** Parse a Hugging Face config.json (already JSON.parse'd). `file` names it in errors. */
export function parseHfConfig(json: unknown, file: string): ModelConfig {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new Error(`${file}: expected a JSON object, got ${show(json)}`);
  }
  const j = json as Record<string, unknown>;
  const hfType = j.model_type;
  if (!SUPPORTED_MODEL_TYPES.includes(hfType as HfModelType)) {
    throw new Error(
      `${file}: model_type ${show(hfType)} is not supported; supported: ${SUPPORTED_MODEL_TYPES.join(", ")}`,
    );
  }
  const t = hfType as HfModelType;
  const modelType: ModelType = t === "mistral" ? "llama" : t;
  const f = new Fields(j, file, HF_DEFAULTS[t]);

  f.only("hidden_act", ["silu"], "an activation other than silu");
  f.only("mlp_bias", [false], "a bias on the MLP projections");
  f.only("use_sliding_window", [false], "sliding-window attention");
  if (
    t === "mistral" &&
    j.sliding_window != null &&
    f.int("sliding_window") < f.int("max_position_embeddings")
  ) {
    throw new Error(
      `${file}: field "sliding_window" is ${show(j.sliding_window)}: sliding-window attention is not supported (allowed: null)`,
    );
  }
  f.only("partial_rotary_factor", [1, null], "RoPE on part of each head");
  if (t === "qwen2") f.only("attention_bias", [true], "Qwen2 without q/k/v bias");
  if (t === "deepseek_v3") f.only("attention_bias", [false], "a bias on MLA projections");

  const hiddenSize = f.int("hidden_size");
  const numAttentionHeads = f.int("num_attention_heads");
  const mla = t === "deepseek_v3";
  // null counts as absent for the two derived fields, as in transformers.
  const derived = new Fields(
    { ...j, num_key_value_heads: j.num_key_value_heads ?? undefined, head_dim: j.head_dim ?? undefined },
    file,
    {
      ...(t === "llama" || mla ? { num_key_value_heads: numAttentionHeads } : {}),
      head_dim: mla ? f.int("qk_rope_head_dim") : hiddenSize / numAttentionHeads,
    },
  );
  // DeepseekV3Config defines head_dim as qk_rope_head_dim (the RoPE width); anything else is a conflict.
  if (mla && derived.int("head_dim") !== f.int("qk_rope_head_dim")) {
    derived.bad("head_dim", `equal to qk_rope_head_dim (${f.int("qk_rope_head_dim")}) for deepseek_v3`);
  }
  const numKeyValueHeads = derived.int("num_key_value_heads");
  if (numAttentionHeads % numKeyValueHeads !== 0) {
    f.bad("num_key_value_heads", `a divisor of num_attention_heads (${numAttentionHeads})`);
  }
  const { ropeTheta, ropeScaling } = parseRope(f, j, file);

  const c: ModelConfig = {
    modelType,
    vocabSize: f.int("vocab_size"),
    hiddenSize,
    numHiddenLayers: f.int("num_hidden_layers"),
    numAttentionHeads,
    numKeyValueHeads,
    headDim: derived.int("head_dim"),
    intermediateSize: f.int("intermediate_size"),
    rmsNormEps: f.positive("rms_norm_eps"),
    ropeTheta,
    ropeScaling,
    ropeInterleave: mla ? f.bool("rope_interleave") : false,
    maxPositionEmbeddings: f.int("max_position_embeddings"),
    tieWordEmbeddings: f.bool("tie_word_embeddings"),
    attentionBias: f.bool("attention_bias"),
    bosTokenId: f.intOrNull("bos_token_id"),
    eosTokenId: f.tokenIds("eos_token_id"),
    padTokenId: f.intOrNull("pad_token_id"),
    ...DENSE_MOE_FIELDS,
    numNextnPredictLayers: f.int("num_nextn_predict_layers", 0),
  };
  if (!mla) return c;

  f.only(
    "topk_method",
    ["noaux_tc"],
    "routing other than noaux_tc (group-limited top-k with a score-correction bias)",
  );
  f.only("moe_layer_freq", [1], "MoE on every k-th layer");
  const nRoutedExperts = f.int("n_routed_experts");
  const nGroup = f.int("n_group");
  if (nRoutedExperts % nGroup !== 0) f.bad("n_group", `a divisor of n_routed_experts (${nRoutedExperts})`);
  const topkGroup = f.int("topk_group");
  if (topkGroup > nGroup) f.bad("topk_group", `at most n_group (${nGroup})`);
  const numExpertsPerTok = f.int("num_experts_per_tok");
  if (numExpertsPerTok > (nRoutedExperts / nGroup) * topkGroup) {
    f.bad(
      "num_experts_per_tok",
      `at most the experts in topk_group groups (${(nRoutedExperts / nGroup) * topkGroup})`,
    );
  }
  return {
    ...c,
    qLoraRank: f.intOrNull("q_lora_rank", 1),
    kvLoraRank: f.int("kv_lora_rank"),
    qkNopeHeadDim: f.int("qk_nope_head_dim"),
    qkRopeHeadDim: f.int("qk_rope_head_dim"),
    vHeadDim: f.int("v_head_dim"),
    nRoutedExperts,
    nSharedExperts: f.int("n_shared_experts", 0),
    numExpertsPerTok,
    moeIntermediateSize: f.int("moe_intermediate_size"),
    firstKDenseReplace: f.int("first_k_dense_replace", 0),
    nGroup,
    topkGroup,
    normTopkProb: f.bool("norm_topk_prob"),
    routedScalingFactor: f.positive("routed_scaling_factor"),
    scoringFunc: f.oneOf("scoring_func", ["sigmoid", "softmax"] as const),
  };
}

/** A config.json for `c` that transformers 4.x/5.x and vLLM load (weights in float32). */
export function toHfConfig(c: ModelConfig): Record<string, unknown> {
  const mla = c.modelType === "deepseek_v3";
  if (!mla && c.nRoutedExperts > 0)
    throw new Error(`toHfConfig: model_type ${c.modelType} has no MoE; use deepseek_v3`);
  if (!mla && c.ropeInterleave)
    throw new Error(`toHfConfig: model_type ${c.modelType} has no interleaved RoPE`);
  if (c.modelType === "qwen2" && !c.attentionBias) {
    throw new Error("toHfConfig: Qwen2 always has q/k/v bias; a bias-free dense model is model_type llama");
  }
  if (mla && c.attentionBias) throw new Error("toHfConfig: deepseek_v3 with attention bias is not supported");
  const out: Record<string, unknown> = {
    architectures: [ARCHITECTURES[c.modelType]],
    model_type: c.modelType,
    vocab_size: c.vocabSize,
    hidden_size: c.hiddenSize,
    intermediate_size: c.intermediateSize,
    num_hidden_layers: c.numHiddenLayers,
    num_attention_heads: c.numAttentionHeads,
    num_key_value_heads: c.numKeyValueHeads,
    // DeepseekV3Config defines head_dim as qk_rope_head_dim (its RoPE width); a different value would
    // override it and break transformers' RoPE, so ModelConfig.headDim (unused by MLA) is not written.
    head_dim: mla ? c.qkRopeHeadDim : c.headDim,
    hidden_act: "silu",
    max_position_embeddings: c.maxPositionEmbeddings,
    rms_norm_eps: c.rmsNormEps,
    rope_theta: c.ropeTheta,
    rope_scaling:
      c.ropeScaling && c.ropeScaling.ropeType !== "default" ? ropeScalingJson(c.ropeScaling) : null,
    tie_word_embeddings: c.tieWordEmbeddings,
    attention_dropout: 0,
    bos_token_id: c.bosTokenId,
    eos_token_id: c.eosTokenId,
    pad_token_id: c.padTokenId,
    initializer_range: 0.02,
    use_cache: true,
    torch_dtype: "float32",
    dtype: "float32",
  };
  if (c.modelType === "llama") Object.assign(out, { attention_bias: c.attentionBias, mlp_bias: false });
  if (c.modelType === "qwen2") {
    Object.assign(out, {
      use_sliding_window: false,
      sliding_window: null,
      max_window_layers: c.numHiddenLayers,
    });
  }
  if (!mla) {
    if (c.numNextnPredictLayers > 0) out.num_nextn_predict_layers = c.numNextnPredictLayers;
    return out;
  }
  return Object.assign(out, {
    attention_bias: false,
    q_lora_rank: c.qLoraRank,
    kv_lora_rank: c.kvLoraRank,
    qk_nope_head_dim: c.qkNopeHeadDim,
    qk_rope_head_dim: c.qkRopeHeadDim,
    qk_head_dim: c.qkNopeHeadDim + c.qkRopeHeadDim,
    v_head_dim: c.vHeadDim,
    rope_interleave: c.ropeInterleave,
    n_routed_experts: c.nRoutedExperts,
    n_shared_experts: c.nSharedExperts,
    num_experts_per_tok: c.numExpertsPerTok,
    moe_intermediate_size: c.moeIntermediateSize,
    first_k_dense_replace: c.firstKDenseReplace,
    moe_layer_freq: 1,
    n_group: c.nGroup,
    topk_group: c.topkGroup,
    topk_method: "noaux_tc",
    scoring_func: c.scoringFunc,
    norm_topk_prob: c.normTopkProb,
    routed_scaling_factor: c.routedScalingFactor,
    num_nextn_predict_layers: c.numNextnPredictLayers,
    ep_size: 1,
  });
}
