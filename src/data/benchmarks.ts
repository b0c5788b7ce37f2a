// The evaluation benchmarks a training set is checked against: `--benchmark NAME[=FILE|DIR]`.
// A known name without a path is found locally, never downloaded: data/NAME (where the eval docs
// put `huggingface-cli download --local-dir data/NAME`), then the benchmark's Hub dataset in the
// Hugging Face cache (`r1lab download ID --repo-type dataset` puts it there). r1lab's synthetic
// tasks (arithmetic, countdown) without a path are their generated test split, as `r1lab eval`
// draws it. Each benchmark row gives its prompt and answer texts: the fields that R1's prompt is
// built from and the reference solution, in the spellings the eval loaders accept; rows of an
// unknown benchmark give every string they hold.
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { DataError } from "../eval/data.ts";
import { resolveRepoPath } from "../hf/cache.ts";
import { getSyntheticTask, problemsOf, SYNTHETIC_TASK_NAMES } from "../tasks/registry.ts";
import { rowText } from "./row-text.ts";
import { readRowsStream, type Row } from "./rows.ts";

/** The Hub dataset each known benchmark is evaluated from (open-r1 / lighteval's choices). */
export const BENCHMARK_HUB_IDS: Record<string, string> = {
  gsm8k: "openai/gsm8k",
  math500: "HuggingFaceH4/MATH-500",
  aime24: "HuggingFaceH4/aime_2024",
  aime25: "yentinglin/aime_2025",
  "gpqa-diamond": "Idavidrein/gpqa",
  humaneval: "openai/openai_humaneval",
  mbpp: "google-research-datasets/mbpp",
};

/** Per benchmark: groups of field spellings; the first group (the prompt) is required. */
const FIELDS: Record<string, string[][]> = {
  gsm8k: [
    ["question", "Question"],
    ["answer", "Answer"],
  ],
  // MATH-500's bare `answer` ("\\frac{14}{3}") is left out: its LaTeX would match unrelated text, and the solution holds it.
  math500: [["problem", "Problem", "question"], ["solution"]],
  aime24: [
    ["problem", "Problem", "question", "Question"],
    ["solution", "Solution"],
  ],
  aime25: [
    ["problem", "Problem", "question", "Question"],
    ["solution", "Solution"],
  ],
  "gpqa-diamond": [
    ["Question", "question"],
    ["Correct Answer", "correct answer", "correct_answer"],
    ["Incorrect Answer 1", "incorrect answer 1", "incorrect_answer_1"],
    ["Incorrect Answer 2", "incorrect answer 2", "incorrect_answer_2"],
    ["Incorrect Answer 3", "incorrect answer 3", "incorrect_answer_3"],
    ["Explanation", "explanation"],
  ],
  humaneval: [["prompt"], ["canonical_solution"]],
  mbpp: [["text", "prompt"], ["code"], ["test_list"]],
};
for (const n of SYNTHETIC_TASK_NAMES) FIELDS[n] = [["prompt"], ["answer"]];

/** Splits tried in a dataset folder, as the eval loaders use them. */
const SPLITS: Record<string, string[]> = {
  aime24: ["train", "test"],
  aime25: ["train", "test"],
  "gpqa-diamond": ["train", "test"],
};

/** Synthetic test problems drawn when a synthetic task is named without a file (r1lab eval's default). */
const SYNTHETIC_PROBLEMS = 200;

export const KNOWN_BENCHMARKS: readonly string[] = Object.keys(FIELDS);

export interface Benchmark {
  name: string;
  /** A file or dataset folder, or `gen:test:N` for a synthetic task's generated test split. */
  path: string;
}

/** One benchmark row's prompt and answer texts, and where it is. */
export interface BenchmarkItem {
  texts: string[];
  file: string;
  line: number;
}

/** `NAME=PATH` or a known `NAME`, resolved to a local path (or an error saying where it looked). */
export function parseBenchmark(spec: string, opts: { cwd?: string; cacheDir?: string } = {}): Benchmark {
  const eq = spec.indexOf("=");
  const name = (eq === -1 ? spec : spec.slice(0, eq)).trim();
  if (!name) throw new DataError(`--benchmark '${spec}': expected NAME or NAME=FILE|DIR`);
  if (eq !== -1) {
    const path = resolve(opts.cwd ?? ".", spec.slice(eq + 1));
    if (!existsSync(path)) throw new DataError(`--benchmark ${name}: ${path} does not exist`);
    return { name, path };
  }
  if (SYNTHETIC_TASK_NAMES.includes(name)) return { name, path: `gen:test:${SYNTHETIC_PROBLEMS}` };
  const hubId = BENCHMARK_HUB_IDS[name];
  if (!hubId)
    throw new DataError(
      `--benchmark ${name}: not a known benchmark (${KNOWN_BENCHMARKS.join(", ")}); pass NAME=FILE|DIR for another one`,
    );
  const local = join(resolve(opts.cwd ?? "."), "data", name);
  if (existsSync(local)) return { name, path: local };
  try {
    return { name, path: resolveRepoPath(hubId, "dataset", { cacheDir: opts.cacheDir }) };
  } catch (e) {
    throw new DataError(
      `--benchmark ${name}: no local copy (r1lab downloads nothing here). Looked at ${local} and the Hugging Face cache:\n  ${(e as Error).message.replace(/\n/g, "\n  ")}\nor pass --benchmark ${name}=FILE|DIR`,
    );
  }
}

function texts(name: string, row: Row): string[] {
  const groups = FIELDS[name];
  if (!groups) return [rowText(row, "all")];
  const out: string[] = [];
  groups.forEach((spellings, i) => {
    const f = spellings.find((s) => row.fields[s] !== undefined && row.fields[s] !== null);
    if (f === undefined) {
      if (i === 0)
        throw new DataError(
          `${row.file}:${row.line}: ${name} row without its prompt field '${spellings[0]}'${spellings.length > 1 ? ` (also tried ${spellings.slice(1).join(", ")})` : ""}`,
        );
      return;
    }
    out.push(rowText(row, f));
  });
  return out;
}

/** The prompt and answer texts of every row of a benchmark. */
export async function* benchmarkItems(b: Benchmark): AsyncGenerator<BenchmarkItem> {
  const gen = /^gen:test:(\d+)$/.exec(b.path);
  if (gen) {
    for (const [i, ex] of problemsOf(getSyntheticTask(b.name), "test", Number(gen[1]), 0).entries())
      yield { texts: [ex.prompt, ex.answer], file: `${b.name} (generated test split)`, line: i + 1 };
    return;
  }
  for await (const row of readRowsStream(b.path, { split: SPLITS[b.name] ?? ["test", "train"] }))
    yield { texts: texts(b.name, row), file: row.file, line: row.line };
}
