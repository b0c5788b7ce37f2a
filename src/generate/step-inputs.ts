// The host inputs of one generation step (prefill or decode) over a left-padded batch in a
// fixed-size cache of `tmax` slots: token ids [R, Tq], RoPE cos/sin [R, 1, Tq, d], the additive mask
// [R, 1, Tq, tmax] and the placement [Tq, tmax]. The values are exactly what model/inputs.ts's
// attnInputs gives for these slots, built straight into typed arrays: the RoPE rows come from one
// table per generation (every position's cos/sin, computed once), and on the ORT executor the
// arrays are handed to the compiled step as resident tensors, not copied through jax-js's heap. A
// decode step runs once per token for a whole batch, so this host work is on the critical path.
import { fromArray } from "../engine/ops.ts";
import type * as o from "../engine/ops.ts";
import { residentState } from "../engine/params.ts";
import { ResidentTensor } from "../engine/resident.ts";
import type { AttnInputs } from "../model/attention.ts";
import type { ModelConfig } from "../model/config.ts";
import { ropeDim } from "../model/inputs.ts";
import { ropeInvFreq } from "../model/rope.ts";

/** cos / sin rows of positions 0 .. n-1: [n, d] each (float32, attnFactor applied). */
export interface RopeTable {
  d: number;
  cos: Float32Array;
  sin: Float32Array;
}

export function ropeTable(c: ModelConfig, n: number): RopeTable {
  const d = ropeDim(c);
  const half = d / 2;
  const { invFreq, attnFactor } = ropeInvFreq(d, c.ropeTheta, c.ropeScaling);
  const cos = new Float32Array(n * d);
  const sin = new Float32Array(n * d);
  for (let pos = 0; pos < n; pos++) {
    const base = pos * d;
    for (let i = 0; i < half; i++) {
      const a = pos * invFreq[i];
      cos[base + i] = cos[base + i + half] = Math.cos(a) * attnFactor;
      sin[base + i] = sin[base + i + half] = Math.sin(a) * attnFactor;
    }
  }
  return { d, cos, sin };
}

/** An engine input over host values: a resident tensor on `ort` (no copy), else a jax-js array. */
function hostInput(data: Float32Array | Int32Array, shape: number[], dtype: "float32" | "int32"): o.Arr {
  if (residentState()) return new ResidentTensor(data, shape, dtype) as unknown as o.Arr;
  return fromArray(data, shape, dtype);
}

export interface StepInputs {
  ids: o.Arr;
  io: AttnInputs;
  place: o.Arr;
}

/**
 * Inputs for feeding `ids` ([R * Tq], row-major) at slots slot0 .. slot0 + Tq - 1 of batch rows whose
 * prompts were left-padded by pad[r] slots: query slot q of row r sits at RoPE position
 * max(0, q - pad[r]) and attends the key slots pad[r] .. q.
 */
export function stepInputs(
  rope: RopeTable,
  ids: ArrayLike<number>,
  pad: ArrayLike<number>,
  slot0: number,
  Tq: number,
  tmax: number,
): StepInputs {
  const R = pad.length;
  const d = rope.d;
  if (ids.length !== R * Tq) throw new Error(`stepInputs: ${ids.length} ids for ${R} rows of ${Tq}`);
  if (slot0 + Tq > tmax) throw new Error(`stepInputs: slots ${slot0}..${slot0 + Tq - 1} past ${tmax}`);
  const cos = new Float32Array(R * Tq * d);
  const sin = new Float32Array(R * Tq * d);
  const mask = new Float32Array(R * Tq * tmax).fill(-1e9);
  for (let r = 0; r < R; r++) {
    for (let t = 0; t < Tq; t++) {
      const q = slot0 + t;
      const pos = Math.max(0, q - pad[r]);
      if (pos * d + d > rope.cos.length) throw new Error(`stepInputs: position ${pos} past the RoPE table`);
      const at = (r * Tq + t) * d;
      cos.set(rope.cos.subarray(pos * d, pos * d + d), at);
      sin.set(rope.sin.subarray(pos * d, pos * d + d), at);
      const row = (r * Tq + t) * tmax;
      if (pad[r] <= q) mask.fill(0, row + pad[r], row + q + 1);
    }
  }
  const place = new Float32Array(Tq * tmax);
  for (let t = 0; t < Tq; t++) place[t * tmax + slot0 + t] = 1;
  return {
    ids: hostInput(Int32Array.from(ids), [R, Tq], "int32"),
    io: {
      cos: hostInput(cos, [R, 1, Tq, d], "float32"),
      sin: hostInput(sin, [R, 1, Tq, d], "float32"),
      mask: hostInput(mask, [R, 1, Tq, tmax], "float32"),
    },
    place: hostInput(place, [Tq, tmax], "float32"),
  };
}
