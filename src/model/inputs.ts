// Host-side attention inputs for one forward call: RoPE tables at each token's position and the
// additive attention mask. Queries and keys are addressed by cache slot: query j is written at
// slot qSlots[b][j]; it may attend key slot s when s <= qSlots[b][j] and keyValid[b][s].
// Without a cache, slots are simply 0..T-1. Left-padded batches give each row its own positions.
import { fromArray } from "../engine/ops.ts";
import type { AttnInputs } from "./attention.ts";
import { type ModelConfig, usesMla } from "./config.ts";
import { ropeInvFreq } from "./rope.ts";

export function ropeDim(c: ModelConfig): number {
  return usesMla(c) ? c.qkRopeHeadDim : c.headDim;
}

export interface SlotSpec {
  /** RoPE position of each query token: [B][Tq]. */
  positions: number[][];
  /** Cache slot of each query token: [B][Tq]. */
  qSlots: number[][];
  /** Which key slots hold real tokens: [B][S]. */
  keyValid: boolean[][];
  /** Optional segment id of each slot: [B][S]; a query attends only keys of its own segment (packed training rows). */
  segments?: number[][];
}

export function attnInputs(c: ModelConfig, spec: SlotSpec): AttnInputs {
  const B = spec.positions.length;
  const Tq = spec.positions[0].length;
  const S = spec.keyValid[0].length;
  const d = ropeDim(c);
  const half = d / 2;
  const { invFreq, attnFactor } = ropeInvFreq(d, c.ropeTheta, c.ropeScaling);
  const cos = new Float32Array(B * Tq * d);
  const sin = new Float32Array(B * Tq * d);
  const mask = new Float32Array(B * Tq * S);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < Tq; t++) {
      const base = (b * Tq + t) * d;
      const pos = spec.positions[b][t];
      for (let i = 0; i < half; i++) {
        const a = pos * invFreq[i];
        cos[base + i] = cos[base + i + half] = Math.cos(a) * attnFactor;
        sin[base + i] = sin[base + i + half] = Math.sin(a) * attnFactor;
      }
      const q = spec.qSlots[b][t];
      const seg = spec.segments?.[b];
      for (let s = 0; s < S; s++)
        mask[(b * Tq + t) * S + s] = s <= q && spec.keyValid[b][s] && (!seg || seg[s] === seg[q]) ? 0 : -1e9;
    }
  }
  return {
    cos: fromArray(cos, [B, 1, Tq, d]),
    sin: fromArray(sin, [B, 1, Tq, d]),
    mask: fromArray(mask, [B, 1, Tq, S]),
  };
}

/** Plain causal inputs for B rows of T tokens (training, scoring). */
export function causalInputs(c: ModelConfig, B: number, T: number, offset = 0): AttnInputs {
  const row = Array.from({ length: T }, (_, t) => t + offset);
  return attnInputs(c, {
    positions: Array.from({ length: B }, () => row),
    qSlots: Array.from({ length: B }, () => row.map((t) => t - offset)),
    keyValid: Array.from({ length: B }, () => row.map(() => true)),
  });
}
