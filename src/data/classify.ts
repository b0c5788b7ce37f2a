// `r1lab data classify`: train the quality classifier (classifier.ts) from files of positive and
// negative examples, measuring precision and recall on a held-out share of each; then apply it to
// a corpus, keeping the rows whose score reaches a threshold and writing every row's score.
// Training holds the examples' feature ids in memory (as fastText does); applying streams.
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { openAtomicWriter, writeJsonAtomic } from "../engine/atomic.ts";
import { openSafetensors, writeSafetensors } from "../engine/safetensors.ts";
import {
  type Classifier,
  type ClassifierConfig,
  type Example,
  bucketScores,
  scoreFeatures,
  trainClassifier,
} from "./classifier.ts";
import { FEATURE_DEFAULTS, type FeatureConfig, textFeatures } from "./features.ts";
import { hashString } from "./normalise.ts";
import { startProgress } from "./progress.ts";
import { rowText } from "./row-text.ts";
import { RowWriter } from "./row-writer.ts";
import { dataFiles, readRowBatches, type Row } from "./rows.ts";
import { Progress } from "../report/progress.ts";

export interface ClassifyTrainOptions {
  positive: string;
  negative: string;
  out: string;
  field?: string;
  split?: string;
  /** Share of each side held out for precision/recall. Default 0.1. */
  holdout?: number;
  dim?: number;
  features?: Partial<FeatureConfig>;
  epochs?: number;
  lr?: number;
  batchSize?: number;
  seed?: number;
  /** Score at which held-out texts count as positive. Default 0.5. */
  threshold?: number;
  progress?: boolean;
}

export interface Metrics {
  threshold: number;
  precision: number;
  recall: number;
  f1: number;
  accuracy: number;
  tp: number;
  fp: number;
  fn: number;
  tn: number;
}

/** Precision, recall, F1 and accuracy of scores against labels at a threshold. */
export function metricsAt(scores: number[], labels: number[], threshold: number): Metrics {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let tn = 0;
  scores.forEach((s, i) => {
    const pred = s >= threshold;
    if (pred && labels[i]) tp++;
    else if (pred) fp++;
    else if (labels[i]) fn++;
    else tn++;
  });
  const precision = tp + fp ? tp / (tp + fp) : 0;
  const recall = tp + fn ? tp / (tp + fn) : 0;
  const r4 = (x: number) => Number(x.toFixed(4));
  return {
    threshold,
    precision: r4(precision),
    recall: r4(recall),
    f1: r4(precision + recall ? (2 * precision * recall) / (precision + recall) : 0),
    accuracy: r4((tp + tn) / Math.max(1, scores.length)),
    tp,
    fp,
    fn,
    tn,
  };
}

async function readExamples(
  path: string,
  label: number,
  o: ClassifyTrainOptions,
  features: FeatureConfig,
  holdout: number,
  seed: number,
) {
  const train: Example[] = [];
  const held: Example[] = [];
  for await (const b of readRowBatches(path, { split: o.split ?? "train" })) {
    for (const row of b.rows) {
      const ex = { features: textFeatures(rowText(row, o.field ?? "auto"), features), label };
      // A fixed share of each side, chosen by a hash of (seed, side, row): the same for every run with this seed.
      (hashString(`${seed}:${label}:${row.index}`) / 2 ** 32 < holdout ? held : train).push(ex);
    }
  }
  if (train.length === 0)
    throw new Error(`${path}: no ${label ? "positive" : "negative"} examples to train on`);
  return { train, held, rows: train.length + held.length };
}

function saveClassifier(dir: string, c: Classifier, field: string): string {
  const path = join(dir, "classifier.safetensors");
  const { buckets } = c.config.features;
  writeSafetensors(
    path,
    {
      E: { dtype: "F32", shape: [buckets, c.config.dim], data: c.E },
      W: { dtype: "F32", shape: [c.config.dim], data: c.W },
      b: { dtype: "F32", shape: [1], data: Float32Array.of(c.b) },
    },
    { format: "r1lab-quality-classifier", config: JSON.stringify(c.config), field },
  );
  return path;
}

/** A classifier saved by classifyTrain (DIR/classifier.safetensors), with the field it was trained on. */
export function loadClassifier(dir: string): { classifier: Classifier; field: string } {
  const path = existsSync(join(dir, "classifier.safetensors")) ? join(dir, "classifier.safetensors") : dir;
  if (!existsSync(path))
    throw new Error(`${dir}: no classifier.safetensors (train one with \`r1lab data classify train\`)`);
  const f = openSafetensors(path);
  try {
    if (f.metadata?.format !== "r1lab-quality-classifier")
      throw new Error(`${path}: not an r1lab quality classifier (metadata format '${f.metadata?.format}')`);
    const config = JSON.parse(f.metadata.config) as ClassifierConfig;
    return {
      classifier: { config, E: f.read("E"), W: f.read("W"), b: f.read("b")[0] },
      field: f.metadata.field ?? "auto",
    };
  } finally {
    f.close();
  }
}

export async function classifyTrain(o: ClassifyTrainOptions) {
  const t0 = performance.now();
  const out = resolve(o.out);
  const holdout = o.holdout ?? 0.1;
  if (!(holdout >= 0 && holdout < 1)) throw new Error(`holdout must be in [0, 1), got ${holdout}`);
  const seed = o.seed ?? 1;
  const features: FeatureConfig = { ...FEATURE_DEFAULTS, ...o.features };
  const config: ClassifierConfig = { features, dim: o.dim ?? 16 };
  const pos = await readExamples(resolve(o.positive), 1, o, features, holdout, seed);
  const neg = await readExamples(resolve(o.negative), 0, o, features, holdout, seed);
  const train = [...pos.train, ...neg.train];
  const held = [...pos.held, ...neg.held];
  const t = { epochs: o.epochs ?? 5, lr: o.lr ?? 0.05, batchSize: o.batchSize ?? 64, seed };
  const { initEngine } = await import("../engine/device.ts");
  await initEngine({ device: "cpu" });
  const steps = Math.ceil(train.length / t.batchSize) * t.epochs;
  const bar = new Progress({
    total: steps,
    label: "classify train",
    stream: o.progress === false ? { write: () => true } : process.stderr,
  });
  let lastLoss = Number.NaN;
  const c = await trainClassifier(train, config, t, (step, _n, loss) => {
    lastLoss = loss;
    bar.update(step, { loss });
  });
  bar.done({ loss: lastLoss });
  const s = bucketScores(c);
  const heldScores = held.map((e) => scoreFeatures(e.features, s, c.b));
  const labels = held.map((e) => e.label);
  const threshold = o.threshold ?? 0.5;
  const report = {
    positive: { path: resolve(o.positive), rows: pos.rows },
    negative: { path: resolve(o.negative), rows: neg.rows },
    train_examples: train.length,
    heldout_examples: held.length,
    heldout: held.length ? metricsAt(heldScores, labels, threshold) : null,
    heldout_by_threshold: held.length
      ? [0.1, 0.3, 0.5, 0.7, 0.9].map((th) => metricsAt(heldScores, labels, th))
      : [],
    train_loss: Number(lastLoss.toFixed(5)),
    config,
    training: { ...t, holdout, optimizer: "AdamW (lazy: rows a batch touches), linear decay to 0" },
    model: saveClassifier(out, c, o.field ?? "auto"),
    seconds: Number(((performance.now() - t0) / 1000).toFixed(3)),
  };
  writeJsonAtomic(join(out, "report.json"), report);
  return report;
}

export interface ClassifyApplyOptions {
  /** Folder with classifier.safetensors. */
  model: string;
  data: string;
  out: string;
  /** Least score kept. Default 0.5. */
  threshold?: number;
  /** Default: the field the classifier was trained on. */
  field?: string;
  split?: string;
  progress?: boolean;
}

export async function classifyApply(o: ClassifyApplyOptions) {
  const t0 = performance.now();
  const data = resolve(o.data);
  const out = resolve(o.out);
  const threshold = o.threshold ?? 0.5;
  const { classifier: c, field: trainedField } = loadClassifier(resolve(o.model));
  const field = o.field ?? trainedField;
  const s = bucketScores(c);
  const split = o.split ?? "train";
  const bar = startProgress("classify apply", dataFiles(data, split), o.progress);
  const writer = new RowWriter(out, data);
  const scores = openAtomicWriter(join(out, "scores.jsonl"));
  const histogram = new Array(10).fill(0);
  let rows = 0;
  let kept = 0;
  let sum = 0;
  try {
    for await (const batch of readRowBatches(data, {
      split,
      onBytes: (b) => bar.update(b, { rows, kept }),
    })) {
      const keep: Row[] = [];
      const lines: string[] = [];
      for (const row of batch.rows) {
        const score = scoreFeatures(textFeatures(rowText(row, field), c.config.features), s, c.b);
        rows++;
        sum += score;
        histogram[Math.min(9, Math.floor(score * 10))]++;
        const ok = score >= threshold;
        if (ok) {
          kept++;
          keep.push(row);
        }
        lines.push(
          JSON.stringify({
            file: row.file,
            line: row.line,
            index: row.index,
            score: Number(score.toFixed(6)),
            kept: ok,
          }),
        );
      }
      if (lines.length) scores.write(`${lines.join("\n")}\n`);
      writer.add(batch, keep);
    }
    writer.commit();
    scores.commit();
  } catch (e) {
    writer.abort();
    scores.abort();
    throw e;
  }
  bar.done({ rows, kept });
  const seconds = (performance.now() - t0) / 1000;
  const report = {
    data,
    out,
    model: resolve(o.model),
    field,
    threshold,
    rows,
    kept,
    removed: rows - kept,
    mean_score: rows ? Number((sum / rows).toFixed(4)) : null,
    /** Rows per score decile [0, 0.1), ..., [0.9, 1]. */
    histogram,
    outputs: [...writer.written, join(out, "scores.jsonl")],
    seconds: Number(seconds.toFixed(3)),
    rows_per_s: Math.round(rows / Math.max(seconds, 1e-9)),
  };
  writeJsonAtomic(join(out, "report.json"), report);
  return report;
}
