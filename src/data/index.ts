// r1lab's data curation as a library: deduplication, benchmark decontamination, quality classifier,
// and the streaming row reader/writer they share. `r1lab data ...` (src/cli/data.ts) is a thin shell
// over these functions.
export { type DedupOptions, type DedupReport, dedup, type RemovedPair } from "./dedup.ts";
export { HashMap64 } from "./hash-map.ts";
export { candidateProbability, LshIndex, optimalBands } from "./lsh.ts";
export { estimateJaccard, jaccard, minhash, minhashSeeds, shingleHashes } from "./minhash.ts";
export { hashString, hashString64, normaliseText, tokens } from "./normalise.ts";
export { AUTO_FIELDS, rowText } from "./row-text.ts";
export { RowWriter } from "./row-writer.ts";
export { dataFiles, formatOf, type Row, type RowBatch, type RowFormat, readRowBatches, readRowsStream } from "./rows.ts";
