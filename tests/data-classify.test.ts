// The quality classifier on synthetic data that a bag of words separates imperfectly (a tenth of
// the texts carry no class word): held-out precision and recall must clear 0.85, well above the
// 0.5 of chance; applying it keeps exactly the rows whose score reaches the threshold and writes
// one score per row. Features, metrics and errors are checked directly.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { classifyApply, classifyTrain, metricsAt } from "../src/data/classify.ts";
import { FEATURE_DEFAULTS, textFeatures } from "../src/data/features.ts";
import { TaskRng } from "../src/engine/rng.ts";
import { runR1lab } from "./helpers/run-r1lab.ts";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "r1lab-classify-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const rng = new TaskRng(11);
const shared = Array.from({ length: 300 }, (_, i) => `filler${i}`);
const GOOD = [
  "prove",
  "therefore",
  "equation",
  "integer",
  "lemma",
  "solve",
  "derivative",
  "theorem",
  "compute",
  "sum",
];
const BAD = ["click", "buy", "cheap", "offer", "subscribe", "free", "winner", "casino", "deal", "promo"];
const pick = (a: string[]) => a[rng.int(0, a.length - 1)];
/** 30 words, each a class word with probability 0.075 (so ~10% of texts have none). */
const text = (cls: string[]) =>
  Array.from({ length: 30 }, () => (rng.next() < 0.075 ? pick(cls) : pick(shared))).join(" ");
const writeJsonl = (path: string, rows: unknown[]) =>
  writeFileSync(path, `${rows.map((r) => JSON.stringify(r)).join("\n")}\n`);

describe("features", () => {
  it("hashes words, word pairs and character n-grams into the buckets", () => {
    const cfg = { ...FEATURE_DEFAULTS, buckets: 1024 };
    const f = textFeatures("Solve it", cfg);
    // 2 words + 1 pair + char 3..5-grams of "<solve>" (5+4+3) and "<it>" (2; its 4-gram is the whole word).
    expect(f.length).toBe(2 + 1 + 12 + 2);
    expect(Math.max(...f)).toBeLessThan(1024);
    expect(Array.from(textFeatures("SOLVE, it!", cfg))).toEqual(Array.from(f));
    expect(textFeatures("a b c d", { ...cfg, maxFeatures: 5 }).length).toBe(5);
  });

  it("computes precision and recall", () => {
    expect(metricsAt([0.9, 0.8, 0.2, 0.6], [1, 0, 1, 0], 0.5)).toMatchObject({
      tp: 1,
      fp: 2,
      fn: 1,
      tn: 0,
      precision: 0.3333,
      recall: 0.5,
    });
  });
});

describe("classify", () => {
  it("trains on positives and negatives, reports held-out precision/recall, and filters a corpus", async () => {
    const pos = join(dir, "pos.jsonl");
    const neg = join(dir, "neg.jsonl");
    writeJsonl(
      pos,
      Array.from({ length: 400 }, () => ({ text: text(GOOD) })),
    );
    writeJsonl(
      neg,
      Array.from({ length: 400 }, () => ({ text: text(BAD) })),
    );
    const model = join(dir, "model");
    const r = await classifyTrain({
      positive: pos,
      negative: neg,
      out: model,
      holdout: 0.25,
      dim: 8,
      features: { buckets: 1 << 12 },
      epochs: 4,
      batchSize: 64,
      progress: false,
    });
    expect(r.heldout_examples).toBeGreaterThan(150);
    expect(r.train_examples + r.heldout_examples).toBe(800);
    expect(r.heldout!.precision).toBeGreaterThan(0.85);
    expect(r.heldout!.recall).toBeGreaterThan(0.85);
    expect(JSON.parse(readFileSync(join(model, "report.json"), "utf8")).heldout).toEqual(r.heldout);

    // A fresh corpus: class words decide; rows with none are near 0.5.
    const corpus = join(dir, "corpus.jsonl");
    const rows = [
      { text: "prove the theorem then solve the equation" },
      { text: "click to buy cheap promo deal" },
      { text: `${text(GOOD)} lemma integer` },
      { text: `${text(BAD)} casino winner` },
    ];
    writeJsonl(corpus, rows);
    const out = join(dir, "applied");
    const a = await classifyApply({ model, data: corpus, out, threshold: 0.5, progress: false });
    expect([a.rows, a.kept, a.removed]).toEqual([4, 2, 2]);
    const scores = readFileSync(join(out, "scores.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(scores.map((s) => s.line)).toEqual([1, 2, 3, 4]);
    expect(scores.map((s) => s.kept)).toEqual([true, false, true, false]);
    expect(scores[0].score).toBeGreaterThan(0.8);
    expect(scores[1].score).toBeLessThan(0.2);
    const kept = readFileSync(join(out, "corpus.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l).text);
    expect(kept).toEqual([rows[0].text, rows[2].text]);
  }, 120_000);

  it("runs train and apply from the command line", async () => {
    const pos = join(dir, "cli-pos.jsonl");
    const neg = join(dir, "cli-neg.jsonl");
    writeJsonl(
      pos,
      Array.from({ length: 60 }, () => ({ text: text(GOOD) })),
    );
    writeJsonl(
      neg,
      Array.from({ length: 60 }, () => ({ text: text(BAD) })),
    );
    const model = join(dir, "cli-model");
    const t = await runR1lab(
      [
        "data",
        "classify",
        "train",
        "--positive",
        pos,
        "--negative",
        neg,
        "--out",
        model,
        "--buckets",
        "1024",
        "--dim",
        "4",
        "--epochs",
        "2",
        "-q",
      ],
      { timeoutMs: 90_000 },
    );
    expect(t.code, t.stderr).toBe(0);
    const tr = JSON.parse(t.stdout.split("\n")[0]);
    expect(tr.train_examples + tr.heldout_examples).toBe(120);
    const a = await runR1lab(
      [
        "data",
        "classify",
        "apply",
        "--model",
        model,
        "--data",
        pos,
        "--out",
        join(dir, "cli-applied"),
        "--threshold",
        "0",
        "-q",
      ],
      { timeoutMs: 60_000 },
    );
    expect(a.code, a.stderr).toBe(0);
    expect(JSON.parse(a.stdout.split("\n")[0])).toMatchObject({
      rows: 60,
      kept: 60,
      removed: 0,
      threshold: 0,
    });
    const bad = await runR1lab(["data", "classify", "score"], { timeoutMs: 60_000 });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("expected train or apply, got 'score'");
  }, 120_000);

  it("errors name the file and field", async () => {
    const pos = join(dir, "p2.jsonl");
    writeJsonl(pos, [{ text: "fine" }, { body: "no text here" }]);
    await expect(
      classifyTrain({ positive: pos, negative: pos, out: join(dir, "m2"), field: "text", progress: false }),
    ).rejects.toThrow(`${pos}:2: missing field 'text'`);
    await expect(
      classifyApply({ model: join(dir, "nope"), data: pos, out: join(dir, "a2"), progress: false }),
    ).rejects.toThrow("no classifier.safetensors");
  });
});
