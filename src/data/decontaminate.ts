// Decontamination, as open-r1 does it before trusting a benchmark score: a training row is removed
// when its normalised text shares a token n-gram (8 by default) with any prompt or answer of the
// named benchmarks (benchmarks.ts). The benchmarks are indexed first (small: hundreds to thousands
// of rows), then the training data is streamed through the index. report.json counts, per
// benchmark, the training rows removed, the benchmark problems that leaked, and the n-grams that
// matched most often, with examples (training row and benchmark row, file and line).
import { join, resolve } from "node:path";
import { writeJsonAtomic } from "../engine/atomic.ts";
import { type Benchmark, benchmarkItems } from "./benchmarks.ts";
import { NgramIndex } from "./ngram-index.ts";
import { tokens } from "./normalise.ts";
import { startProgress } from "./progress.ts";
import { type RowRef, refOf } from "./row-refs.ts";
import { rowText } from "./row-text.ts";
import { RowWriter } from "./row-writer.ts";
import { dataFiles, readRowBatches, type Row } from "./rows.ts";

export interface DecontaminateOptions {
  data: string;
  out: string;
  benchmarks: Benchmark[];
  split?: string;
  /** Which text of a training row is checked (row-text.ts). Default all. */
  field?: string;
  /** Tokens per n-gram. Default 8 (open-r1). */
  ngram?: number;
  /** Examples per benchmark in the report. Default 5. */
  examples?: number;
  progress?: boolean;
}

export interface BenchmarkLeaks {
  path: string;
  /** Benchmark rows read. */
  problems: number;
  /** Distinct n-grams this benchmark added to the index (texts under 4 tokens add none). */
  ngrams_indexed: number;
  rows_removed: number;
  problems_leaked: number;
  /** The n-grams found in most training rows. */
  top_ngrams: { ngram: string; rows: number }[];
  examples: { row: RowRef; ngram: string; benchmark_row: { file: string; line: number } }[];
}

export interface DecontaminateReport {
  data: string;
  out: string;
  field: string;
  ngram: number;
  rows: number;
  kept: number;
  removed: number;
  benchmarks: Record<string, BenchmarkLeaks>;
  outputs: string[];
  seconds: number;
  rows_per_s: number;
}

/** Index every benchmark's prompt and answer texts; returns the index and each benchmark row's location. */
export async function indexBenchmarks(benchmarks: Benchmark[], n: number) {
  if (benchmarks.length === 0) throw new Error("no benchmark given");
  if (benchmarks.length > 31) throw new Error(`at most 31 benchmarks at once, got ${benchmarks.length}`);
  const index = new NgramIndex(n);
  const where: { file: string; line: number }[] = [];
  const problems = benchmarks.map(() => 0);
  const ngrams = benchmarks.map(() => 0);
  for (const [s, b] of benchmarks.entries()) {
    const before = index.size;
    for await (const item of benchmarkItems(b)) {
      // The first text is the prompt: only it is matched whole when shorter than n.
      for (const [i, t] of item.texts.entries()) index.add(tokens(t), s, where.length, i === 0);
      where.push({ file: item.file, line: item.line });
      problems[s]++;
    }
    if (problems[s] === 0) throw new Error(`--benchmark ${b.name}: ${b.path} has no rows`);
    ngrams[s] = index.size - before;
  }
  return { index, where, problems, ngrams };
}

export async function decontaminate(o: DecontaminateOptions): Promise<DecontaminateReport> {
  const t0 = performance.now();
  const data = resolve(o.data);
  const out = resolve(o.out);
  const field = o.field ?? "all";
  const n = o.ngram ?? 8;
  const nExamples = o.examples ?? 5;
  const split = o.split ?? "train";
  const { index, where, problems, ngrams } = await indexBenchmarks(o.benchmarks, n);
  const leaks = o.benchmarks.map(() => ({
    rows: 0,
    problems: new Set<number>(),
    ngrams: new Map<string, number>(),
    examples: [] as BenchmarkLeaks["examples"],
  }));
  let rows = 0;
  let removed = 0;
  const bar = startProgress("decontaminate", dataFiles(data, split), o.progress);
  const writer = new RowWriter(out, data);
  try {
    for await (const batch of readRowBatches(data, {
      split,
      onBytes: (b) => bar.update(b, { rows, removed }),
    })) {
      const kept: Row[] = [];
      for (const row of batch.rows) {
        rows++;
        const text = rowText(row, field);
        const toks = tokens(text);
        const hits = index.find(toks);
        if (hits.length === 0) {
          kept.push(row);
          continue;
        }
        removed++;
        for (const [s, leak] of leaks.entries()) {
          const mine = hits.filter((h) => h.sources & (1 << s));
          if (mine.length === 0) continue;
          leak.rows++;
          const grams = new Set(mine.map((h) => toks.slice(h.start, h.start + h.length).join(" ")));
          for (const g of grams) leak.ngrams.set(g, (leak.ngrams.get(g) ?? 0) + 1);
          for (const h of mine) leak.problems.add(h.row);
          if (leak.examples.length < nExamples)
            leak.examples.push({
              row: refOf(row, text),
              ngram: [...grams][0],
              benchmark_row: where[mine[0].row],
            });
        }
        // Bound the n-gram tallies: keep the most frequent when a benchmark's list grows large.
        for (const leak of leaks)
          if (leak.ngrams.size > 20_000)
            leak.ngrams = new Map([...leak.ngrams].sort((a, b) => b[1] - a[1]).slice(0, 10_000));
      }
      writer.add(batch, kept);
    }
    writer.commit();
  } catch (e) {
    writer.abort();
    throw e;
  }
  bar.done({ rows, removed });
  const seconds = (performance.now() - t0) / 1000;
  const report: DecontaminateReport = {
    data,
    out,
    field,
    ngram: n,
    rows,
    kept: rows - removed,
    removed,
    benchmarks: Object.fromEntries(
      o.benchmarks.map((b, s) => [
        b.name,
        {
          path: b.path,
          problems: problems[s],
          ngrams_indexed: ngrams[s],
          rows_removed: leaks[s].rows,
          problems_leaked: leaks[s].problems.size,
          top_ngrams: [...leaks[s].ngrams]
            .sort((a, b) => b[1] - a[1])
            .slice(0, 20)
            .map(([ngram, r]) => ({ ngram, rows: r })),
          examples: leaks[s].examples,
        },
      ]),
    ),
    outputs: writer.written,
    seconds: Number(seconds.toFixed(3)),
    rows_per_s: Math.round(rows / Math.max(seconds, 1e-9)),
  };
  writeJsonAtomic(join(out, "report.json"), report);
  return report;
}
