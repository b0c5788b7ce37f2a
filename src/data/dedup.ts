// Deduplication of a dataset, streamed: a row is an exact duplicate when its normalised text
// (normalise.ts) hashes like an earlier kept row's, and (with `near`) a near duplicate when its
// MinHash signature shares an LSH band with an earlier kept row's and their estimated Jaccard
// similarity (of word shingles) reaches `threshold`, as datasketch and text-dedup find them. The first row of
// each cluster is kept. Memory grows with the kept rows' hashes (12 bytes per slot: one slot per
// row for exact keys; with `near` one per band plus the signature's 128 low bytes), never with the rows themselves.
// Writes OUT/ (kept rows, input's format and layout) and OUT/report.json.
import { join, resolve } from "node:path";
import { writeJsonAtomic } from "../engine/atomic.ts";
import { HashMap64 } from "./hash-map.ts";
import { LshIndex, optimalBands } from "./lsh.ts";
import { jaccard, minhash, minhashSeeds, shingleHashes } from "./minhash.ts";
import { hashString64, normaliseText } from "./normalise.ts";
import { type Progress, startProgress } from "./progress.ts";
import { type RowRef, refOf, textsAt } from "./row-refs.ts";
import { rowText } from "./row-text.ts";
import { RowWriter } from "./row-writer.ts";
import { dataFiles, readRowBatches, type Row } from "./rows.ts";

export interface DedupOptions {
  /** Input: a .jsonl/.json/.parquet file or a dataset folder. */
  data: string;
  /** Output folder (kept rows + report.json). */
  out: string;
  split?: string;
  /** Which text is compared (row-text.ts): auto, all, a field, or a+b. Default auto. */
  field?: string;
  /** Also remove near duplicates (MinHash + LSH). */
  near?: boolean;
  /** Jaccard similarity at which two rows count as near duplicates. Default 0.8. */
  threshold?: number;
  /** MinHash permutations. Default 128. */
  numPerm?: number;
  /** Tokens per shingle. Default 3. */
  shingle?: number;
  seed?: number;
  /** Removed pairs shown in the report, per kind. Default 5. */
  examples?: number;
  /** Show a progress bar on stderr (default true). */
  progress?: boolean;
}

export interface RemovedPair {
  kept: RowRef;
  removed: RowRef;
  /** Exact Jaccard similarity of the two texts' shingle sets. */
  similarity: number;
}

export interface DedupReport {
  data: string;
  out: string;
  field: string;
  rows: number;
  kept: number;
  removed_exact: number;
  removed_near: number;
  /** Kept rows that had at least one duplicate removed. */
  clusters: number;
  near: { threshold: number; num_perm: number; bands: number; rows: number; shingle: number } | null;
  examples: { exact: RemovedPair[]; near: RemovedPair[] };
  outputs: string[];
  seconds: number;
  rows_per_s: number;
  index_bytes: number;
}

export async function dedup(o: DedupOptions): Promise<DedupReport> {
  const t0 = performance.now();
  const data = resolve(o.data);
  const out = resolve(o.out);
  const field = o.field ?? "auto";
  const threshold = o.threshold ?? 0.8;
  if (!(threshold > 0 && threshold <= 1)) throw new Error(`threshold must be in (0, 1], got ${threshold}`);
  const numPerm = o.numPerm ?? 128;
  const shingle = o.shingle ?? 3;
  const nExamples = o.examples ?? 5;
  const { bands, rows: bandRows } = optimalBands(threshold, numPerm);
  const seeds = minhashSeeds(numPerm, o.seed ?? 1);
  const sig = new Uint32Array(numPerm);
  const exact = new HashMap64(1 << 16);
  const lsh = o.near ? new LshIndex(bands, bandRows, threshold) : null;
  const clusters = new Set<number>();
  const pairs: { kind: "exact" | "near"; kept: number; removed: Row }[] = [];
  let rows = 0;
  let removedExact = 0;
  let removedNear = 0;
  const files = dataFiles(data, o.split ?? "train");
  const bar: Progress = startProgress("dedup", files, o.progress);
  const writer = new RowWriter(out, data);
  try {
    for await (const batch of readRowBatches(data, {
      split: o.split ?? "train",
      onBytes: (b) => bar.update(b, { rows, kept: rows - removedExact - removedNear }),
    })) {
      const kept: Row[] = [];
      for (const row of batch.rows) {
        rows++;
        const text = rowText(row, field);
        const [hi, lo] = hashString64(normaliseText(text));
        const first = exact.setIfAbsent(hi, lo, row.index);
        if (first !== row.index) {
          removedExact++;
          clusters.add(first);
          if (pairs.filter((p) => p.kind === "exact").length < nExamples)
            pairs.push({ kind: "exact", kept: first, removed: row });
          continue;
        }
        if (lsh) {
          const sh = shingleHashes(text, shingle);
          if (sh.length > 0) {
            minhash(sh, seeds, sig);
            const near = lsh.query(sig);
            if (near !== -1) {
              removedNear++;
              clusters.add(near);
              if (pairs.filter((p) => p.kind === "near").length < nExamples)
                pairs.push({ kind: "near", kept: near, removed: row });
              continue;
            }
            lsh.insert(sig, row.index);
          }
        }
        kept.push(row);
      }
      writer.add(batch, kept);
    }
    writer.commit();
  } catch (e) {
    writer.abort();
    throw e;
  }
  bar.done({ rows, kept: rows - removedExact - removedNear });
  const keptTexts = await textsAt(
    data,
    o.split ?? "train",
    pairs.map((p) => p.kept),
    field,
  );
  const examples = { exact: [] as RemovedPair[], near: [] as RemovedPair[] };
  for (const p of pairs) {
    const k = keptTexts.get(p.kept)!;
    const removedText = rowText(p.removed, field);
    examples[p.kind].push({
      kept: k.ref,
      removed: refOf(p.removed, removedText),
      similarity: Number(jaccard(k.text, removedText, shingle).toFixed(4)),
    });
  }
  const seconds = (performance.now() - t0) / 1000;
  const report: DedupReport = {
    data,
    out,
    field,
    rows,
    kept: rows - removedExact - removedNear,
    removed_exact: removedExact,
    removed_near: removedNear,
    clusters: clusters.size,
    near: lsh ? { threshold, num_perm: numPerm, bands, rows: bandRows, shingle } : null,
    examples,
    outputs: writer.written,
    seconds: Number(seconds.toFixed(3)),
    rows_per_s: Math.round(rows / Math.max(seconds, 1e-9)),
    index_bytes: exact.bytes + (lsh?.bytes ?? 0),
  };
  writeJsonAtomic(join(out, "report.json"), report);
  return report;
}
