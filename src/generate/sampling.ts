// Choosing the next token from logits on the host: greedy, or temperature + top-k + top-p (nucleus)
// sampling with a seeded Rng, so every sample is reproducible from (seed, row, step).
import type { Rng } from "../engine/rng.ts";

export interface SamplingParams {
  /** 0 = greedy (argmax). */
  temperature: number;
  /** Keep the smallest set of tokens whose probability reaches topP (1 = off). */
  topP: number;
  /** Keep the topK most likely tokens (0 = off). */
  topK: number;
}

export const GREEDY: SamplingParams = { temperature: 0, topP: 1, topK: 0 };

export function argmax(row: ArrayLike<number>, offset = 0, n = row.length): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (row[offset + i] > row[offset + best]) best = i;
  return best;
}

/** Sample one token id from logits row[offset .. offset+n). */
export function sampleToken(
  row: ArrayLike<number>,
  offset: number,
  n: number,
  sp: SamplingParams,
  rng: Rng,
): number {
  if (sp.temperature <= 0) return argmax(row, offset, n);
  let maxL = -Infinity;
  for (let i = 0; i < n; i++) maxL = Math.max(maxL, row[offset + i]);
  const probs = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    probs[i] = Math.exp((row[offset + i] - maxL) / sp.temperature);
    total += probs[i];
  }
  let order: number[] | null = null;
  if ((sp.topK > 0 && sp.topK < n) || sp.topP < 1) {
    order = Array.from({ length: n }, (_, i) => i).sort((a, b) => probs[b] - probs[a]);
    let keep = sp.topK > 0 ? Math.min(sp.topK, n) : n;
    if (sp.topP < 1) {
      let cum = 0;
      for (let j = 0; j < keep; j++) {
        cum += probs[order[j]] / total;
        if (cum >= sp.topP) {
          keep = j + 1;
          break;
        }
      }
    }
    order = order.slice(0, keep);
    total = order.reduce((s, i) => s + probs[i], 0);
  }
  let u = rng.float() * total;
  const candidates = order ?? Array.from({ length: n }, (_, i) => i);
  for (const i of candidates) {
    u -= probs[i];
    if (u <= 0) return i;
  }
  return candidates[candidates.length - 1];
}
