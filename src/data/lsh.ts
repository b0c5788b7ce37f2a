// Locality-sensitive hashing over MinHash signatures (Leskovec, Rajaraman & Ullman, "Mining of
// Massive Datasets" ch. 3): the signature is cut into `bands` bands of `rows` values; two texts
// become candidates when any band is identical, which happens with probability
// 1 - (1 - J^rows)^bands for Jaccard similarity J, an S-curve around the threshold. `optimalBands`
// picks (bands, rows) for a threshold as datasketch does (least weighted false-positive plus
// false-negative area under that curve); unlike datasketch, candidates are then verified against the
// threshold with the stored signatures, so the bands can favour recall. The index is query-then-insert: only kept texts are indexed, so every
// removed text is a near duplicate of an earlier kept one and the kept set has no near pair.
import { HashMap64 } from "./hash-map.ts";
import { combine } from "./normalise.ts";

/** Probability that two texts of Jaccard similarity `s` share a band. */
export function candidateProbability(s: number, bands: number, rows: number): number {
  return 1 - (1 - s ** rows) ** bands;
}

function integrate(f: (x: number) => number, a: number, b: number, steps = 200): number {
  const h = (b - a) / steps;
  let area = 0;
  for (let i = 0; i < steps; i++) area += f(a + (i + 0.5) * h) * h;
  return area;
}

/**
 * The (bands, rows) with bands * rows <= numPerm that minimise the weighted false-positive and
 * false-negative areas under the S-curve at `threshold` (datasketch's _optimal_param). Candidates
 * are verified against the threshold afterwards, so false negatives weigh 0.9 by default.
 */
export function optimalBands(
  threshold: number,
  numPerm: number,
  fnWeight = 0.9,
): { bands: number; rows: number } {
  let best = { bands: 1, rows: numPerm, error: Number.POSITIVE_INFINITY };
  for (let b = 1; b <= numPerm; b++) {
    for (let r = 1; r <= Math.floor(numPerm / b); r++) {
      const fp = integrate((s) => candidateProbability(s, b, r), 0, threshold);
      const fn = integrate((s) => 1 - candidateProbability(s, b, r), threshold, 1);
      const error = (1 - fnWeight) * fp + fnWeight * fn;
      if (error < best.error) best = { bands: b, rows: r, error };
    }
  }
  return { bands: best.bands, rows: best.rows };
}

/**
 * Candidates are checked against `threshold` with the kept item's signature, stored as b-bit MinHash
 * (Li & Koenig 2010: the low 8 bits of each value, 1 byte per permutation; two values' low bytes also
 * agree by chance with probability 1/256, which the estimate corrects for).
 */
export class LshIndex {
  private table: HashMap64;
  /** Low bytes of the indexed signatures, [count, numPerm]. */
  private sigs: Uint8Array;
  /** The caller's id (row index) of each indexed signature. */
  private ids: Int32Array;
  private count = 0;
  readonly numPerm: number;

  constructor(
    readonly bands: number,
    readonly rows: number,
    readonly threshold: number,
    capacity = 1 << 12,
  ) {
    this.numPerm = bands * rows;
    this.table = new HashMap64(capacity * bands);
    this.sigs = new Uint8Array(capacity * this.numPerm);
    this.ids = new Int32Array(capacity);
  }

  /** Bytes held by the index. */
  get bytes(): number {
    return this.table.bytes + this.sigs.byteLength + this.ids.byteLength;
  }

  /** The 64-bit key of band `b` of a signature (the band number is part of the key). */
  private key(sig: Uint32Array, b: number): [number, number] {
    let hi = combine(0x1b873593, b);
    let lo = combine(0x5bd1e995, b);
    for (let i = b * this.rows; i < (b + 1) * this.rows; i++) {
      hi = combine(hi, sig[i]);
      lo = combine(lo ^ 0xa5a5a5a5, sig[i]);
    }
    return [hi, lo];
  }

  /** Estimated Jaccard similarity of `sig` and indexed signature `slot` (b-bit, corrected). */
  similarity(sig: Uint32Array, slot: number): number {
    let same = 0;
    const base = slot * this.numPerm;
    for (let i = 0; i < this.numPerm; i++) if ((sig[i] & 0xff) === this.sigs[base + i]) same++;
    return Math.max(0, (same / this.numPerm - 1 / 256) / (1 - 1 / 256));
  }

  /** The earliest indexed id sharing a band with `sig` whose estimated similarity reaches the threshold, or -1. */
  query(sig: Uint32Array): number {
    let found = -1;
    const seen: number[] = [];
    for (let b = 0; b < this.bands; b++) {
      const [hi, lo] = this.key(sig, b);
      const slot = this.table.get(hi, lo);
      if (slot === -1 || seen.includes(slot)) continue;
      seen.push(slot);
      const id = this.ids[slot];
      if ((found === -1 || id < found) && this.similarity(sig, slot) >= this.threshold) found = id;
    }
    return found;
  }

  /** Index `sig` under `id` (a band already held by an earlier signature keeps that one). */
  insert(sig: Uint32Array, id: number): void {
    if (this.count === this.ids.length) {
      const ids = new Int32Array(this.ids.length * 2);
      ids.set(this.ids);
      this.ids = ids;
      const sigs = new Uint8Array(this.sigs.length * 2);
      sigs.set(this.sigs);
      this.sigs = sigs;
    }
    const slot = this.count++;
    this.ids[slot] = id;
    const base = slot * this.numPerm;
    for (let i = 0; i < this.numPerm; i++) this.sigs[base + i] = sig[i] & 0xff;
    for (let b = 0; b < this.bands; b++) {
      const [hi, lo] = this.key(sig, b);
      this.table.setIfAbsent(hi, lo, slot);
    }
  }
}
