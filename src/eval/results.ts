// Evaluation outputs in one folder DIR:
//   DIR/samples.jsonl  one line per scored sample {id, sample_index, completion, extracted, correct, ...},
//                      appended and written through line by line, so an interrupted run resumes;
//   DIR/results.json   the metrics (pass@1, cons@K, maj@K, pass@k) with their standard errors, the
//                      date, r1lab's version, the model and sampling, and the full resolved config,
//                      written atomically (output-formats.ts writes other tools' layouts).
// Resuming: readSamples() reads what is there, ignores (and cuts off) a torn last line, and tells
// which (id, sample_index) pairs are done.

import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  truncateSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { writeJsonAtomic } from "../engine/atomic.ts";
import {
  consCorrect,
  majCorrect,
  PASS_K_VALUES,
  pass1,
  passAtK,
  passAtKTable,
  type SampleOutcome,
  stderrOfMean,
} from "./metrics.ts";

export interface SampleRecord {
  id: string;
  sample_index: number;
  completion: string;
  extracted: string | null;
  correct: boolean;
  /** Extra fields (method, timing) are kept as they are. */
  [key: string]: unknown;
}

export interface EvalResults {
  task: string;
  n_problems: number;
  samples_per_problem: number;
  "pass@1": number;
  /** "cons@K" with K = samples_per_problem, e.g. "cons@16". */
  [consKey: `cons@${number}`]: number;
  "pass@k": Record<string, number>;
  /** lighteval's maj@K: unanswered samples vote for the empty answer (see metrics.ts majAtK). */
  [majKey: `maj@${number}`]: number;
  /** Share of samples where no answer was found. */
  no_answer_rate: number;
  /** Standard error of each metric over problems (std with n - 1, over sqrt(n)). */
  stderr: Record<string, number | Record<string, number>>;
  /** When the results were computed (ISO 8601, UTC). */
  date: string;
  r1lab_version: string;
  /** The model evaluated: its path or URL and, for a Hub snapshot, the revision (commit). Null for `score`. */
  model: { path: string; name: string | null; revision: string | null } | null;
  /** How the completions were sampled (eval); null when unknown (score). */
  sampling: { temperature: unknown; top_p: unknown; max_tokens: unknown; seed: unknown; n: number } | null;
  config: Record<string, unknown>;
}

export const SAMPLES_FILE = "samples.jsonl";
export const RESULTS_FILE = "results.json";

/** Key of a sample for resume bookkeeping. */
export function sampleKey(id: string, sampleIndex: number): string {
  return `${id}\u0000${sampleIndex}`;
}

/**
 * Read DIR/samples.jsonl: every complete record, and the set of done (id, sample_index) keys.
 * A torn last line (a run killed mid-write) is ignored and, with `repair`, cut off the file so that
 * appending goes on cleanly. A malformed line elsewhere is an error naming the line.
 */
export function readSamples(
  dir: string,
  opts: { repair?: boolean } = {},
): { records: SampleRecord[]; done: Set<string> } {
  const path = join(dir, SAMPLES_FILE);
  const records: SampleRecord[] = [];
  const done = new Set<string>();
  if (!existsSync(path)) return { records, done };
  const text = readFileSync(path, "utf8");
  const lines = text.split("\n");
  // The piece after the last newline is "" or a torn line (the newline is written with the line).
  lines.pop();
  let goodBytes = 0;
  lines.forEach((line, i) => {
    goodBytes += Buffer.byteLength(line, "utf8") + 1;
    if (line.trim().length === 0) return;
    let rec: SampleRecord;
    try {
      rec = JSON.parse(line) as SampleRecord;
    } catch {
      throw new Error(`${path}:${i + 1}: not valid JSON`);
    }
    if (
      typeof rec?.id !== "string" ||
      !Number.isInteger(rec.sample_index) ||
      typeof rec.correct !== "boolean"
    ) {
      throw new Error(
        `${path}:${i + 1}: a sample needs a string id, an integer sample_index and a boolean correct`,
      );
    }
    const key = sampleKey(rec.id, rec.sample_index);
    if (done.has(key)) return; // a repeated sample: the first one counts
    records.push(rec);
    done.add(key);
  });
  if (opts.repair && goodBytes < Buffer.byteLength(text, "utf8")) truncateSync(path, goodBytes);
  return { records, done };
}

/** Appends sample records to DIR/samples.jsonl, each line written through to the OS at once. */
export class SampleWriter {
  private fd: number;

  /** `fresh` truncates an existing file; otherwise appends (after readSamples(dir, {repair: true})). */
  constructor(dir: string, opts: { fresh?: boolean } = {}) {
    mkdirSync(dir, { recursive: true });
    this.fd = openSync(join(dir, SAMPLES_FILE), opts.fresh ? "w" : "a");
  }

  append(rec: SampleRecord): void {
    const buf = Buffer.from(`${JSON.stringify(rec)}\n`, "utf8");
    let off = 0;
    while (off < buf.byteLength) off += writeSync(this.fd, buf, off, buf.byteLength - off);
  }

  close(): void {
    fsyncSync(this.fd);
    closeSync(this.fd);
  }
}

/**
 * Metrics from per-sample records. `problemIds` fixes the problem order (problems without samples
 * are skipped); `sameAnswer` groups votes for cons@K; K is samples_per_problem (the largest count).
 */
export function computeResults(args: {
  task: string;
  problemIds: string[];
  records: SampleRecord[];
  sameAnswer: (a: string, b: string) => boolean;
  config: Record<string, unknown>;
}): EvalResults {
  const byId = new Map<string, SampleRecord[]>();
  for (const r of args.records) {
    const list = byId.get(r.id) ?? [];
    list.push(r);
    byId.set(r.id, list);
  }
  const problems: SampleOutcome[][] = [];
  for (const id of args.problemIds) {
    const list = byId.get(id);
    if (!list || list.length === 0) continue;
    list.sort((a, b) => a.sample_index - b.sample_index);
    problems.push(list.map((r) => ({ extracted: r.extracted, correct: r.correct })));
  }
  const correct = problems.map((s) => s.map((x) => x.correct));
  const K = problems.length === 0 ? 0 : Math.max(...problems.map((s) => s.length));
  const all = problems.flat();
  // Per-problem values, for the means and their standard errors.
  const p1 = correct.map((s) => (s.length === 0 ? 0 : s.filter(Boolean).length / s.length));
  const cons = problems.map((s) => (consCorrect(s, args.sameAnswer) ? 1 : 0));
  const maj = problems.map((s) => (majCorrect(s, args.sameAnswer) ? 1 : 0));
  const kMax = correct.length === 0 ? 0 : Math.min(...correct.map((s) => s.length));
  const passSe: Record<string, number> = {};
  for (const k of PASS_K_VALUES) {
    if (k <= kMax)
      passSe[String(k)] = stderrOfMean(correct.map((s) => passAtK(s.length, s.filter(Boolean).length, k)));
  }
  const mean = (xs: number[]) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);
  const c = args.config;
  const modelPath = typeof c.model === "string" ? c.model : null;
  // Built in the order the file shows: task, sizes, pass@1, cons@K, maj@K, pass@k, the rest.
  return {
    task: args.task,
    n_problems: problems.length,
    samples_per_problem: K,
    "pass@1": pass1(correct),
    [`cons@${K}`]: mean(cons),
    [`maj@${K}`]: mean(maj),
    "pass@k": passAtKTable(correct),
    no_answer_rate: all.length === 0 ? 0 : all.filter((s) => s.extracted === null).length / all.length,
    stderr: {
      "pass@1": stderrOfMean(p1),
      [`cons@${K}`]: stderrOfMean(cons),
      [`maj@${K}`]: stderrOfMean(maj),
      "pass@k": passSe,
    },
    date: new Date().toISOString(),
    r1lab_version: typeof c.r1lab_version === "string" ? c.r1lab_version : packageVersion(),
    model:
      modelPath === null
        ? null
        : {
            path: modelPath,
            name: typeof c.model_name === "string" ? c.model_name : null,
            revision:
              typeof c.revision === "string"
                ? c.revision
                : (/\/snapshots\/([0-9a-f]{40})(?:\/|$)/.exec(modelPath)?.[1] ?? null),
          },
    sampling:
      c.temperature === undefined
        ? null
        : {
            temperature: c.temperature,
            top_p: c.top_p ?? null,
            max_tokens: c.max_tokens ?? null,
            seed: c.seed ?? null,
            n: K,
          },
    config: args.config,
  } as EvalResults;
}

/** r1lab's version from its package.json ("unknown" when unreadable). */
function packageVersion(): string {
  try {
    return (
      JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")).version ?? "unknown"
    );
  } catch {
    return "unknown";
  }
}

/**
 * Delete DIR/results.json and every DIR/results_FORMAT.json before new scoring starts, so that an
 * interrupted run never leaves results that describe other samples than the ones beside them.
 */
export function removeResults(dir: string): void {
  if (!existsSync(dir)) return;
  for (const f of readdirSync(dir))
    if (f === RESULTS_FILE || /^results_[\w-]+\.json$/.test(f)) rmSync(join(dir, f), { force: true });
}

export function writeResults(dir: string, results: EvalResults): void {
  writeJsonAtomic(join(dir, RESULTS_FILE), results);
}

/** Metrics are printed as fractions with 3 decimals everywhere (0.500), as in results.json. */
const pct = (x: number) => x.toFixed(3);

/** A small text table of the headline numbers (fractions, 3 decimals). */
export function formatResultsTable(r: EvalResults): string {
  const K = r.samples_per_problem;
  const cols: [string, string][] = [
    ["task", r.task],
    ["problems", String(r.n_problems)],
    ["samples", String(K)],
    ["pass@1", pct(r["pass@1"])],
    [`cons@${K}`, pct(r[`cons@${K}`] ?? 0)],
    ...Object.entries(r["pass@k"])
      .filter(([k]) => k !== "1")
      .map(([k, v]): [string, string] => [`pass@${k}`, pct(v)]),
    ["no answer", pct(r.no_answer_rate)],
  ];
  const widths = cols.map(([h, v]) => Math.max(h.length, v.length));
  const row = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join("  ");
  return [row(cols.map((c) => c[0])), row(cols.map((c) => c[1]))].join("\n");
}
