// ModelConfig: the one description of an r1lab decoder, in Hugging Face's field meanings
// (camelCase of config.json names) so every field maps to a line of config.json and to the papers.
// One config covers the dense Qwen2/Llama family and DeepSeek-V3 (MLA + DeepSeekMoE + MTP).

export type ModelType = "qwen2" | "llama" | "deepseek_v3";

export interface RopeScaling {
  /** "default" (none), "linear", "yarn" (DeepSeek-V3), "llama3". */
  ropeType: "default" | "linear" | "yarn" | "llama3";
  factor?: number;
  originalMaxPositionEmbeddings?: number;
  betaFast?: number;
  betaSlow?: number;
  mscale?: number;
  mscaleAllDim?: number;
  lowFreqFactor?: number;
  highFreqFactor?: number;
}

export interface ModelConfig {
  modelType: ModelType;
  vocabSize: number;
  hiddenSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  /** GQA: key/value heads (== numAttentionHeads for MHA). */
  numKeyValueHeads: number;
  /** Per-head dim for MHA/GQA; hiddenSize / numAttentionHeads when the config omits it. */
  headDim: number;
  /** Dense SwiGLU FFN width (all layers of dense models; the first_k_dense_replace layers of MoE models). */
  intermediateSize: number;
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling: RopeScaling | null;
  /** RoPE on interleaved pairs (x0,x1),(x2,x3)... (DeepSeek-V3) instead of half-split (x_i, x_{i+d/2}). */
  ropeInterleave: boolean;
  maxPositionEmbeddings: number;
  tieWordEmbeddings: boolean;
  /** q/k/v projections carry a bias (Qwen2). */
  attentionBias: boolean;
  bosTokenId: number | null;
  eosTokenId: number | number[] | null;
  padTokenId: number | null;

  // --- MLA (DeepSeek-V2/V3). Present only for deepseek_v3. ---
  /** Rank of the query down-projection; null = queries projected directly from hidden. */
  qLoraRank: number | null;
  /** Rank of the joint key/value latent c^{KV} (cached at inference). */
  kvLoraRank: number;
  qkNopeHeadDim: number;
  /** Decoupled RoPE key/query dim; the RoPE key is shared by all heads. */
  qkRopeHeadDim: number;
  vHeadDim: number;

  // --- DeepSeekMoE ---
  /** 0 = dense model. */
  nRoutedExperts: number;
  nSharedExperts: number;
  /** Experts per token (top-K). */
  numExpertsPerTok: number;
  moeIntermediateSize: number;
  /** Layers [0, firstKDenseReplace) use the dense FFN. */
  firstKDenseReplace: number;
  nGroup: number;
  topkGroup: number;
  normTopkProb: boolean;
  routedScalingFactor: number;
  /** "sigmoid" (V3) or "softmax" (V2) expert affinities. */
  scoringFunc: "sigmoid" | "softmax";

  // --- MTP ---
  /** Number of multi-token-prediction modules D (num_nextn_predict_layers). */
  numNextnPredictLayers: number;
}

/** True when the config uses Multi-head Latent Attention. */
export function usesMla(c: ModelConfig): boolean {
  return c.modelType === "deepseek_v3";
}

/** True when layer `i` has a DeepSeekMoE FFN rather than a dense one. */
export function isMoeLayer(c: ModelConfig, i: number): boolean {
  return c.nRoutedExperts > 0 && i >= c.firstKDenseReplace;
}
