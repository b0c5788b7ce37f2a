// DeepSeekMoE's routed experts computed for the chosen experts only (the ORT executor's form; the
// jax executor keeps moe.ts's dense masked form, equal up to float rounding).
//   1. the A = N*K (token, choice) rows are sorted by expert (a stable argsort, a permutation);
//      `owner` (the sorted expert ids, a `sort`) says which expert each sorted row belongs to;
//   2. SwiGLU runs on the sorted rows against W[owner]: written as a batched matmul with each row's
//      expert weights, which the ORT lowering never materialises (src/engine/ort/segments.ts):
//      owner is ascending, so expert e's rows are one contiguous run and the product is one GEMM
//      per expert (E plain MatMuls over dynamic slices), and the weight gradient likewise;
//   3. each (token, choice) reads its row back, weighted by its gate, summed over the K choices.
// No padding and no weight copies: the work is A rows of SwiGLU, exact for any routing. Every row
// move is a gather by a permutation, so its gradient is a scatter with distinct indices, which the
// lowering writes as a plain ScatterND (deterministic).
import {
  type Arr,
  argsort,
  broadcastTo,
  einsum,
  expandDims,
  mul,
  reshape,
  silu,
  sort,
  stopGradient,
  sum,
  take,
} from "../engine/ops.ts";

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
 * gate [N, K]; returns [N, D]. Meant for the ORT executor (under jax-js every row would copy its
 * expert's weights).
 */
export function dispatchExperts(x: Arr, idx: Arr, gate: Arr, w: ExpertWeights): Arr {
  const [N, D] = x.shape;
  const K = idx.shape[1];
  const A = N * K;
  const ex = stopGradient(reshape(idx, [A]));
  const order = argsort(ex); // rows sorted by expert (stable): a permutation
  const owner = sort(ex); // [A] expert of each sorted row, ascending
  const back = argsort(order); // sorted position of each (token, choice)
  // Rows: each token K times (order n*K + k), then sorted by expert; [A, 1, D].
  const rows = reshape(broadcastTo(expandDims(x, 1), [N, K, D]), [A, D]);
  const xs = reshape(take(rows, order, 0), [A, 1, D]);
  const h = mul(
    silu(einsum("asd,afd->asf", xs, take(w.gate, owner, 0))),
    einsum("asd,afd->asf", xs, take(w.up, owner, 0)),
  );
  const y = reshape(einsum("asf,adf->asd", h, take(w.down, owner, 0)), [A, D]);
  const yA = reshape(take(y, back, 0), [N, K, D]);
  return sum(mul(yA, expandDims(gate, -1)), 1);
}
