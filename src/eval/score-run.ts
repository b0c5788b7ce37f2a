// Scoring a file of completions against a benchmark (what `r1lab score` does, and what the eval
// command does after generation): match each completion line {"id", "completion"} to a problem,
// score every sample with the task, append samples.jsonl in problem order, and write results.json.
// A completion's id is the problem's id field, or else the 0-based row index of the data file;
// several lines with one id are several samples, numbered in file order.

import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import {
  computeResults,
  type EvalResults,
  type SampleRecord,
  SampleWriter,
  writeResults,
} from "./results.ts";
import type { EvalProblem, EvalTask, ScoreOptions } from "./tasks/types.ts";

export interface CompletionLine {
  id: string;
  completion: string;
  /** 1-based line in the completions file. */
  line: number;
}

/** Read a completions JSONL: one {"id": string|number, "completion": string} per line. */
export function readCompletions(path: string): CompletionLine[] {
  const out: CompletionLine[] = [];
  readFileSync(path, "utf8")
    .split("\n")
    .forEach((text, i) => {
      if (text.trim().length === 0) return;
      let v: any;
      try {
        v = JSON.parse(text);
      } catch (e) {
        throw new Error(`${path}:${i + 1}: not valid JSON (${(e as Error).message})`);
      }
      if (v === null || typeof v !== "object" || Array.isArray(v))
        throw new Error(`${path}:${i + 1}: expected a JSON object`);
      if (typeof v.id !== "string" && !Number.isInteger(v.id))
        throw new Error(`${path}:${i + 1}: field 'id' must be a string or an integer`);
      if (typeof v.completion !== "string")
        throw new Error(`${path}:${i + 1}: field 'completion' must be a string`);
      out.push({ id: String(v.id), completion: v.completion, line: i + 1 });
    });
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

/** Run `fn` over items with at most `limit` in flight; `emit` sees results in item order. */
export async function mapOrdered<T, R>(
  items: T[],
  limit: number,
  fn: (item: T, i: number) => Promise<R>,
  emit: (result: R, i: number) => void,
): Promise<void> {
  const results = new Array<R>(items.length);
  const ready = new Array<boolean>(items.length).fill(false);
  let next = 0;
  let cursor = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
      ready[i] = true;
      while (cursor < items.length && ready[cursor]) emit(results[cursor], cursor++);
    }
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
  config: Record<string, unknown>;
}

/** Score every completion, write DIR/samples.jsonl and DIR/results.json; returns the results. */
export async function scoreCompletionsFile(
  args: ScoreRunArgs,
): Promise<{ results: EvalResults; missing: string[] }> {
  const groups = matchCompletions(
    args.problems,
    readCompletions(args.completionsPath),
    args.completionsPath,
    args.samplesPerProblem,
  );
  const work = groups.flatMap((g, pi) => g.map((c, s) => ({ problem: args.problems[pi], c, s })));
  const missing = args.problems.filter((_, i) => groups[i].length === 0).map((p) => p.id);
  const writer = new SampleWriter(args.outDir, { fresh: true });
  const records: SampleRecord[] = [];
  const limit = args.concurrency ?? (args.task.kind === "code" ? availableParallelism() : 1);
  try {
    await mapOrdered(
      work,
      limit,
      async ({ problem, c, s }) => {
        const r = await args.task.score(c.completion, problem, args.scoreOptions);
        const rec: SampleRecord = {
          id: problem.id,
          sample_index: s,
          completion: c.completion,
          extracted: r.extracted,
          correct: r.correct,
        };
        if (r.method !== undefined) rec.method = r.method;
        return rec;
      },
      (rec) => {
        writer.append(rec);
        records.push(rec);
      },
    );
  } finally {
    writer.close();
  }
  const results = computeResults({
    task: args.task.name,
    problemIds: args.problems.map((p) => p.id),
    records,
    sameAnswer: (a, b) => args.task.sameAnswer(a, b),
    config: {
      ...args.config,
      n_problems_in_data: args.problems.length,
      n_problems_without_completions: missing.length,
    },
  });
  writeResults(args.outDir, results);
  return { results, missing };
}
