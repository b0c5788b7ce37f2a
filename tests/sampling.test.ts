// sampleToken (src/generate/sampling.ts) sorts only the head of the vocabulary that top-k / top-p
// need and reuses scratch buffers. It must draw exactly the tokens of the plain definition below
// (every token sorted by probability, ties in index order, then the nucleus), for the same Rng
// stream: runs are reproducible from their seed across this change.
import { describe, expect, it } from "vitest";
import { Rng } from "../src/engine/rng.ts";
import { type SamplingParams, sampleToken } from "../src/generate/sampling.ts";

function plainSample(row: Float32Array, offset: number, n: number, sp: SamplingParams, rng: Rng): number {
  const logits = Array.from(row.subarray(offset, offset + n));
  const maxL = Math.max(...logits);
  const probs = logits.map((l) => Math.exp((l - maxL) / sp.temperature));
  const total = probs.reduce((s, p) => s + p, 0);
  let cand = probs.map((_, i) => i);
  if ((sp.topK > 0 && sp.topK < n) || sp.topP < 1) {
    cand.sort((a, b) => probs[b] - probs[a]); // stable: ties keep index order
    let keep = sp.topK > 0 ? Math.min(sp.topK, n) : n;
    let cum = 0;
    for (let j = 0; sp.topP < 1 && j < keep; j++) {
      cum += probs[cand[j]] / total;
      if (cum >= sp.topP) keep = j + 1;
    }
    cand = cand.slice(0, keep);
  }
  let u = rng.float() * cand.reduce((s, i) => s + probs[i], 0);
  for (const i of cand) {
    u -= probs[i];
    if (u <= 0) return i;
  }
  return cand[cand.length - 1];
}

describe("sampleToken", () => {
  const cases: [number, number, SamplingParams][] = [
    [45, 2, { temperature: 0.6, topP: 0.95, topK: 0 }],
    [45, 2, { temperature: 1, topP: 1, topK: 0 }],
    [45, 8, { temperature: 0.7, topP: 0.9, topK: 5 }],
    [300, 30, { temperature: 0.6, topP: 0.95, topK: 0 }], // a peaked head shorter than the vocabulary
    [300, 1, { temperature: 1, topP: 0.99, topK: 0 }], // nearly flat: the head is everything
    [5000, 40, { temperature: 0.6, topP: 0.95, topK: 50 }],
    [64, 0.5, { temperature: 0.3, topP: 0.5, topK: 0 }], // coarse logits: many exact ties
  ];
  for (const [n, spread, sp] of cases) {
    it(`draws the plain definition's tokens (vocab ${n}, spread ${spread}, ${JSON.stringify(sp)})`, () => {
      const r = Rng.stream(7, `logits/${n}`);
      const rows = 40;
      const logits = Float32Array.from({ length: rows * n }, () =>
        spread < 1 ? Math.round(r.float() * 3) : (r.float() - 0.5) * spread,
      );
      const a = Rng.stream(3, "draws");
      const b = Rng.stream(3, "draws");
      const got: number[] = [];
      const want: number[] = [];
      for (let rep = 0; rep < 5; rep++)
        for (let j = 0; j < rows; j++) {
          got.push(sampleToken(logits, j * n, n, sp, a));
          want.push(plainSample(logits, j * n, n, sp, b));
        }
      expect(got).toEqual(want);
      expect(new Set(got).size).toBeGreaterThan(1); // not a degenerate case
    });
  }

  it("greedy is argmax and never reads the Rng", () => {
    const logits = Float32Array.from([0.1, 3, -2, 3, 0.5]);
    const rng = Rng.stream(1, "unused");
    expect(sampleToken(logits, 0, 5, { temperature: 0, topP: 1, topK: 0 }, rng)).toBe(1);
    expect(rng.float()).toBe(Rng.stream(1, "unused").float());
  });
});
