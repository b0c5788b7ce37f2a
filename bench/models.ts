// The models `pnpm bench` measures, as r1lab ModelConfigs. bench/torch_bench.py builds the same
// networks from the same config fields (RMSNorm, RoPE, SwiGLU, MLA, DeepSeekMoE, same vocab), so a
// figure and its PyTorch peer run identical shapes and maths.
//   tiny    d128 L2 T64  B16   dense Llama-style (MHA, SwiGLU, untied head)
//   small   d256 L4 T128 B16   dense
//   medium  d512 L8 T256 B16   dense
//   mla_moe d256 L4 T128 B16   DeepSeek-style: MLA + DeepSeekMoE (1 shared + 8 routed experts, top-2)
import type { ModelConfig } from "../src/model/config.ts";
import { tinyDeepSeek, tinyDense } from "../src/model/presets.ts";

/** Byte-sized vocabulary for the language-model benchmarks. */
export const BENCH_VOCAB = 256;

export interface TrainShape {
  config: ModelConfig;
  batch: number;
  seq: number;
}

/** A dense Llama-style decoder: MHA (no GQA, no biases), SwiGLU of width 3d, untied head. */
export function denseConfig(d: number, layers: number, heads: number, vocab = BENCH_VOCAB): ModelConfig {
  return tinyDense(vocab, {
    modelType: "llama",
    hiddenSize: d,
    numHiddenLayers: layers,
    numAttentionHeads: heads,
    numKeyValueHeads: heads,
    headDim: d / heads,
    intermediateSize: 3 * d,
    attentionBias: false,
    maxPositionEmbeddings: 1024,
  });
}

/** The small model with DeepSeek-V3's attention and FFN (no MTP module, so the loss is the same CE). */
export function mlaMoeConfig(vocab = BENCH_VOCAB): ModelConfig {
  return tinyDeepSeek(vocab, {
    hiddenSize: 256,
    numHiddenLayers: 4,
    numAttentionHeads: 4,
    qLoraRank: 128,
    kvLoraRank: 64,
    qkNopeHeadDim: 64,
    qkRopeHeadDim: 32,
    vHeadDim: 64,
    intermediateSize: 768,
    nRoutedExperts: 8,
    nSharedExperts: 1,
    numExpertsPerTok: 2,
    moeIntermediateSize: 192,
    firstKDenseReplace: 1,
    nGroup: 2,
    topkGroup: 1,
    numNextnPredictLayers: 0,
    maxPositionEmbeddings: 1024,
  });
}

export const TRAIN_SHAPES: Record<string, TrainShape> = {
  tiny: { config: denseConfig(128, 2, 4), batch: 16, seq: 64 },
  small: { config: denseConfig(256, 4, 4), batch: 16, seq: 128 },
  medium: { config: denseConfig(512, 8, 8), batch: 16, seq: 256 },
  mla_moe: { config: mlaMoeConfig(), batch: 16, seq: 128 },
};
