import { describe, expect, it } from "vitest";
import {
  consAtK,
  consCorrect,
  majorityVote,
  meanPassAtK,
  pass1,
  passAtK,
  passAtKTable,
} from "../src/eval/metrics.ts";

function binom(n: number, k: number): bigint {
  if (k < 0 || k > n) return 0n;
  let r = 1n;
  for (let i = 0; i < k; i++) r = (r * BigInt(n - i)) / BigInt(i + 1);
  return r;
}

describe("passAtK", () => {
  it("matches 1 - C(n-c,k)/C(n,k) computed exactly", () => {
    for (const n of [1, 2, 5, 16]) {
      for (let c = 0; c <= n; c++) {
        for (let k = 1; k <= n; k++) {
          const exact = 1 - Number((binom(n - c, k) * 10n ** 15n) / binom(n, k)) / 1e15;
          expect(passAtK(n, c, k)).toBeCloseTo(exact, 12);
        }
      }
    }
  });
  it("is stable for large n (no overflowing binomials)", () => {
    const v = passAtK(1024, 3, 64);
    expect(Number.isFinite(v)).toBe(true);
    // 1 - prod_{i=0}^{2} (1 - 64 / (1024 - i))
    const direct = 1 - (1 - 64 / 1022) * (1 - 64 / 1023) * (1 - 64 / 1024);
    expect(v).toBeCloseTo(direct, 12);
    expect(passAtK(1000, 0, 64)).toBe(0);
    expect(passAtK(64, 1, 64)).toBe(1);
  });
  it("pass@1 equals c/n and rejects bad arguments", () => {
    expect(passAtK(8, 3, 1)).toBeCloseTo(3 / 8, 12);
    expect(() => passAtK(4, 5, 1)).toThrow(/c <= n/);
    expect(() => passAtK(4, 1, 5)).toThrow(/k <= n/);
  });
});

describe("means over problems", () => {
  const correct = [
    [true, false, false, false],
    [true, true, true, true],
    [false, false, false, false],
  ];
  it("pass@1 averages per-problem accuracy", () => {
    expect(pass1(correct)).toBeCloseTo((0.25 + 1 + 0) / 3, 12);
    expect(meanPassAtK(correct, 1)).toBeCloseTo(pass1(correct), 12);
  });
  it("pass@k table has the powers of two up to n", () => {
    const t = passAtKTable(correct);
    expect(Object.keys(t)).toEqual(["1", "2", "4"]);
    expect(t["4"]).toBeCloseTo(2 / 3, 12);
    expect(t["2"]).toBeCloseTo((0.5 + 1 + 0) / 3, 12);
  });
});

describe("majority vote", () => {
  it("counts groups, skips nulls, breaks ties by first seen", () => {
    expect(majorityVote(["3", null, "4", "4", "3"])).toEqual({ answer: "3", index: 0, count: 2 });
    expect(majorityVote(["5", "4", "4"])).toEqual({ answer: "4", index: 1, count: 2 });
    expect(majorityVote([null, null])).toEqual({ answer: null, index: -1, count: 0 });
  });
  it("groups by a given equivalence", () => {
    const same = (a: string, b: string) => Number(a) === Number(b);
    expect(majorityVote(["0.5", "1", ".50", "1.0", "0.50"], same)).toEqual({
      answer: "0.5",
      index: 0,
      count: 3,
    });
  });
  it("cons@K is the correctness of the majority answer", () => {
    const p1 = [
      { extracted: "7", correct: true },
      { extracted: "8", correct: false },
      { extracted: "8", correct: false },
    ];
    const p2 = [
      { extracted: null, correct: false },
      { extracted: "2", correct: true },
    ];
    expect(consCorrect(p1)).toBe(false);
    expect(consCorrect(p2)).toBe(true);
    expect(consAtK([p1, p2])).toBe(0.5);
  });
});
