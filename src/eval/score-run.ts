// Scoring a file of completions against a benchmark (what `r1lab score` does): match each completion
// line {"id", "completion"} to a problem, score every sample with the task, append each to
// samples.jsonl as soon as it is scored, and write results.json at the end. A completion's id is the
// problem's id field, or else the 0-based row index of the data file; several lines with one id are
// several samples, numbered in file order.
//
// Nothing misleads or is lost: results.json is deleted before scoring starts and written atomically
// at the end, so an interrupted run never leaves an old one beside new samples; a sample whose
// scoring fails is recorded as incorrect with its reason (field `error`); and a run started again
// with the same task, data and completions (score_config.json) scores only the samples that are
// not in samples.jsonl yet.

import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { writeJsonAtomic } from "../engine/atomic.ts";
import { streamJsonl } from "../engine/jsonl.ts";
import {
  computeResults,
  type EvalResults,
  readSamples,
  removeResults,
  type SampleRecord,
  SampleWriter,
  sampleKey,
  writeResults,
} from "./results.ts";
import { type EvalProblem, type EvalTask, type ScoreOptions, ScoringSetupError } from "./tasks/types.ts";

export const SCORE_CONFIG_FILE = "score_config.json";

export interface CompletionLine {
  id: string;
  completion: string;
  /** 1-based line in the completions file. */
  line: number;
}

/** Read a completions JSONL: one {"id": string|number, "completion": string} per line. */
export function readCompletions(path: string): CompletionLine[] {
  const out: CompletionLine[] = [];
  for (const { row, line } of streamJsonl<Record<string, unknown>>(path)) {
    if (typeof row.id !== "string" && !Number.isInteger(row.id))
      throw new Error(`${path}:${line}: field 'id' must be a string or an integer`);
    if (typeof row.completion !== "string")
      throw new Error(`${path}:${line}: field 'completion' must be a string`);
    out.push({ id: String(row.id), completion: row.completion, line });
  }
  if (out.length === 0) throw new Error(`${path}: no completions (the file is empty)`);
  return out;
}

/**
 * Group completions by problem (index into `problems`). With `samplesPerProblem` K, every problem
 * that has completions must have at least K (the first K are used).
 */
export function matchCompletions(
  problems: EvalProblem[],
  lines: CompletionLine[],
  path: string,
  samplesPerProblem?: number,
): CompletionLine[][] {
  const byId = new Map(problems.map((p, i) => [p.id, i]));
  const groups: CompletionLine[][] = problems.map(() => []);
  for (const c of lines) {
    let idx = byId.get(c.id);
    if (idx === undefined && /^\d+$/.test(c.id) && Number(c.id) < problems.length) idx = Number(c.id);
    if (idx === undefined)
      throw new Error(
        `${path}:${c.line}: id '${c.id}' is neither a problem id nor a row index (0-${problems.length - 1})`,
      );
    groups[idx].push(c);
  }
  if (samplesPerProblem !== undefined) {
    groups.forEach((g, i) => {
      if (g.length > 0 && g.length < samplesPerProblem) {
        throw new Error(
          `${path}: problem '${problems[i].id}' has ${g.length} completions, fewer than --samples-per-problem ${samplesPerProblem}`,
        );
      }
      g.splice(samplesPerProblem);
    });
  }
  return groups;
}

/**
 * Score one sample. A ScoringSetupError stops the run; any other error makes the sample incorrect,
 * with `error` saying why.
 */
export async function scoreSample(
  task: EvalTask,
  completion: string,
  problem: EvalProblem,
  sampleIndex: number,
  opts?: ScoreOptions,
): Promise<SampleRecord> {
  const rec: SampleRecord = {
    id: problem.id,
    sample_index: sampleIndex,
    completion,
    extracted: null,
    correct: false,
  };
  try {
    const r = await task.score(completion, problem, opts);
    rec.extracted = r.extracted;
    rec.correct = r.correct;
    if (r.method !== undefined) rec.method = r.method;
  } catch (e) {
    if (e instanceof ScoringSetupError) throw e;
    rec.method = "error";
    rec.error = e instanceof Error ? e.message : String(e);
  }
  return rec;
}

/** Run `fn` over items with at most `limit` in flight (results in finishing order, through fn). */
export async function forEachLimited<T>(
  items: T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}

export interface ScoreRunArgs {
  task: EvalTask;
  problems: EvalProblem[];
  completionsPath: string;
  outDir: string;
  samplesPerProblem?: number;
  scoreOptions?: ScoreOptions;
  /** Concurrent scorings (code tasks run programs in parallel). Default: CPU count for code, 1 otherwise. */
  concurrency?: number;
  /** The full resolved config; its task, data, split, seed and samples_per_problem decide resuming. */
  config: Record<string, unknown>;
}

/** Whether DIR/score_config.json holds exactly `identity` (then the samples there are this run's). */
function sameRun(outDir: string, identity: Record<string, unknown>): boolean {
  const path = join(outDir, SCORE_CONFIG_FILE);
  if (!existsSync(path)) return false;
  try {
    return JSON.stringify(JSON.parse(readFileSync(path, "utf8"))) === JSON.stringify(identity);
  } catch {
    return false;
  }
}

/**
 * Score every completion into DIR/samples.jsonl and DIR/results.json; returns the results,
 * the problems without completions, and how many samples came from an interrupted earlier run.
 */
export async function scoreCompletionsFile(
  args: ScoreRunArgs,
): Promise<{ results: EvalResults; missing: string[]; resumed: number; errors: number }> {
  if (args.problems.length === 0) throw new Error(`${String(args.config.data ?? "the data")}: no problems`);
  const groups = matchCompletions(
    args.problems,
    readCompletions(args.completionsPath),
    args.completionsPath,
    args.samplesPerProblem,
  );
  mkdirSync(args.outDir, { recursive: true });
  removeResults(args.outDir);
  const c = args.config;
  const identity = {
    task: args.task.name,
    data: c.data ?? null,
    split: c.split ?? null,
    seed: c.seed ?? null,
    samples_per_problem: args.samplesPerProblem ?? null,
    completions_sha256: createHash("sha256").update(readFileSync(args.completionsPath)).digest("hex"),
  };
  const resume = sameRun(args.outDir, identity);
  const earlier = resume
    ? readSamples(args.outDir, { repair: true })
    : { records: [], done: new Set<string>() };
  const writer = new SampleWriter(args.outDir, { fresh: !resume });
  writeJsonAtomic(join(args.outDir, SCORE_CONFIG_FILE), identity);
  const work = groups
    .flatMap((g, pi) => g.map((c, s) => ({ problem: args.problems[pi], c, s })))
    .filter((w) => !earlier.done.has(sampleKey(w.problem.id, w.s)));
  const missing = args.problems.filter((_, i) => groups[i].length === 0).map((p) => p.id);
  const fresh: SampleRecord[] = [];
  const limit = args.concurrency ?? (args.task.kind === "code" ? availableParallelism() : 1);
  try {
    await forEachLimited(work, limit, async ({ problem, c, s }) => {
      const rec = await scoreSample(args.task, c.completion, problem, s, args.scoreOptions);
      writer.append(rec);
      fresh.push(rec);
    });
  } finally {
    writer.close();
  }
  const wanted = new Map(groups.map((g, i) => [args.problems[i].id, g.length]));
  const records = [...earlier.records.filter((r) => r.sample_index < (wanted.get(r.id) ?? 0)), ...fresh];
  const errors = records.filter((r) => r.error !== undefined).length;
  const results = computeResults({
    task: args.task.name,
    problemIds: args.problems.map((p) => p.id),
    records,
    sameAnswer: (a, b) => args.task.sameAnswer(a, b),
    config: {
      ...args.config,
      n_problems_in_data: args.problems.length,
      n_problems_without_completions: missing.length,
      samples_resumed: records.length - fresh.length,
      samples_failed_to_score: errors,
    },
  });
  writeResults(args.outDir, results);
  return { results, missing, resumed: records.length - fresh.length, errors };
}
