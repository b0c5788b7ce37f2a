// MinHash (Broder 1997) over word shingles, as datasketch and text-dedup compute it: a text's
// shingles are its overlapping runs of `shingle` normalised tokens; for each of `numPerm` hash
// functions the signature keeps the least hash over the shingles. Two texts' signatures agree at a
// position with probability equal to the Jaccard similarity of their shingle sets. Each hash
// function is the shingle's 32-bit hash mixed with its own pair of seeds (a murmur-style finaliser),
// which is cheaper than datasketch's (a*x + b) mod (2^61 - 1) and as uniform for this use.
import { tokens } from "./normalise.ts";
import { combine, hashString } from "./normalise.ts";

/** The 32-bit hashes of a text's shingles (a text shorter than `shingle` tokens is one shingle). */
export function shingleHashes(text: string, shingle: number): Uint32Array {
  const toks = tokens(text);
  if (toks.length === 0) return new Uint32Array(0);
  const th = toks.map((t) => hashString(t));
  const n = Math.max(1, toks.length - shingle + 1);
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    let h = 0x3c6ef372;
    for (let j = i; j < Math.min(toks.length, i + shingle); j++) h = combine(h, th[j]);
    out[i] = h;
  }
  return out;
}

/** Seeds of the `numPerm` hash functions, fixed by `seed` (so signatures are comparable across runs). */
export function minhashSeeds(numPerm: number, seed = 1): Uint32Array {
  const s = new Uint32Array(numPerm * 2);
  let x = (seed * 0x9e3779b1) >>> 0;
  for (let i = 0; i < s.length; i++) {
    x = (x + 0x6d2b79f5) >>> 0;
    s[i] = hashString(String(x), seed) | 1;
  }
  return s;
}

/** The MinHash signature [numPerm] of a set of shingle hashes (all 0xffffffff when there are none). */
export function minhash(
  shingles: Uint32Array,
  seeds: Uint32Array,
  out = new Uint32Array(seeds.length / 2),
): Uint32Array {
  const numPerm = out.length;
  out.fill(0xffffffff);
  for (let i = 0; i < shingles.length; i++) {
    const s = shingles[i];
    for (let k = 0; k < numPerm; k++) {
      let x = Math.imul(s ^ seeds[2 * k], 0x85ebca6b);
      x ^= x >>> 13;
      x = Math.imul(x, seeds[2 * k + 1]);
      x = (x ^ (x >>> 16)) >>> 0;
      if (x < out[k]) out[k] = x;
    }
  }
  return out;
}

/** The share of positions where two signatures agree: an estimate of the Jaccard similarity. */
export function estimateJaccard(a: Uint32Array, b: Uint32Array): number {
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return same / a.length;
}

/** Exact Jaccard similarity of two texts' shingle sets. */
export function jaccard(a: string, b: string, shingle: number): number {
  const sa = new Set(shingleHashes(a, shingle));
  const sb = new Set(shingleHashes(b, shingle));
  let inter = 0;
  for (const x of sa) if (sb.has(x)) inter++;
  const union = sa.size + sb.size - inter;
  return union === 0 ? 1 : inter / union;
}
