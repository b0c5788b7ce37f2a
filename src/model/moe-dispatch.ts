// DeepSeekMoE's routed experts computed for the chosen experts only (the ORT executor's form; the
// jax executor keeps moe.ts's dense masked form, equal up to float rounding).
// A traced program has static shapes, so tokens are dispatched into a buffer of P rows cut into
// nB blocks of `blk` rows, each block owned by one expert:
//   1. the A = N*K (token, choice) assignments are sorted by expert (a stable argsort); expert e's
//      c_e assignments fill its segment, padded with zero rows up to a multiple of blk;
//   2. each block gathers its expert's weights ([nB, F, D]) and runs SwiGLU as batched MatMuls;
//   3. each assignment reads its row back, weighted by its gate, summed over the K choices.
// P = A + E*(blk-1) rounded up to blk rows bounds every routing, so the result is exact for any
// choice of experts. Every row move is a gather by a permutation (an argsort output), so its
// gradient is a scatter with distinct indices, which the lowering writes as a plain ScatterND
// (deterministic). The expert weights' gradient is a scatter-add over nB blocks into [E, F, D].
import {
  type Arr,
  add,
  arange,
  argsort,
  astype,
  broadcastTo,
  concat,
  einsum,
  expandDims,
  floorDivide,
  greaterEqual,
  less,
  maximum,
  minimum,
  mul,
  oneHot,
  reshape,
  silu,
  slice,
  stopGradient,
  sub,
  sum,
  take,
  where,
  zeros,
} from "../engine/ops.ts";

/**
 * Cost of the dispatch in row-GEMMs, padding and weight copies included: each block copies its
 * expert's three matrices, which costs about COPY_ROWS rows of SwiGLU (profiled on the 2-core CPU: a batch-64 decode
 * step, gathers of [23, 192, 256] against MatMuls of [23, 8, 256] x [23, 256, 192]).
 */
const COPY_ROWS = 16;
export function dispatchCost(assignments: number, nExperts: number, blk: number): number {
  const P = Math.ceil((assignments + nExperts * (blk - 1)) / blk) * blk;
  return P + (COPY_ROWS * P) / blk;
}

/** Rows per block (a power of two) that minimises dispatchCost: ~sqrt(COPY_ROWS * A / E). */
export function blockRows(assignments: number, nExperts: number): number {
  let blk = 1;
  while (dispatchCost(assignments, nExperts, blk * 2) < dispatchCost(assignments, nExperts, blk)) blk *= 2;
  return blk;
}

/**
 * Whether dispatch beats the dense form (E x N rows, and each expert's weights read once, half a
 * copy) for N tokens choosing K of E experts. The dense form wins only in between: a few tokens
 * (say 16 of them with top-2 of 8) already touch every expert, yet fill no block.
 */
export function dispatchPays(tokens: number, k: number, nExperts: number): boolean {
  const A = tokens * k;
  const dense = nExperts * tokens + (nExperts * COPY_ROWS) / 2;
  return dispatchCost(A, nExperts, blockRows(A, nExperts)) < dense;
}

/** Exclusive prefix sum over a small vector [E] (int32): out[e] = sum_{j<e} v[j]. */
function exclusiveCumsum(v: Arr): Arr {
  const E = v.shape[0];
  const j = arange(0, E);
  const before = less(expandDims(j, 0), expandDims(j, 1)); // [e, j]: j < e
  return sum(where(before, expandDims(v, 0), 0), 1);
}

export interface ExpertWeights {
  /** [E, F, D] */
  gate: Arr;
  /** [E, F, D] */
  up: Arr;
  /** [E, D, F] */
  down: Arr;
}

/**
 * sum_k gate[n, k] * FFN_{idx[n, k]}(x[n]) for x [N, D], idx [N, K] (int32, the chosen experts),
 * gate [N, K]; returns [N, D].
 */
export function dispatchExperts(x: Arr, idx: Arr, gate: Arr, w: ExpertWeights): Arr {
  const [N, D] = x.shape;
  const K = idx.shape[1];
  const E = w.gate.shape[0];
  const A = N * K;
  const blk = blockRows(A, E);
  const P = Math.ceil((A + E * (blk - 1)) / blk) * blk;
  const nB = P / blk;
  // Routing bookkeeping (integers, no gradient).
  const ex = stopGradient(reshape(idx, [A]));
  const order = argsort(ex); // assignments sorted by expert (stable)
  const count = astype(sum(oneHot(ex, E), 0), "int32"); // c_e
  const segPad = mul(floorDivide(add(count, blk - 1), blk), blk); // c_e rounded up to blk
  const off = exclusiveCumsum(count);
  const poff = exclusiveCumsum(segPad);
  const s = arange(0, P); // slots
  const ends = add(poff, segPad);
  // Expert of each slot: segments whose end is <= s lie before it (slots past the last segment are
  // padding; they go to the last expert).
  const owner = minimum(sum(astype(greaterEqual(expandDims(s, 1), expandDims(ends, 0)), "int32"), 1), E - 1);
  const r = sub(s, take(poff, owner, 0)); // rank of the slot inside its segment
  const used = less(r, take(count, owner, 0));
  const a = take(order, minimum(add(take(off, owner, 0), r), A - 1), 0);
  // Padding slots take the padding rows A, A+1, ... in order (so the sources form a permutation).
  const usedBefore = sum(
    minimum(expandDims(count, 0), maximum(sub(expandDims(s, 1), expandDims(poff, 0)), 0)),
    1,
  );
  const srcRaw = where(used, a, add(sub(s, usedBefore), A));
  const dest = argsort(srcRaw); // source row -> slot
  const src = argsort(dest); // slot -> source row (= srcRaw, as a permutation the lowering knows)
  const slotOf = slice(dest, [0, A]); // slot of each assignment
  const blockOwner = reshape(take(owner, mul(arange(0, nB), blk), 0), [nB]);
  // Rows: each token K times (assignment order n*K + k), then zero padding rows.
  const rows = concat([reshape(broadcastTo(expandDims(x, 1), [N, K, D]), [A, D]), zeros([P - A, D])], 0);
  const xb = reshape(take(rows, src, 0), [nB, blk, D]);
  const h = mul(
    silu(einsum("bsd,bfd->bsf", xb, take(w.gate, blockOwner, 0))),
    einsum("bsd,bfd->bsf", xb, take(w.up, blockOwner, 0)),
  );
  const y = reshape(einsum("bsf,bdf->bsd", h, take(w.down, blockOwner, 0)), [P, D]);
  const yA = reshape(take(y, slotOf, 0), [N, K, D]);
  return sum(mul(yA, expandDims(gate, -1)), 1);
}
