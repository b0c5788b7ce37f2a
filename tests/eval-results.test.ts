import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  computeResults,
  formatResultsTable,
  readSamples,
  type SampleRecord,
  SampleWriter,
  sampleKey,
  writeResults,
} from "../src/eval/results.ts";

const rec = (id: string, s: number, extracted: string | null, correct: boolean): SampleRecord => ({
  id,
  sample_index: s,
  completion: `c${s}`,
  extracted,
  correct,
});

describe("computeResults", () => {
  // p1: 1 of 4 correct, majority "5" (wrong). p2: 3 of 4 correct, majority "7" (right).
  const records = [
    rec("p1", 0, "4", true),
    rec("p1", 1, "5", false),
    rec("p1", 2, "5", false),
    rec("p1", 3, null, false),
    rec("p2", 3, "7", true),
    rec("p2", 0, "7", true),
    rec("p2", 1, "8", false),
    rec("p2", 2, "7.0", true),
  ];
  const r = computeResults({
    task: "toy",
    problemIds: ["p1", "p2", "p3"],
    records,
    sameAnswer: (a, b) => Number(a) === Number(b),
    config: { seed: 0 },
  });
  it("computes pass@1, cons@K and pass@k", () => {
    expect(r.n_problems).toBe(2);
    expect(r.samples_per_problem).toBe(4);
    expect(r["pass@1"]).toBeCloseTo((0.25 + 0.75) / 2, 12);
    expect(r["cons@4"]).toBe(0.5);
    expect(Object.keys(r["pass@k"])).toEqual(["1", "2", "4"]);
    // pass@2: p1 1 - C(3,2)/C(4,2) = 0.5; p2 1 - C(1,2)/C(4,2) = 1
    expect(r["pass@k"]["2"]).toBeCloseTo(0.75, 12);
    expect(r["pass@k"]["4"]).toBe(1);
    expect(r.no_answer_rate).toBeCloseTo(1 / 8, 12);
    expect(r.config).toEqual({ seed: 0 });
  });
  it("writes results.json atomically with the keys in order, and a table", () => {
    const dir = mkdtempSync(join(tmpdir(), "r1lab-results-"));
    writeResults(dir, r);
    const text = readFileSync(join(dir, "results.json"), "utf8");
    const keys = Object.keys(JSON.parse(text));
    expect(keys.slice(0, 7)).toEqual([
      "task",
      "n_problems",
      "samples_per_problem",
      "pass@1",
      "cons@4",
      "maj@4",
      "pass@k",
    ]);
    expect(readdirSync(dir)).toEqual(["results.json"]); // no temp file left behind
    const table = formatResultsTable(r);
    expect(table).toMatch(/pass@1\s+cons@4\s+pass@2\s+pass@4/);
    expect(table).toMatch(/0\.500\s+0\.500\s+0\.750\s+1\.000/);
  });
});

describe("samples.jsonl and resume", () => {
  it("appends lines, reads them back, ignores and repairs a torn tail", () => {
    const dir = mkdtempSync(join(tmpdir(), "r1lab-samples-"));
    const w = new SampleWriter(dir, { fresh: true });
    w.append(rec("a", 0, "1", true));
    w.append(rec("a", 1, "2", false));
    w.close();
    const path = join(dir, "samples.jsonl");
    appendFileSync(path, '{"id": "a", "sample_index": 2, "compl'); // killed mid-write
    const { records, done } = readSamples(dir, { repair: true });
    expect(records.map((r) => r.sample_index)).toEqual([0, 1]);
    expect(done.has(sampleKey("a", 1))).toBe(true);
    expect(done.has(sampleKey("a", 2))).toBe(false);
    expect(readFileSync(path, "utf8").endsWith("}\n")).toBe(true);
    const w2 = new SampleWriter(dir);
    w2.append(rec("a", 2, "3", true));
    w2.close();
    expect(readSamples(dir).records.map((r) => r.sample_index)).toEqual([0, 1, 2]);
  });
  it("keeps the first of repeated samples and names a malformed line", () => {
    const dir = mkdtempSync(join(tmpdir(), "r1lab-samples-"));
    expect(readSamples(dir).records).toEqual([]);
    const path = join(dir, "samples.jsonl");
    writeFileSync(
      path,
      `${JSON.stringify(rec("b", 0, "1", true))}\n${JSON.stringify(rec("b", 0, "9", false))}\n`,
    );
    expect(readSamples(dir).records.map((r) => r.extracted)).toEqual(["1"]);
    writeFileSync(path, `${JSON.stringify(rec("b", 0, "1", true))}\nnot json\n{}\n`);
    expect(() => readSamples(dir)).toThrow(`${path}:2: not valid JSON`);
    writeFileSync(path, '{"id": "b"}\n');
    expect(() => readSamples(dir)).toThrow(`${path}:1: a sample needs`);
    expect(existsSync(path)).toBe(true);
  });
});
