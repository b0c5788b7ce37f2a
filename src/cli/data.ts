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
  if (!(threshold > 0 && threshold <= 1))
    throw new UsageError(`--threshold must be in (0, 1], got ${threshold}`);
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
  console.log(
    summary(r as unknown as Record<string, unknown>, [
      "rows",
      "kept",
      "removed_exact",
      "removed_near",
      "clusters",
      "rows_per_s",
    ]),
  );
  console.log(`wrote ${r.outputs.join(", ")} and ${resolve(r.out, "report.json")}`);
}

async function runDecontaminate(v: Record<string, any>): Promise<void> {
  const { decontaminate } = await import("../data/decontaminate.ts");
  const { parseBenchmark } = await import("../data/benchmarks.ts");
  const specs: string[] = v.benchmark ?? [];
  if (specs.length === 0)
    throw new UsageError("r1lab data decontaminate: give at least one --benchmark NAME[=FILE|DIR]");
  const benchmarks = specs.map((s) => {
    try {
      return parseBenchmark(s);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  });
  const r = await decontaminate({
    data: requireFlag(v, "data", "data decontaminate"),
    out: requireFlag(v, "out", "data decontaminate"),
    benchmarks,
    split: v.split,
    field: v.field ?? "all",
    ngram: numberFlag(v, "ngram", { int: true, min: 1 }),
    progress: !v.quiet,
  });
  const per = Object.fromEntries(
    Object.entries(r.benchmarks).map(([k, b]) => [
      k,
      { rows_removed: b.rows_removed, problems_leaked: b.problems_leaked, problems: b.problems },
    ]),
  );
  console.log(
    JSON.stringify({
      rows: r.rows,
      kept: r.kept,
      removed: r.removed,
      benchmarks: per,
      rows_per_s: r.rows_per_s,
    }),
  );
  console.log(`wrote ${r.outputs.join(", ")} and ${resolve(r.out, "report.json")}`);
}

async function runClassify(v: Record<string, any>, mode: string | undefined): Promise<void> {
  const { classifyApply, classifyTrain } = await import("../data/classify.ts");
  if (mode === "train") {
    const holdout = numberFlag(v, "holdout", { min: 0 });
    if (holdout >= 1) throw new UsageError(`--holdout must be in [0, 1), got ${holdout}`);
    const r = await classifyTrain({
      positive: requireFlag(v, "positive", "data classify train"),
      negative: requireFlag(v, "negative", "data classify train"),
      out: requireFlag(v, "out", "data classify train"),
      field: v.field,
      split: v.split,
      holdout,
      dim: numberFlag(v, "dim", { int: true, min: 1 }),
      features: { buckets: numberFlag(v, "buckets", { int: true, min: 16 }) },
      epochs: numberFlag(v, "epochs", { int: true, min: 1 }),
      lr: numberFlag(v, "lr", { min: 0 }),
      batchSize: numberFlag(v, "batch-size", { int: true, min: 1 }),
      seed: numberFlag(v, "seed", { int: true, min: 0 }),
      threshold: v.threshold !== undefined ? numberFlag(v, "threshold", { min: 0 }) : 0.5,
      progress: !v.quiet,
    });
    console.log(
      JSON.stringify({
        train_examples: r.train_examples,
        heldout_examples: r.heldout_examples,
        heldout: r.heldout,
        train_loss: r.train_loss,
      }),
    );
    console.log(`wrote ${r.model} and ${resolve(v.out, "report.json")}`);
    return;
  }
  if (mode === "apply") {
    const r = await classifyApply({
      model: requireFlag(v, "model", "data classify apply"),
      data: requireFlag(v, "data", "data classify apply"),
      out: requireFlag(v, "out", "data classify apply"),
      threshold: v.threshold !== undefined ? numberFlag(v, "threshold", { min: 0 }) : 0.5,
      field: v.field,
      split: v.split,
      progress: !v.quiet,
    });
    console.log(
      JSON.stringify({
        rows: r.rows,
        kept: r.kept,
        removed: r.removed,
        threshold: r.threshold,
        mean_score: r.mean_score,
        rows_per_s: r.rows_per_s,
      }),
    );
    console.log(`wrote ${r.outputs.join(", ")} and ${resolve(r.out, "report.json")}`);
    return;
  }
  throw new UsageError(`r1lab data classify: expected train or apply, got ${mode ? `'${mode}'` : "nothing"}`);
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
    field: {
      type: "string",
      help: "text compared: auto, all, a field (text, messages, problem, ...) or a+b (default: auto; decontaminate: all)",
    },
    near: { type: "boolean", help: "dedup: also remove near duplicates (MinHash + LSH over word shingles)" },
    threshold: {
      type: "string",
      help: "dedup: Jaccard similarity for near duplicates (default 0.8); classify apply: least score kept (default 0.5)",
    },
    "num-perm": { type: "string", default: "128", help: "dedup: MinHash permutations" },
    shingle: { type: "string", default: "3", help: "dedup: tokens per shingle" },
    benchmark: {
      type: "string",
      multiple: true,
      help: "decontaminate: NAME (gsm8k, math500, aime24, aime25, gpqa-diamond, humaneval, mbpp, arithmetic, countdown; found in data/NAME or the HF cache) or NAME=FILE|DIR; repeat for several",
    },
    ngram: { type: "string", default: "8", help: "decontaminate: tokens per n-gram (open-r1: 8)" },
    positive: { type: "string", help: "classify train: examples of the text to keep (file or folder)" },
    negative: { type: "string", help: "classify train: examples of the text to drop (file or folder)" },
    model: {
      type: "string",
      help: "classify apply: folder written by classify train (classifier.safetensors)",
    },
    holdout: {
      type: "string",
      default: "0.1",
      help: "classify train: share of each side held out for precision/recall",
    },
    dim: { type: "string", default: "16", help: "classify train: embedding width" },
    buckets: {
      type: "string",
      default: "262144",
      help: "classify train: hash buckets for word, word-pair and character n-gram features",
    },
    epochs: { type: "string", default: "5", help: "classify train: passes over the training examples" },
    lr: {
      type: "string",
      default: "0.05",
      help: "classify train: AdamW peak learning rate (linear decay to 0)",
    },
    "batch-size": { type: "string", default: "64", help: "classify train: examples per step" },
    seed: {
      type: "string",
      default: "1",
      help: "MinHash seeds; classify: initialisation, held-out split and data order",
    },
    quiet: { type: "boolean", short: "q", help: "no progress bar" },
  },
  details: [
    "Tokens are normalised (NFKC, lower case, prose punctuation dropped, math symbols kept) before hashing.",
    "Rows of every file go to OUT/ under the same relative path; report.json holds the counts and examples.",
    "See docs/data.md.",
  ].join("\n"),
  async run(v, positionals) {
    const [sub, ...rest] = positionals;
    if (!sub || !SUBCOMMANDS.includes(sub))
      throw new UsageError(
        `r1lab data: expected a subcommand (${SUBCOMMANDS.join(", ")}), got ${sub ? `'${sub}'` : "none"}`,
      );
    if (sub === "dedup") {
      if (rest.length) throw new UsageError(`r1lab data dedup: unexpected argument '${rest[0]}'`);
      return runDedup(v);
    }
    if (sub === "decontaminate") {
      if (rest.length) throw new UsageError(`r1lab data decontaminate: unexpected argument '${rest[0]}'`);
      return runDecontaminate(v);
    }
    if (rest.length > 1) throw new UsageError(`r1lab data classify: unexpected argument '${rest[1]}'`);
    return runClassify(v, rest[0]);
  },
};

export default cmd;
