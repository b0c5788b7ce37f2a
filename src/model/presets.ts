// Named model configurations for from-scratch runs. `tinyDeepSeek` is DeepSeek-V3 in miniature
// (MLA + DeepSeekMoE with shared and routed experts, group-limited routing, auxiliary-loss-free
// balancing, one MTP module) sized to train in minutes on a 2-core CPU.
import type { ModelConfig } from "./config.ts";

export function tinyDeepSeek(vocabSize: number, o: Partial<ModelConfig> = {}): ModelConfig {
  return {
    modelType: "deepseek_v3",
    vocabSize,
    hiddenSize: 128,
    numHiddenLayers: 4,
    numAttentionHeads: 4,
    numKeyValueHeads: 4,
    headDim: 32,
    intermediateSize: 384,
    rmsNormEps: 1e-6,
    ropeTheta: 10000,
    ropeScaling: null,
    ropeInterleave: true,
    maxPositionEmbeddings: 256,
    tieWordEmbeddings: false,
    attentionBias: false,
    bosTokenId: 1,
    eosTokenId: 2,
    padTokenId: 0,
    qLoraRank: 64,
    kvLoraRank: 32,
    qkNopeHeadDim: 32,
    qkRopeHeadDim: 16,
    vHeadDim: 32,
    nRoutedExperts: 8,
    nSharedExperts: 1,
    numExpertsPerTok: 2,
    moeIntermediateSize: 96,
    firstKDenseReplace: 1,
    nGroup: 2,
    topkGroup: 1,
    normTopkProb: true,
    routedScalingFactor: 1.0,
    scoringFunc: "sigmoid",
    numNextnPredictLayers: 1,
    ...o,
  };
}

/** A dense Qwen2-style model of similar size (for distillation students and comparisons). */
export function tinyDense(vocabSize: number, o: Partial<ModelConfig> = {}): ModelConfig {
  return {
    ...tinyDeepSeek(vocabSize),
    modelType: "qwen2",
    numKeyValueHeads: 2,
    attentionBias: true,
    qLoraRank: null,
    kvLoraRank: 0,
    qkNopeHeadDim: 0,
    qkRopeHeadDim: 0,
    vHeadDim: 0,
    nRoutedExperts: 0,
    nSharedExperts: 0,
    numExpertsPerTok: 0,
    moeIntermediateSize: 0,
    firstKDenseReplace: 0,
    nGroup: 1,
    topkGroup: 1,
    numNextnPredictLayers: 0,
    ropeInterleave: false,
    ...o,
  };
}
