// Grouped GEMMs over rows sorted by owner: the lowering of MoE dispatch (src/model/moe-dispatch.ts)
// without copies of the expert weights. The model sorts its (token, choice) rows by expert and
// gathers each row's expert weights by the sorted owner vector (a `sort` output, so the lowering
// knows it is ascending): W[owner] is [rows, F, D], one weight copy per row if emitted as is.
//   forward and input gradient: dot(X, W[owner]) over a batch axis of rows. Rows of expert e are
//     the contiguous run [start_e, end_e) of the owner vector, so the product is, per expert, one
//     MatMul of X's run with W[e], concatenated: E plain GEMMs, no Gather of weights;
//   weight gradient: scatter-add(dot(dY, X) over the row axis, owner) into [E, ...]: per expert one
//     Gemm dY_run^T @ X_run (transA), stacked; the [rows, F, D] per-row products never exist.
// Runs have data-dependent lengths: ONNX Slice takes its starts/ends as tensors (computed in the
// graph from the owner vector), MatMul and Concat take the dynamic shapes. An expert with no rows
// gets an empty slice (its weight gradient: a Gemm over zero rows, which is zeros; as Transpose +
// MatMul it crashed onnxruntime's WebGPU EP with a segfault, the first time an expert got no token).
// Anything that does not fit these forms is emitted as the plain Gather / MatMul (exact, slower).
import { layoutView, productView } from "./dot.ts";
import { DTYPE_CODE, prod } from "./graph.ts";
import { type Shape, type Val, type Values, mat } from "./values.ts";

/** [start_e, end_e) of each owner's run in a sorted owner vector (int64 [1] tensors), cached per vector. */
const boundsCache = new WeakMap<Val, { E: number; start: string[]; end: string[] }>();
function runBounds(vals: Values, idx: Val, E: number, scale: number): { start: string[]; end: string[] } {
  const g = vals.g;
  let b = boundsCache.get(idx);
  if (!b || b.E !== E) {
    // start_e = #{owners < e}: [E, n] comparisons summed over n.
    const owners = g.emit1("Cast", [g.emit1("Reshape", [vals.nameOf(idx), g.i64([1, -1])])], {
      to: DTYPE_CODE.int64,
    });
    const experts = g.emit1("Reshape", [g.i64(Array.from({ length: E }, (_, e) => e)), g.i64([E, 1])]);
    const before = g.emit1("Cast", [g.emit1("Less", [owners, experts])], { to: DTYPE_CODE.int64 });
    const starts = g.emit1("ReduceSum", [before, g.i64([1])], { keepdims: 0 }); // [E]
    const n = g.emit1("Shape", [owners], { start: 1 }); // [1]: the number of rows
    const start = Array.from({ length: E }, (_, e) => g.emit1("Slice", [starts, g.i64([e]), g.i64([e + 1])]));
    const end = [...start.slice(1), n];
    b = { E, start, end };
    boundsCache.set(idx, b);
  }
  if (scale === 1) return b;
  const k = g.i64([scale]);
  return { start: b.start.map((s) => g.emit1("Mul", [s, k])), end: b.end.map((s) => g.emit1("Mul", [s, k])) };
}

/**
 * data[e : e+1] for each e of a weight stack [E, ...]: the stack's own inputs when it is a Concat of
 * E single rows (jax-js's stack of per-expert parameters), so the stack is never built.
 */
function expertSlices(vals: Values, data: Val): string[] {
  const g = vals.g;
  const E = data.shape[0];
  const name = vals.nameOf(data);
  const cat = g.nodes.find((n) => n.outputs[0] === name);
  if (cat?.op === "Concat" && cat.attrs?.axis === 0 && cat.inputs.length === E) return [...cat.inputs];
  return Array.from({ length: E }, (_, e) =>
    g.emit1("Slice", [name, g.i64([e]), g.i64([e + 1]), g.i64([0])]),
  );
}

const rowsOf = (vals: Values, name: string, start: string, end: string) =>
  vals.g.emit1("Slice", [name, start, end, vals.g.i64([0])]);

/** gather(data, idx) on axis 0 by sorted owners: a lazy value; emitted as a Gather only if needed. */
export function segGather(vals: Values, data: Val, idx: Val, out: Shape, dtype: string): Val {
  const v: Val = { shape: [...out], dtype, seg: { data, idx, axes: out.map((_, i) => i) } };
  v.lazy = () => vals.g.emit1("Gather", [vals.nameOf(data), vals.nameOf(idx)], { axis: 0 });
  return v;
}

/** reshape of a lazy segment value: kept lazy when it only inserts or drops unit axes. */
export function reshapeSeg(vals: Values, v: Val, target: Shape): Val | null {
  if (v.segDot) {
    const d = v.segDot;
    const w: Val = { shape: [...target], dtype: v.dtype, segDot: d };
    w.lazy = () => vals.nameOf(vals.reshape(v, v.shape, target));
    return w;
  }
  if (!v.seg) return null;
  const real = (s: Shape) => s.filter((x) => x !== 1);
  const from = real(v.shape);
  const to = real(target);
  if (from.length !== to.length || from.some((x, i) => x !== to[i])) return null;
  const realAxes = v.seg.axes.filter((_, i) => v.shape[i] !== 1);
  let k = 0;
  const axes = target.map((d) => (d === 1 ? -1 : realAxes[k++]));
  const w: Val = { shape: [...target], dtype: v.dtype, seg: { ...v.seg, axes } };
  w.lazy = () => vals.reshapeName(vals.nameOf(v), v.shape, target);
  return w;
}

/** transpose / broadcast (unit axes inserted) of a lazy segment value: still lazy. */
export function permuteSeg(vals: Values, v: Val, perm: number[] | null, insert: number[] = []): Val | null {
  if (!v.seg) return null;
  let shape = perm ? perm.map((i) => v.shape[i]) : [...v.shape];
  let axes = perm ? perm.map((i) => v.seg!.axes[i]) : [...v.seg.axes];
  for (const a of insert) {
    shape = [...shape.slice(0, a), 1, ...shape.slice(a)];
    axes = [...axes.slice(0, a), -1, ...axes.slice(a)];
  }
  const w: Val = { shape, dtype: v.dtype, seg: { ...v.seg, axes } };
  w.lazy = () => {
    const t = perm ? vals.transpose(v, perm) : v;
    return vals.nameOf(insert.length ? vals.insertAxes(t, insert) : t);
  };
  return w;
}

/** Axes of a dot's operands (lazy shapes, rank r, K last): batch (both real), M (a only), N (b only). */
function classify(a: Val, b: Val, r: number) {
  const batch: number[] = [];
  const M: number[] = [];
  const N: number[] = [];
  for (let i = 0; i < r - 1; i++) {
    if (a.shape[i] > 1 && b.shape[i] > 1) batch.push(i);
    else if (a.shape[i] > 1) M.push(i);
    else if (b.shape[i] > 1) N.push(i);
  }
  return { batch, M, N };
}

/** Expand a lazy K (last) axis, as a dot operand needs it real. */
function realK(vals: Values, v: Val, K: number): Val {
  const r = v.shape.length;
  if (v.shape[r - 1] === K) return v;
  return vals.materialize(
    v,
    v.shape.map((d, i) => (i === r - 1 ? K : d)),
  );
}

/**
 * dot(a, b) where one operand is a lazy segment value (expert weights by sorted owner) and the
 * batch axis is its owner axis: per expert, X's rows of that expert times W[e]. Null if it does not fit.
 */
export function segDot(vals: Values, a0: Val, b0: Val, out: Shape, dtype: string): Val | null {
  const sIsB = !!b0.seg && !a0.seg;
  const S = sIsB ? b0 : a0;
  const X0 = sIsB ? a0 : b0;
  if (!S.seg || X0.seg || X0.unary) return null;
  const r = out.length + 1;
  if (S.shape.length !== r || X0.shape.length > r) return null;
  const g = vals.g;
  const K = S.shape[r - 1];
  const kd = S.seg.axes[r - 1];
  if (K === 1 || kd <= 0) return null;
  const X = realK(vals, vals.toRank(X0, r), K);
  const { batch, M, N } = classify(X, S, r); // M: X-only axes, N: S-only axes
  if (batch.length !== 1 || S.seg.axes[batch[0]] !== 0) return null;
  const data = S.seg.data;
  const E = data.shape[0];
  const nData = N.map((ax) => S.seg!.axes[ax]);
  if (nData.some((d) => d <= 0)) return null;
  // Every non-unit data axis but the owner axis must be K or an N axis.
  const used = new Set([kd, ...nData]);
  if (data.shape.some((d, i) => i > 0 && d !== 1 && !used.has(i))) return null;
  const bAx = batch[0];
  const vx = vals.viewOf(X);
  const posIn = (ax: number) => (vx.groups[ax].length ? vx.groups[ax][0] : -1);
  const mOrder = [...M].sort((x, y) => posIn(x) - posIn(y));
  const nOrder = [...N].sort((x, y) => S.seg!.axes[x] - S.seg!.axes[y]);
  const Mp = prod(mOrder.map((ax) => X.shape[ax]));
  const Np = prod(nOrder.map((ax) => S.shape[ax]));
  const nRows = X.shape[bAx];
  const rows = g.emit1("Reshape", [layoutView(vals, vx, [bAx, ...mOrder, r - 1]), g.i64([nRows * Mp, K])]);
  // W[e] as [K, Np] (or [Np, K] used transposed) from data [E, ...].
  const slices = expertSlices(vals, data);
  const kFirst = nData.length === 0 || kd < Math.min(...nData);
  const wOrder = kFirst
    ? [kd, ...nOrder.map((ax) => S.seg!.axes[ax])]
    : [...nOrder.map((ax) => S.seg!.axes[ax]), kd];
  const dataNonUnit = data.shape.map((d, i) => (i > 0 && d !== 1 ? i : -1)).filter((i) => i > 0);
  const wPerm = wOrder.some((ax, i) => ax !== dataNonUnit[i]) ? wOrder : null;
  const { start, end } = runBounds(vals, S.seg.idx, E, Mp);
  const parts: string[] = [];
  for (let e = 0; e < E; e++) {
    let w = slices[e];
    if (wPerm)
      w = g.emit1("Transpose", [g.emit1("Reshape", [w, g.i64(data.shape.slice(1))])], {
        perm: wPerm.map((ax) => ax - 1),
      });
    w = g.emit1("Reshape", [w, g.i64(kFirst ? [K, Np] : [Np, K])]);
    if (!kFirst) w = g.emit1("Transpose", [w], { perm: [1, 0] });
    parts.push(g.emit1("MatMul", [rowsOf(vals, rows, start[e], end[e]), w]));
  }
  const y = g.emit1("Concat", parts, { axis: 0 }); // [nRows * Mp, Np]
  const resAxes = [bAx, ...mOrder, ...nOrder];
  const resDims = resAxes.map((ax) => (nOrder.includes(ax) ? S.shape[ax] : X.shape[ax]));
  return productView(vals, y, resAxes, resDims, out, dtype);
}

/** A dot whose only use is a scatter-add by sorted owners: deferred, emitted as plain MatMul if needed. */
export function deferDot(
  vals: Values,
  a: Val,
  b: Val,
  aFull: Shape,
  bFull: Shape,
  out: Shape,
  dtype: string,
  plain: () => Val,
): Val {
  const v: Val = { shape: [...out], dtype, segDot: { a, b, aFull, bFull, out } };
  v.lazy = () => vals.nameOf(vals.materialize(plain(), out));
  return v;
}

/**
 * scatter-add(dot(A, B) over a row axis, owner) into [E, ...rest]: per expert A_run^T @ B_run, the
 * rows of both operands in that expert's run. Null if the product does not have that form.
 */
export function segScatter(vals: Values, upd: Val, idx: Val, shape: Shape): Val | null {
  const d = upd.segDot;
  if (!d || !idx.sorted) return null;
  const r = d.out.length + 1;
  const g = vals.g;
  const K = Math.max(d.aFull[d.aFull.length - 1], d.bFull[d.bFull.length - 1]);
  const a = realK(vals, vals.toRank(d.a, r), K);
  const b = realK(vals, vals.toRank(d.b, r), K);
  const { batch, M, N } = classify(a, b, r);
  if (batch.length !== 1 || batch[0] !== 0 || d.out[0] !== idx.shape[0] || shape[0] < 1) return null;
  if (a.unary || b.unary) return null;
  const nRows = d.out[0];
  const va = vals.viewOf(a);
  const vb = vals.viewOf(b);
  const pos = (v: typeof va, ax: number) => (v.groups[ax].length ? v.groups[ax][0] : -1);
  const mOrder = [...M].sort((x, y) => pos(va, x) - pos(va, y));
  const nOrder = [...N].sort((x, y) => pos(vb, x) - pos(vb, y));
  const Mp = prod(mOrder.map((ax) => a.shape[ax]));
  const Np = prod(nOrder.map((ax) => b.shape[ax]));
  const aRows = g.emit1("Reshape", [layoutView(vals, va, [0, r - 1, ...mOrder]), g.i64([nRows * K, Mp])]);
  const bRows = g.emit1("Reshape", [layoutView(vals, vb, [0, r - 1, ...nOrder]), g.i64([nRows * K, Np])]);
  const E = shape[0];
  const { start, end } = runBounds(vals, idx, E, K);
  const dims = [...mOrder.map((ax) => a.shape[ax]), ...nOrder.map((ax) => b.shape[ax])];
  // Into the dot's output order (its non-unit axes after the row axis), then the scatter's row shape.
  const have = [...mOrder, ...nOrder];
  const want = [...have].sort((x, y) => x - y);
  const perm = have.some((ax, i) => ax !== want[i]) ? want.map((ax) => have.indexOf(ax)) : null;
  const parts = Array.from({ length: E }, (_, e) => {
    let p = g.emit1("Gemm", [rowsOf(vals, aRows, start[e], end[e]), rowsOf(vals, bRows, start[e], end[e])], {
      transA: 1,
    }); // [Mp, Np]
    if (perm) p = g.emit1("Transpose", [g.emit1("Reshape", [p, g.i64(dims)])], { perm });
    return g.emit1("Reshape", [p, g.i64([1, ...shape.slice(1)])]);
  });
  // The stack's gradient splits it again per expert: `parts` lets that split take the pieces.
  return { ...mat(g.emit1("Concat", parts, { axis: 0 }), shape, upd.dtype), parts };
}
