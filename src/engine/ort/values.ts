// How a jaxpr value lives in the ONNX graph while it is being lowered, and the lazy forms that
// let the lowering emit fewer, larger ops:
//   - lazy broadcasts: a value has the jaxpr value's rank, but each dim is either the jaxpr dim or 1;
//     ONNX's numpy broadcasting expands the 1s on use, so jax-js's `broadcast` costs nothing and
//     `dot` (jax-js: sum over the last axis of two broadcast operands) becomes a MatMul;
//   - pending unaries: neg / reciprocal are held back so add(x, neg y) can become Sub and
//     mul(x, reciprocal y) Div;
//   - views: transposes and reshapes of a materialised tensor are recorded, not emitted, until a
//     consumer needs the layout; MatMul reads many of them directly (no Transpose node).
// A view's groups[i] lists the base axes (consecutive in the base's order of non-unit axes) that
// axis i spans.
import { type Graph, prod } from "./graph.ts";

export type Shape = number[];

export interface View {
  base: { name: string; shape: Shape };
  groups: number[][];
}

export interface Val {
  /** ONNX shape: same rank as the jaxpr value, each dim equal to it or 1 (lazy broadcast). */
  shape: Shape;
  dtype: string;
  name?: string;
  unary?: { op: "Neg" | "Reciprocal"; x: Val };
  view?: View;
  /** Integer values known to be pairwise distinct (a rank-1 argsort output, or a slice of one). */
  distinct?: boolean;
  /** A rank-1 integer vector known to be sorted ascending (a sort's values): segment owners. */
  sorted?: boolean;
  /** Emits the tensor on first use (segments.ts: gathered expert weights, deferred products). */
  lazy?: () => string;
  /** Rows of `data` gathered by sorted owners, not emitted (segments.ts). */
  seg?: { data: Val; idx: Val; axes: number[] };
  /** The tensor is Concat(parts) on axis 0, one row each (a split into rows can take them). */
  parts?: string[];
  /** A batched product whose only use is a scatter-add by sorted owners (segments.ts). */
  segDot?: { a: Val; b: Val; aFull: Shape; bFull: Shape; out: Shape };
}

export const sameShape = (a: Shape, b: Shape): boolean =>
  a.length === b.length && a.every((d, i) => d === b[i]);
export const mat = (name: string, shape: Shape, dtype: string): Val => ({ name, shape: [...shape], dtype });
const nonUnitAxes = (s: Shape): number[] => s.map((d, i) => (d !== 1 ? i : -1)).filter((i) => i >= 0);
const identityGroups = (shape: Shape): number[][] => shape.map((d, i) => (d !== 1 ? [i] : []));

export class Values {
  constructor(readonly g: Graph) {}

  reshapeName(name: string, from: Shape, to: Shape): string {
    return sameShape(from, to) ? name : this.g.emit1("Reshape", [name, this.g.i64(to)]);
  }

  /** The ONNX tensor of v laid out as v.shape (emits pending unaries and view transposes). */
  nameOf(v: Val): string {
    if (v.name) return v.name;
    if (v.lazy) v.name = v.lazy();
    else if (v.unary) v.name = this.g.emit1(v.unary.op, [this.nameOf(v.unary.x)]);
    else if (v.view) v.name = this.layoutView(v.view, v.shape);
    else throw new Error("ORT lowering: a value with no tensor");
    return v.name;
  }

  private layoutView(view: View, shape: Shape): string {
    const order = view.groups.flat();
    const nonUnit = nonUnitAxes(view.base.shape);
    let n = view.base.name;
    let cur = view.base.shape;
    if (order.some((ax, i) => ax !== nonUnit[i])) {
      const perm = [...order, ...view.base.shape.keys()].filter((ax, i, arr) => arr.indexOf(ax) === i);
      n = this.g.emit1("Transpose", [n], { perm });
      cur = perm.map((i) => view.base.shape[i]);
    }
    return this.reshapeName(n, cur, shape);
  }

  viewOf(v: Val): View {
    return v.view ?? { base: { name: this.nameOf(v), shape: v.shape }, groups: identityGroups(v.shape) };
  }

  /** Expand lazy (size-1) dims to the full shape. */
  materialize(v: Val, full: Shape): Val {
    if (sameShape(v.shape, full)) return v;
    return mat(this.g.emit1("Expand", [this.nameOf(v), this.g.i64(full)]), full, v.dtype);
  }

  /** Leading unit axes up to rank r (free for views). */
  toRank(v: Val, r: number): Val {
    if (v.shape.length === r) return v;
    const pad = r - v.shape.length;
    const shape = [...Array(pad).fill(1), ...v.shape];
    if (!v.unary) {
      const w = this.viewOf(v);
      return {
        shape,
        dtype: v.dtype,
        view: { base: w.base, groups: [...Array.from({ length: pad }, () => []), ...w.groups] },
      };
    }
    return mat(this.reshapeName(this.nameOf(v), v.shape, shape), shape, v.dtype);
  }

  /** Insert unit axes at `axes` (sorted, in output positions). */
  insertAxes(v: Val, axes: number[]): Val {
    const shape = [...v.shape];
    for (const a of axes) shape.splice(a, 0, 1);
    if (v.unary) return mat(this.reshapeName(this.nameOf(v), v.shape, shape), shape, v.dtype);
    const w = this.viewOf(v);
    const groups = [...w.groups];
    for (const a of axes) groups.splice(a, 0, []);
    return { shape, dtype: v.dtype, view: { base: w.base, groups } };
  }

  transpose(v: Val, perm: number[]): Val {
    const shape = perm.map((i) => v.shape[i]);
    if (v.unary) return mat(this.g.emit1("Transpose", [this.nameOf(v)], { perm }), shape, v.dtype);
    const w = this.viewOf(v);
    return { shape, dtype: v.dtype, view: { base: w.base, groups: perm.map((i) => w.groups[i]) } };
  }

  /** jaxpr reshape inFull -> target of a value whose ONNX shape may be lazy. */
  reshape(v: Val, inFull: Shape, target: Shape): Val {
    const lazyTarget = lazyReshapeTarget(inFull, target, v.shape);
    const src = lazyTarget ? v : this.materialize(v, inFull);
    const to = lazyTarget ?? target;
    const asView = src.unary ? null : this.reshapeView(src, to);
    return asView ?? mat(this.reshapeName(this.nameOf(src), src.shape, to), to, v.dtype);
  }

  /** A view of v with ONNX shape `to`, by merging/splitting runs of base axes; null if impossible. */
  private reshapeView(v: Val, to: Shape): Val | null {
    const { base, groups } = this.viewOf(v);
    const from = v.shape;
    const pos = new Map(nonUnitAxes(base.shape).map((ax, i) => [ax, i]));
    const out: number[][] = to.map(() => []);
    let i = 0;
    let j = 0;
    while (true) {
      while (i < from.length && from[i] === 1) i++;
      while (j < to.length && to[j] === 1) j++;
      if (i >= from.length || j >= to.length) break;
      let pi = from[i];
      let pj = to[j];
      const gi = [i];
      const gj = [j];
      while (pi !== pj) {
        if (pi < pj) {
          if (++i >= from.length) return null;
          pi *= from[i];
          gi.push(i);
        } else {
          if (++j >= to.length) return null;
          pj *= to[j];
          gj.push(j);
        }
      }
      const run = gi.flatMap((k) => groups[k]);
      for (let k = 1; k < run.length; k++) if (pos.get(run[k])! !== pos.get(run[k - 1])! + 1) return null;
      let r = 0;
      for (const t of gj) {
        if (to[t] === 1) continue;
        let p = 1;
        const grp: number[] = [];
        while (p < to[t] && r < run.length) {
          p *= base.shape[run[r]];
          grp.push(run[r++]);
        }
        if (p !== to[t]) return null;
        out[t] = grp;
      }
      i++;
      j++;
    }
    if (i < from.length || j < to.length) {
      // Trailing non-unit dims left unmatched: sizes differ (never for a valid reshape).
      if (from.slice(i).some((d) => d !== 1) || to.slice(j).some((d) => d !== 1)) return null;
    }
    return { shape: [...to], dtype: v.dtype, view: { base, groups: out } };
  }
}

/**
 * ONNX shape of reshape(inFull -> target) for a value with lazy dims `onnx`, keeping them lazy, or
 * null when a lazy dim would merge with real ones (then the value is materialised first).
 */
export function lazyReshapeTarget(inFull: Shape, target: Shape, onnx: Shape): Shape | null {
  if (sameShape(onnx, inFull)) return [...target];
  const out = [...target];
  let i = 0;
  let j = 0;
  while (i < inFull.length || j < target.length) {
    if (i < inFull.length && inFull[i] === 1) {
      i++;
      continue;
    }
    if (j < target.length && target[j] === 1) {
      j++;
      continue;
    }
    if (i >= inFull.length || j >= target.length) return null;
    let pi = inFull[i];
    let pj = target[j];
    const gi = [i];
    const gj = [j];
    while (pi !== pj) {
      if (pi < pj) {
        if (++i >= inFull.length) return null;
        pi *= inFull[i];
        gi.push(i);
      } else {
        if (++j >= target.length) return null;
        pj *= target[j];
        gj.push(j);
      }
    }
    if (gi.some((k) => onnx[k] !== inFull[k])) {
      const ni = gi.filter((k) => inFull[k] !== 1);
      const nj = gj.filter((k) => target[k] !== 1);
      if (ni.length === 1 && nj.length === 1) out[nj[0]] = 1;
      else return null;
    }
    i++;
    j++;
  }
  return out;
}

export const size = prod;
