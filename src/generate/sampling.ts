// Choosing the next token from logits on the host: greedy, or temperature + top-k + top-p (nucleus)
// sampling with a seeded Rng, so every sample is reproducible from (seed, row, step).
// The candidates are taken in descending probability (ties in index order); only as much of that
// order as top-k / top-p need is sorted (the head above a threshold), and scratch buffers are
// reused, since this runs once per row and step (64 x 48 times in a GRPO rollout).
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

let probs = new Float64Array(0);
let order = new Int32Array(0);

const before = (a: number, b: number): boolean => probs[a] > probs[b] || (probs[a] === probs[b] && a < b);

/** Sort order[0..m) by descending probability, equal ones by index (insertion sort for short heads). */
function sortHead(m: number): void {
  if (m > 64) {
    order.subarray(0, m).sort((a, b) => probs[b] - probs[a] || a - b);
    return;
  }
  for (let i = 1; i < m; i++) {
    const x = order[i];
    let j = i - 1;
    while (j >= 0 && before(x, order[j])) {
      order[j + 1] = order[j];
      j--;
    }
    order[j + 1] = x;
  }
}

/**
 * How many of the first `m` entries of `order` (sorted, descending) top-k / top-p keep, or -1 when
 * the answer needs entries beyond them (then `m` < n and the caller sorts more).
 */
function kept(m: number, n: number, total: number, sp: SamplingParams): number {
  const keep = sp.topK > 0 ? Math.min(sp.topK, n) : n;
  if (sp.topP < 1) {
    let cum = 0;
    for (let j = 0; j < Math.min(keep, m); j++) {
      cum += probs[order[j]] / total;
      if (cum >= sp.topP) return j + 1;
    }
  }
  return keep <= m ? keep : -1;
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
  if (probs.length < n) {
    probs = new Float64Array(n);
    order = new Int32Array(n);
  }
  let maxL = -Infinity;
  for (let i = 0; i < n; i++) maxL = Math.max(maxL, row[offset + i]);
  let total = 0;
  for (let i = 0; i < n; i++) {
    probs[i] = Math.exp((row[offset + i] - maxL) / sp.temperature);
    total += probs[i];
  }
  if (!((sp.topK > 0 && sp.topK < n) || sp.topP < 1)) {
    let u = rng.float() * total;
    for (let i = 0; i < n; i++) {
      u -= probs[i];
      if (u <= 0) return i;
    }
    return n - 1;
  }
  // Sort the tokens above a threshold (the largest probability is exp(0) = 1): they are exactly the
  // head of the full order. Lower the threshold until top-k / top-p are decided within the head.
  let keep = -1;
  for (let shift = 4; keep < 0; shift *= 2) {
    const t = shift > 1024 ? -1 : 2 ** -shift;
    let m = 0;
    for (let i = 0; i < n; i++) if (probs[i] >= t) order[m++] = i;
    sortHead(m);
    keep = kept(m, n, total, sp);
  }
  let mass = 0;
  for (let j = 0; j < keep; j++) mass += probs[order[j]];
  let u = rng.float() * mass;
  for (let j = 0; j < keep; j++) {
    u -= probs[order[j]];
    if (u <= 0) return order[j];
  }
  return order[keep - 1];
}
