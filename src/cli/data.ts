// `r1lab data`: data curation before training, the way DeepSeek's and open-r1's pipelines do it.
//   data dedup          exact (normalised hash) and near (MinHash + LSH) duplicates; first of each kept
//   data decontaminate  rows sharing an n-gram with a benchmark's prompts or answers (open-r1: 8-grams)
//   data classify train a fastText-like quality classifier from positive and negative examples
//   data classify apply score a corpus with it and keep the rows at or above a threshold
// Each streams its input (JSONL, Parquet, dataset folders), writes the kept rows in the input's format
// under --out with report.json, and prints the report's counts. See docs/data.md.
import { resolve } from "node:path";
import { type Command, numberFlag, requireFlag, UsageError } from "./command.ts";

const SUBCOMMANDS = ["dedup", "decontaminate", "classify"];

function summary(report: Record<string, unknown>, keys: string[]): string {
  return JSON.stringify(Object.fromEntries(keys.filter((k) => k in report).map((k) => [k, report[k]])));
}

async function runDedup(v: Record<string, any>): Promise<void> {
  const { dedup } = await import("../data/dedup.ts");
  const threshold = v.threshold !== undefined ? numberFlag(v, "threshold", { min: 0 }) : 0.8;
  if (!(threshold > 0 && threshold <= 1)) throw new UsageError(`--threshold must be in (0, 1], got ${threshold}`);
  const r = await dedup({
    data: requireFlag(v, "data", "data dedup"),
    out: requireFlag(v, "out", "data dedup"),
    split: v.split,
    field: v.field,
    near: Boolean(v.near),
    threshold,
    numPerm: numberFlag(v, "num-perm", { int: true, min: 8 }),
    shingle: numberFlag(v, "shingle", { int: true, min: 1 }),
    seed: numberFlag(v, "seed", { int: true, min: 0 }),
    progress: !v.quiet,
  });
  console.log(summary(r as unknown as Record<string, unknown>, ["rows", "kept", "removed_exact", "removed_near", "clusters", "rows_per_s"]));
  console.log(`wrote ${r.outputs.join(", ")} and ${resolve(r.out, "report.json")}`);
}

const cmd: Command = {
  name: "data",
  summary: "curate training data: dedup, decontaminate against benchmarks, quality classifier",
  usage: [
    "data dedup --data FILE|DIR --out DIR [--field NAME] [--near [--threshold 0.8]]",
    "       r1lab data decontaminate --data FILE|DIR --benchmark NAME[=FILE|DIR] ... [--ngram 8] --out DIR",
    "       r1lab data classify train --positive FILE|DIR --negative FILE|DIR --out DIR",
    "       r1lab data classify apply --model DIR --data FILE|DIR --out DIR [--threshold 0.5]",
  ].join("\n"),
  options: {
    data: { type: "string", help: "input rows: .jsonl, .json, .parquet or a dataset folder" },
    out: { type: "string", help: "output folder: kept rows in the input's format and layout, report.json" },
    split: { type: "string", default: "train", help: "split to read from a dataset folder" },
    field: { type: "string", help: "text compared: auto, all, a field (text, messages, problem, ...) or a+b (default: auto; decontaminate: all)" },
    near: { type: "boolean", help: "dedup: also remove near duplicates (MinHash + LSH over word shingles)" },
    threshold: { type: "string", help: "dedup: Jaccard similarity for near duplicates (default 0.8); classify apply: least score kept (default 0.5)" },
    "num-perm": { type: "string", default: "128", help: "dedup: MinHash permutations" },
    shingle: { type: "string", default: "3", help: "dedup: tokens per shingle" },
    seed: { type: "string", default: "1", help: "MinHash seeds; classify: initialisation, held-out split and data order" },
    quiet: { type: "boolean", short: "q", help: "no progress bar" },
  },
  details: [
    "Tokens are normalised (NFKC, lower case, prose punctuation dropped, math symbols kept) before hashing.",
    "Rows of every file go to OUT/ under the same relative path; report.json holds the counts and examples.",
    "See docs/data.md.",
  ].join("\n"),
  async run(v, positionals) {
    const [sub, ...rest] = positionals;
    if (!sub || !SUBCOMMANDS.includes(sub)) throw new UsageError(`r1lab data: expected a subcommand (${SUBCOMMANDS.join(", ")}), got ${sub ? `'${sub}'` : "none"}`);
    if (sub === "dedup") {
      if (rest.length) throw new UsageError(`r1lab data dedup: unexpected argument '${rest[0]}'`);
      return runDedup(v);
    }
    throw new UsageError(`r1lab data ${sub}: not written yet`);
  },
};

export default cmd;
