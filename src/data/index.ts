// r1lab's data curation as a library: deduplication, benchmark decontamination, quality classifier,
// and the streaming row reader/writer they share. `r1lab data ...` (src/cli/data.ts) is a thin shell
// over these functions.
export {
  bucketScores,
  type Classifier,
  type ClassifierConfig,
  type Example,
  scoreFeatures,
  trainClassifier,
} from "./classifier.ts";
export {
  type ClassifyApplyOptions,
  type ClassifyTrainOptions,
  classifyApply,
  classifyTrain,
  loadClassifier,
  type Metrics,
  metricsAt,
} from "./classify.ts";
export {
  type Benchmark,
  BENCHMARK_HUB_IDS,
  benchmarkItems,
  KNOWN_BENCHMARKS,
  parseBenchmark,
} from "./benchmarks.ts";
export {
  type BenchmarkLeaks,
  type DecontaminateOptions,
  type DecontaminateReport,
  decontaminate,
  indexBenchmarks,
} from "./decontaminate.ts";
export { type DedupOptions, type DedupReport, dedup, type RemovedPair } from "./dedup.ts";
export { FEATURE_DEFAULTS, type FeatureConfig, textFeatures } from "./features.ts";
export { HashMap64 } from "./hash-map.ts";
export { candidateProbability, LshIndex, optimalBands } from "./lsh.ts";
export { estimateJaccard, jaccard, minhash, minhashSeeds, shingleHashes } from "./minhash.ts";
export { type NgramHit, NgramIndex } from "./ngram-index.ts";
export { hashString, hashString64, normaliseText, tokens } from "./normalise.ts";
export { type OverlapOptions, type OverlapResult, type TextSource, warnOverlap } from "./overlap.ts";
export { AUTO_FIELDS, rowText } from "./row-text.ts";
export { RowWriter } from "./row-writer.ts";
export {
  dataFiles,
  formatOf,
  type Row,
  type RowBatch,
  type RowFormat,
  readRowBatches,
  readRowsStream,
} from "./rows.ts";
