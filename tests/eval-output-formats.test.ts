// results.json's standard errors and metadata, lighteval's maj@K next to r1lab's cons@K, and the
// lighteval / lm-eval layouts written by --output-format.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { consAtK, majAtK, stderrOfMean } from "../src/eval/metrics.ts";
import { parseOutputFormat, toLighteval, toLmEval, writeResultsFormat } from "../src/eval/output-formats.ts";
import { computeResults, type SampleRecord } from "../src/eval/results.ts";

const rec = (id: string, s: number, extracted: string | null, correct: boolean): SampleRecord => ({
  id,
  sample_index: s,
  completion: "",
  extracted,
  correct,
});

describe("maj@K and cons@K", () => {
  it("differ when most samples have no answer", () => {
    // One right answer and three unanswered: r1lab's vote ignores the silent ones, lighteval's lets them win.
    const problem = [
      { extracted: "4", correct: true },
      { extracted: null, correct: false },
      { extracted: null, correct: false },
      { extracted: null, correct: false },
    ];
    expect(consAtK([problem])).toBe(1);
    expect(majAtK([problem])).toBe(0);
    const answered = problem.map((x, i) => (i === 0 ? x : { extracted: "5", correct: false }));
    expect(consAtK([answered])).toBe(majAtK([answered]));
  });
  it("standard error of a mean over problems", () => {
    expect(stderrOfMean([1, 0, 1, 0])).toBeCloseTo(Math.sqrt(1 / 3 / 4), 12);
    expect(stderrOfMean([0.5])).toBe(0);
  });
});

describe("results.json and other layouts", () => {
  const records = [
    rec("a", 0, "1", true),
    rec("a", 1, null, false),
    rec("a", 2, null, false),
    rec("b", 0, "2", true),
    rec("b", 1, "2", true),
    rec("b", 2, "3", false),
  ];
  const r = computeResults({
    task: "math500",
    problemIds: ["a", "b"],
    records,
    sameAnswer: (x, y) => x === y,
    config: {
      r1lab_version: "9.9.9",
      model: "/hub/models--org--m/snapshots/0123456789abcdef0123456789abcdef01234567",
      model_name: null,
      temperature: 0.6,
      top_p: 0.95,
      max_tokens: 1024,
      seed: 3,
      n_problems_in_data: 5,
    },
  });
  it("carries standard errors, date, version, model revision and sampling", () => {
    expect(r["cons@3"]).toBe(1);
    expect(r["maj@3"]).toBe(0.5);
    expect(r.stderr["pass@1"]).toBeCloseTo(stderrOfMean([1 / 3, 2 / 3]), 12);
    expect(r.stderr["maj@3"]).toBeCloseTo(0.5, 12);
    expect((r.stderr["pass@k"] as Record<string, number>)["2"]).toBeGreaterThan(0);
    expect(Number.isNaN(Date.parse(r.date))).toBe(false);
    expect(r.r1lab_version).toBe("9.9.9");
    expect(r.model?.revision).toBe("0123456789abcdef0123456789abcdef01234567");
    expect(r.sampling).toEqual({ temperature: 0.6, top_p: 0.95, max_tokens: 1024, seed: 3, n: 3 });
  });
  it("lighteval's layout has the same numbers under its names, with stderr twins", () => {
    const l = toLighteval(r) as {
      results: Record<string, Record<string, number>>;
      config_general: Record<string, unknown>;
    };
    const t = l.results["custom|math500|0"];
    expect(t["pass@1:3_samples"]).toBe(r["pass@1"]);
    expect(t["pass@1:3_samples_stderr"]).toBe(r.stderr["pass@1"]);
    expect(t["maj@3"]).toBe(0.5);
    expect(t["cons@3"]).toBe(1);
    expect(t["pass@k:k=2&n=3"]).toBe(r["pass@k"]["2"]);
    expect(l.results.all).toEqual(t);
    expect(l.config_general.model_sha).toBe(r.model?.revision);
  });
  it("lm-eval's layout keys metrics by filter", () => {
    const m = toLmEval(r) as {
      results: Record<string, Record<string, unknown>>;
      "n-samples": Record<string, unknown>;
    };
    const t = m.results.math500;
    expect(t["exact_match,none"]).toBe(r["pass@1"]);
    expect(t["exact_match_stderr,none"]).toBe(r.stderr["pass@1"]);
    expect(t["exact_match,maj@3"]).toBe(0.5);
    expect(t["cons@3,none"]).toBe(1);
    expect(m["n-samples"].math500).toEqual({ original: 5, effective: 2 });
  });
  it("writes the file and rejects unknown formats", () => {
    const dir = mkdtempSync(join(tmpdir(), "r1lab-formats-"));
    const path = writeResultsFormat(dir, r, "lm-eval");
    expect(path).toBe(join(dir, "results_lm-eval.json"));
    expect(JSON.parse(readFileSync(path, "utf8")).results.math500.alias).toBe("math500");
    expect(parseOutputFormat(undefined)).toBe("r1lab");
    expect(() => parseOutputFormat("helm")).toThrow(
      /--output-format must be one of r1lab, lighteval, lm-eval, got 'helm'/,
    );
  });
});
