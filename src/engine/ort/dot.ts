// jax-js's `dot` as one ONNX MatMul. jax-js expresses every matmul / einsum as dot(a, b): both
// operands broadcast to [..., K] and summed over the last axis. With lazy broadcasts (values.ts)
// each non-K axis is either real in a only (an M axis), in b only (N), or in both (a batch axis),
// so dot is a batched [B, M, K] x [B, K, N] MatMul. Operands that are views are laid out with at
// most one Transpose each, and none when the base is already in (batch, M, K) / (batch, K, N) or
// (batch, N, K) order (the last absorbed by MatMul on a transposed 2-D/3-D operand).
import { prod } from "./graph.ts";
import type { Shape, Val, Values, View } from "./values.ts";

export function lowerDot(
  vals: Values,
  a0: Val,
  b0: Val,
  aFull: Shape,
  bFull: Shape,
  out: Shape,
  dtype: string,
): Val {
  const g = vals.g;
  const r = out.length + 1;
  let a = vals.toRank(a0, r);
  let b = vals.toRank(b0, r);
  const aF = [...Array(r - aFull.length).fill(1), ...aFull];
  const bF = [...Array(r - bFull.length).fill(1), ...bFull];
  const K = Math.max(aF[r - 1], bF[r - 1]);
  if (a.shape[r - 1] !== K)
    a = vals.materialize(
      a,
      a.shape.map((d, i) => (i === r - 1 ? K : d)),
    );
  if (b.shape[r - 1] !== K)
    b = vals.materialize(
      b,
      b.shape.map((d, i) => (i === r - 1 ? K : d)),
    );
  const batch: number[] = [];
  const M: number[] = [];
  const N: number[] = [];
  for (let i = 0; i < r - 1; i++) {
    const da = a.shape[i];
    const db = b.shape[i];
    if (da > 1 && db > 1) batch.push(i);
    else if (da > 1) M.push(i);
    else if (db > 1) N.push(i);
  }
  const va = vals.viewOf(a);
  const vb = vals.viewOf(b);
  // Position of a dot axis in its base (first base axis of its run); unit axes have none.
  const posIn = (v: View, ax: number) => (v.groups[ax].length ? v.groups[ax][0] : -1);
  const byPos = (v: View, axes: number[]) => [...axes].sort((x, y) => posIn(v, x) - posIn(v, y));
  const batchOrder = byPos(va, batch);
  const mOrder = byPos(va, M);
  const nOrder = byPos(vb, N);
  const layout = (v: View, order: number[]) => layoutShaped(vals, v, order);
  // Is K before the other axes in the base (a stored transposed)?
  const kFirst = (v: View, others: number[]) =>
    others.length > 0 && posIn(v, r - 1) < Math.min(...others.map((x) => posIn(v, x)));
  const aT = kFirst(va, mOrder);
  const bKN = kFirst(vb, nOrder) || nOrder.length === 0;
  const sz = (s: Shape, ax: number[]) => prod(ax.map((i) => s[i]));
  const Bp = sz(a.shape, batch);
  const Mp = sz(a.shape, M);
  const Np = sz(b.shape, N);
  const twoD = Bp === 1;
  const sh = (x: number, y: number) => (twoD ? [x, y] : [Bp, x, y]);
  const tr = twoD ? [1, 0] : [0, 2, 1];
  const aLayout = layout(va, aT ? [...batchOrder, r - 1, ...mOrder] : [...batchOrder, ...mOrder, r - 1]);
  let an = vals.reshapeName(aLayout.name, aLayout.shape, aT ? sh(K, Mp) : sh(Mp, K));
  if (aT) an = g.emit1("Transpose", [an], { perm: tr });
  const bLayout = layout(vb, bKN ? [...batchOrder, r - 1, ...nOrder] : [...batchOrder, ...nOrder, r - 1]);
  let bn = vals.reshapeName(bLayout.name, bLayout.shape, bKN ? sh(K, Np) : sh(Np, K));
  if (!bKN) bn = g.emit1("Transpose", [bn], { perm: tr });
  const y = g.emit1("MatMul", [an, bn]);
  // The result is a view whose base is [batch..., M..., N...] in the orders chosen above.
  const resAxes = [...batchOrder, ...mOrder, ...nOrder];
  const resDims = resAxes.map((i) => (N.includes(i) ? b.shape[i] : a.shape[i]));
  return productView(vals, y, resAxes, resDims, out, dtype, sh(Mp, Np));
}

/**
 * A product's result as a view: `y` (its rows and columns flattened) reshaped to `resDims`, the sizes
 * of the output axes `resAxes` in the order the product laid them out; the other axes of `out` are 1.
 * `yShape`, when known, is y's ONNX shape: no Reshape is emitted where it already is resDims.
 */
export function productView(
  vals: Values,
  y: string,
  resAxes: number[],
  resDims: number[],
  out: Shape,
  dtype: string,
  yShape?: Shape,
): Val {
  const shape = out.map((d, i) => (resAxes.includes(i) ? d : 1));
  const name = yShape
    ? vals.reshapeName(y, yShape, resDims)
    : vals.g.emit1("Reshape", [y, vals.g.i64(resDims)]);
  const base = { name, shape: resDims };
  return {
    shape,
    dtype,
    view: { base, groups: shape.map((_, i) => (resAxes.includes(i) ? [resAxes.indexOf(i)] : [])) },
  };
}

/** The base of view v with its axes in `order` (view axes; unit axes dropped), at most one Transpose. */
export function layoutView(vals: Values, v: View, order: number[]): string {
  return layoutShaped(vals, v, order).name;
}

/** layoutView with the ONNX shape of the tensor it returns (unit axes of the base included). */
function layoutShaped(vals: Values, v: View, order: number[]): { name: string; shape: Shape } {
  const want = order.flatMap((ax) => v.groups[ax]);
  const nonUnit = v.base.shape.map((d, i) => (d !== 1 ? i : -1)).filter((i) => i >= 0);
  if (want.every((ax, i) => ax === nonUnit[i])) return { name: v.base.name, shape: v.base.shape };
  const perm = [...want, ...v.base.shape.keys()].filter((ax, i, arr) => arr.indexOf(ax) === i);
  return {
    name: vals.g.emit1("Transpose", [v.base.name], { perm }),
    shape: perm.map((ax) => v.base.shape[ax]),
  };
}
