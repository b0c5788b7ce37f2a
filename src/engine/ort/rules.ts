// One lowering rule per jax-js primitive: jaxpr equation -> ONNX nodes (opset 18). A rule reads
// its inputs as lazy values (values.ts) and returns its outputs as values; it materialises a lazy
// broadcast only where the ONNX op cannot broadcast (Concat, Pad, Gather ...).
// To add a primitive: write its rule here (ONNX operator docs: https://onnx.ai/onnx/operators/),
// then add a case to tests/ort-primitives.test.ts comparing it with jax-js.
import { lowerDot } from "./dot.ts";
import { DTYPE_CODE, prod } from "./graph.ts";
import { deferDot, permuteSeg, reshapeSeg, segDot, segGather, segScatter } from "./segments.ts";
import { type Shape, type Val, type Values, mat } from "./values.ts";

export interface Eqn {
  ins: Val[];
  inShapes: Shape[];
  outShapes: Shape[];
  outDtypes: string[];
  params: any;
  prim: string;
  /** A dot whose only use is a scatter-add by sorted owners (lower.ts): segments.ts may defer it. */
  segScatterDot?: boolean;
}

export type Rule = (vals: Values, e: Eqn) => Val[];

const BINARY: Record<string, string> = { add: "Add", mul: "Mul", max: "Max", min: "Min", idiv: "Div" };
/** Binary ops on bool operands (ONNX arithmetic has no bool kernels). */
const BOOL_BINARY: Record<string, string> = { add: "Or", mul: "And", max: "Or", min: "And" };
const UNARY: Record<string, string> = {
  sqrt: "Sqrt",
  exp: "Exp",
  log: "Log",
  sin: "Sin",
  cos: "Cos",
  floor: "Floor",
  ceil: "Ceil",
  erf: "Erf",
  asin: "Asin",
  atan: "Atan",
};
const COMPARE: Record<string, string> = {
  less: "Less",
  equal: "Equal",
  less_equal: "LessOrEqual",
  not_equal: "Equal",
};
const REDUCE: Record<string, string> = {
  Add: "ReduceSum",
  Max: "ReduceMax",
  Min: "ReduceMin",
  Mul: "ReduceProd",
};

const bcastShape = (ss: Shape[]): Shape => {
  const r = Math.max(...ss.map((s) => s.length));
  return Array.from({ length: r }, (_, i) => Math.max(...ss.map((s) => s[s.length - r + i] ?? 1)));
};

/** Elementwise n-ary ops: operands keep their lazy dims, ONNX broadcasts. */
const elementwise: Rule = (vals, e) => {
  const g = vals.g;
  const r = e.outShapes[0].length;
  // Rank-0 operands (literals) broadcast in ONNX as they are; others already have rank r.
  const a = e.ins.map((v) => (v.shape.length === 0 ? v : vals.toRank(v, r)));
  const shape = bcastShape(a.map((v) => v.shape));
  const dtype = e.outDtypes[0];
  const n = (v: Val) => vals.nameOf(v);
  let name: string;
  const { prim, params: p } = e;
  if (prim === "compare") {
    name = g.emit1(COMPARE[p.op], [n(a[0]), n(a[1])]);
    if (p.op === "not_equal") name = g.emit1("Not", [name]);
  } else if (prim === "where") name = g.emit1("Where", a.map(n));
  else if (prim === "mod") name = g.emit1("Mod", [n(a[0]), n(a[1])], { fmod: 1 });
  else if (a[0].dtype === "bool" && prim in BOOL_BINARY)
    name = g.emit1(BOOL_BINARY[prim], [n(a[0]), n(a[1])]);
  else if (prim === "add" && (a[0].unary?.op === "Neg" || a[1].unary?.op === "Neg")) {
    const [x, y] = a[1].unary?.op === "Neg" ? [a[0], a[1]] : [a[1], a[0]];
    name = g.emit1("Sub", [n(x), n(y.unary!.x)]); // x + (-y) = x - y
  } else if (prim === "mul" && (a[0].unary?.op === "Reciprocal" || a[1].unary?.op === "Reciprocal")) {
    const [x, y] = a[1].unary?.op === "Reciprocal" ? [a[0], a[1]] : [a[1], a[0]];
    name = g.emit1("Div", [n(x), n(y.unary!.x)]); // x * (1/y) = x / y
  } else if (prim === "bit_combine") {
    // Bool: logical And/Or/Xor; integers (quantised weights' packed codes): Bitwise* (opset 18).
    const op = { and: "And", or: "Or", xor: "Xor" }[p.op as string];
    if (!op) throw new Error(`ORT executor: cannot lower primitive 'bit_combine' (${p.op} on ${a[0].dtype})`);
    name = g.emit1(a[0].dtype === "bool" ? op : `Bitwise${op}`, [n(a[0]), n(a[1])]);
  } else if (prim === "bit_shift") {
    // ONNX BitShift takes unsigned integers only.
    if (a[0].dtype !== "uint32" || a[1].dtype !== "uint32")
      throw new Error(
        `ORT executor: cannot lower primitive 'bit_shift' on ${a[0].dtype} by ${a[1].dtype} (uint32 only)`,
      );
    name = g.emit1("BitShift", [n(a[0]), n(a[1])], { direction: p.op === "shl" ? "LEFT" : "RIGHT" });
  } else {
    name = g.emit1(BINARY[prim], [n(a[0]), n(a[1])]);
    if (prim === "add") for (const v of a) g.shapes.set(n(v), [...v.shape]); // fuse-grad.ts reads them
  }
  return [mat(name, shape, dtype)];
};

/** neg / reciprocal: held back (values.ts) so that the consumer can fuse them. */
const pendingUnary: Rule = (_vals, e) => {
  const x = e.ins[0];
  const op = e.prim === "neg" ? "Neg" : "Reciprocal";
  if (x.unary?.op === op) return [x.unary.x]; // neg(neg x) = x
  return [{ shape: [...x.shape], dtype: x.dtype, unary: { op, x } }];
};

const unary: Rule = (vals, e) => {
  const x = e.ins[0];
  // jax-js's floorDivide of integers traces floor(idiv): ONNX Floor takes floats only.
  if ((e.prim === "floor" || e.prim === "ceil") && x.dtype !== "float32" && x.dtype !== "float16") return [x];
  let name = vals.g.emit1(UNARY[e.prim] ?? "Erf", [vals.nameOf(x)]);
  if (e.prim === "erfc") name = vals.g.emit1("Sub", [vals.g.scalar(1, x.dtype), name]);
  return [mat(name, x.shape, e.outDtypes[0])];
};

const reduce: Rule = (vals, e) => {
  const g = vals.g;
  const x = e.ins[0];
  const inFull = e.inShapes[0];
  const axes: number[] = e.params.axis;
  const op = REDUCE[e.params.op];
  if (!op) throw new Error(`ORT executor: cannot lower primitive 'reduce' with op ${e.params.op}`);
  // Axes that are lazy (size 1 in ONNX) need no reduction: a sum over n copies is n * x.
  const lazy = axes.filter((a) => x.shape[a] !== inFull[a]);
  const real = axes.filter((a) => x.shape[a] === inFull[a] && inFull[a] !== 1);
  let name = vals.nameOf(x);
  if (real.length > 0) {
    name =
      x.dtype === "bool"
        ? reduceBool(vals, name, op, real)
        : g.emit1(op, [name, g.i64(real)], { keepdims: 1 });
  }
  const kept = x.shape.map((d, i) => (real.includes(i) ? 1 : d));
  const outShape = kept.filter((_, i) => !axes.includes(i));
  name = vals.reshapeName(name, kept, outShape);
  if (lazy.length > 0 && e.params.op === "Add")
    name = g.emit1("Mul", [name, g.scalar(prod(lazy.map((a) => inFull[a])), x.dtype)]);
  if (lazy.length > 0 && e.params.op === "Mul")
    throw new Error("ORT executor: cannot lower primitive 'reduce' (product over a broadcast axis)");
  return [mat(name, outShape, e.outDtypes[0])];
};

function reduceBool(vals: Values, name: string, op: string, axes: number[]): string {
  const g = vals.g;
  const asInt = g.emit1("Cast", [name], { to: DTYPE_CODE.int32 });
  const red = g.emit1(
    op === "ReduceSum" || op === "ReduceMax" ? "ReduceMax" : "ReduceMin",
    [asInt, g.i64(axes)],
    { keepdims: 1 },
  );
  return g.emit1("Cast", [red], { to: DTYPE_CODE.bool });
}

const cast: Rule = (vals, e) => {
  const x = e.ins[0];
  const to = e.params.dtype as string;
  if (to === x.dtype) return [x];
  const out = mat(vals.g.emit1("Cast", [vals.nameOf(x)], { to: DTYPE_CODE[to] }), x.shape, to);
  return [{ ...out, distinct: x.distinct && to !== "bool" && !(x.dtype === "float32" && to !== "float32") }];
};

const shrink: Rule = (vals, e) => {
  const x = e.ins[0];
  const inFull = e.inShapes[0];
  const axes: number[] = [];
  const starts: number[] = [];
  const ends: number[] = [];
  (e.params.slice as [number, number][]).forEach(([s, t], i) => {
    if (x.shape[i] === inFull[i] && (s !== 0 || t !== inFull[i])) {
      axes.push(i);
      starts.push(s);
      ends.push(t);
    }
  });
  // A slice of a lazy (broadcast) axis is still that broadcast: keep size 1.
  const shape = x.shape.map((d, i) =>
    axes.includes(i) ? ends[axes.indexOf(i)] - starts[axes.indexOf(i)] : d,
  );
  if (axes.length === 0) return [x];
  const g = vals.g;
  const out = mat(
    g.emit1("Slice", [vals.nameOf(x), g.i64(starts), g.i64(ends), g.i64(axes)]),
    shape,
    x.dtype,
  );
  return [{ ...out, distinct: x.distinct }];
};

const flip: Rule = (vals, e) => {
  const x = e.ins[0];
  const axes = (e.params.axis as number[]).filter((a) => x.shape[a] > 1);
  if (axes.length === 0) return [x];
  const g = vals.g;
  const big = 2 ** 62;
  const name = g.emit1("Slice", [
    vals.nameOf(x),
    g.i64(axes.map(() => -1)),
    g.i64(axes.map(() => -big)),
    g.i64(axes),
    g.i64(axes.map(() => -1)),
  ]);
  return [mat(name, x.shape, x.dtype)];
};

const pad: Rule = (vals, e) => {
  const x = vals.materialize(e.ins[0], e.inShapes[0]);
  const w: [number, number][] = e.params.width;
  const g = vals.g;
  if (w.some(([lo, hi]) => lo < 0 || hi < 0))
    throw new Error("ORT executor: cannot lower primitive 'pad' with negative widths");
  const name = g.emit1("Pad", [vals.nameOf(x), g.i64([...w.map((q) => q[0]), ...w.map((q) => q[1])])], {
    mode: "constant",
  });
  return [mat(name, e.outShapes[0], x.dtype)];
};

const concatenate: Rule = (vals, e) => {
  const xs = e.ins.map((v, i) => vals.materialize(v, e.inShapes[i]));
  return [
    mat(
      vals.g.emit1(
        "Concat",
        xs.map((v) => vals.nameOf(v)),
        { axis: e.params.axis },
      ),
      e.outShapes[0],
      e.outDtypes[0],
    ),
  ];
};

const split: Rule = (vals, e) => {
  const ax: number = e.params.axis;
  const sizes: number[] = e.params.sizes;
  let x = e.ins[0];
  if (x.parts && ax === 0 && x.parts.length === sizes.length && sizes.every((n) => n === 1))
    return x.parts.map((n) => mat(n, [1, ...x.shape.slice(1)], x.dtype)); // segments.ts' weight gradients
  if (x.shape[ax] !== e.inShapes[0][ax]) x = vals.materialize(x, e.inShapes[0]);
  const outs = vals.g.emit("Split", [vals.nameOf(x), vals.g.i64(sizes)], { axis: ax }, sizes.length);
  return outs.map((n, i) =>
    mat(
      n,
      x.shape.map((d, k) => (k === ax ? sizes[i] : d)),
      x.dtype,
    ),
  );
};

/** gather(x, idx; axis=[a], outDim): ONNX Gather puts the index dims at a; move them to outDim. */
const gather: Rule = (vals, e) => {
  const g = vals.g;
  const axis: number[] = e.params.axis;
  if (axis.length !== 1)
    throw new Error(`ORT executor: cannot lower primitive 'gather' over ${axis.length} axes`);
  const ax = axis[0];
  const outDim: number = e.params.outDim;
  const data = vals.materialize(e.ins[0], e.inShapes[0]);
  const idx = vals.materialize(e.ins[1], e.inShapes[1]);
  // Rows of a weight stack by sorted owners (MoE dispatch): grouped GEMMs, no copies (segments.ts).
  if (idx.sorted && ax === 0 && outDim === 0 && data.dtype === "float32" && data.shape.length >= 2)
    return [segGather(vals, data, idx, e.outShapes[0], e.outDtypes[0])];
  let name = g.emit1("Gather", [vals.nameOf(data), vals.nameOf(idx)], { axis: ax });
  const out = e.outShapes[0];
  const k = idx.shape.length;
  if (outDim !== ax) {
    // ONNX order: data[:ax], idx dims, data[ax+1:]; jax-js order: rest[:outDim], idx dims, rest[outDim:].
    const rest = [...Array(ax).keys(), ...Array.from({ length: out.length - ax - k }, (_, i) => ax + k + i)];
    const idxDims = Array.from({ length: k }, (_, i) => ax + i);
    const perm = [...rest.slice(0, outDim), ...idxDims, ...rest.slice(outDim)];
    name = g.emit1("Transpose", [name], { perm });
  }
  return [mat(name, out, e.outDtypes[0])];
};

/**
 * scatter-add along axis 0 (the gradient of an embedding gather): with indices known to be distinct
 * (values.ts: from an argsort, e.g. MoE dispatch) a plain ScatterND; else a one-hot MatMul while
 * that is small (vocab x tokens x dim <= 2^32), else ScatterND with reduction add (not bitwise
 * reproducible with several threads when indices repeat).
 */
/** Largest vocab x tokens x dim a scatter-add lowers as a one-hot MatMul (tests lower it to exercise ScatterND). */
export const SCATTER = { oneHotMax: 2 ** 32 };

const scatter: Rule = (vals, e) => {
  const g = vals.g;
  const p = e.params;
  if (p.axis.length !== 1 || p.op !== "add" || p.outDim !== p.axis[0] || p.axis[0] !== 0) {
    throw new Error(`ORT executor: cannot lower primitive 'scatter' (${JSON.stringify(p)})`);
  }
  const upd = vals.materialize(e.ins[0], e.inShapes[0]);
  const idx = vals.materialize(e.ins[1], e.inShapes[1]);
  const grouped = segScatter(vals, e.ins[0], e.ins[1], p.shape);
  if (grouped) return [grouped];
  const [V, ...rowShape] = p.shape as number[];
  const N = prod(idx.shape);
  const D = prod(rowShape);
  if (upd.dtype === "float32" && V * N * D <= SCATTER.oneHotMax && !e.ins[1].distinct) {
    // onehot(idx)^T @ updates: a MatMul, deterministic. onnxruntime's ScatterND runs its updates
    // in parallel, and repeated indices (the same token twice) then add in a varying order.
    const flatIdx = g.emit1("Reshape", [vals.nameOf(idx), g.i64([N])]);
    const oneHot = g.emit1(
      "OneHot",
      [flatIdx, g.scalar(V, "int32"), g.emit1("Cast", [g.i64([0, 1])], { to: DTYPE_CODE.float32 })],
      { axis: 0 },
    );
    const rows = g.emit1("Reshape", [vals.nameOf(upd), g.i64([N, D])]);
    const sum = g.emit1("MatMul", [oneHot, rows]);
    return [mat(g.emit1("Reshape", [sum, g.i64([V, ...rowShape])]), e.outShapes[0], upd.dtype)];
  }
  const idx64 = g.emit1("Unsqueeze", [
    g.emit1("Cast", [vals.nameOf(idx)], { to: DTYPE_CODE.int64 }),
    g.i64([-1]),
  ]);
  const zero = g.emit1("Expand", [g.scalar(0, upd.dtype), g.i64(p.shape)]);
  return [
    mat(
      g.emit1("ScatterND", [zero, idx64, vals.nameOf(upd)], e.ins[1].distinct ? {} : { reduction: "add" }),
      e.outShapes[0],
      upd.dtype,
    ),
  ];
};

/** sort / argsort along the last axis, ascending and stable: TopK(largest=0) keeps ties in index order. */
const sort: Rule = (vals, e) => {
  const g = vals.g;
  const full = e.inShapes[0];
  const x = vals.materialize(e.ins[0], full);
  const n = full[full.length - 1];
  const [values, idx] = g.emit("TopK", [vals.nameOf(x), g.i64([n])], { axis: -1, largest: 0, sorted: 1 }, 2);
  const out: Val[] = [
    { ...mat(values, full, x.dtype), sorted: full.length === 1 && x.dtype.startsWith("int") },
  ];
  if (e.prim === "argsort") {
    // A rank-1 argsort is a permutation: scatters by it (its gathers' gradients) need no adds.
    const perm = mat(g.emit1("Cast", [idx], { to: DTYPE_CODE.int32 }), full, "int32");
    out.push({ ...perm, distinct: full.length === 1 });
  }
  return out;
};

export const RULES: Record<string, Rule> = {
  add: elementwise,
  mul: elementwise,
  max: elementwise,
  min: elementwise,
  idiv: elementwise,
  mod: elementwise,
  compare: elementwise,
  where: elementwise,
  bit_combine: elementwise,
  bit_shift: elementwise,
  neg: pendingUnary,
  reciprocal: pendingUnary,
  sqrt: unary,
  exp: unary,
  log: unary,
  sin: unary,
  cos: unary,
  floor: unary,
  ceil: unary,
  erf: unary,
  erfc: unary,
  asin: unary,
  atan: unary,
  stop_gradient: (_v, e) => [e.ins[0]],
  cast,
  reduce,
  shrink,
  flip,
  pad,
  concatenate,
  split,
  gather,
  scatter,
  sort,
  argsort: sort,
  broadcast: (vals, e) => [
    permuteSeg(
      vals,
      e.ins[0],
      null,
      [...e.params.axis].sort((a: number, b: number) => a - b),
    ) ??
      vals.insertAxes(
        e.ins[0],
        [...e.params.axis].sort((a: number, b: number) => a - b),
      ),
  ],
  reshape: (vals, e) => {
    const seg = reshapeSeg(vals, e.ins[0], e.params.shape);
    if (seg) return [seg];
    const v = vals.reshape(e.ins[0], e.inShapes[0], e.params.shape);
    return [e.ins[0].distinct ? { ...mat(vals.nameOf(v), v.shape, v.dtype), distinct: true } : v];
  },
  transpose: (vals, e) => [
    permuteSeg(vals, e.ins[0], e.params.perm) ?? vals.transpose(e.ins[0], e.params.perm),
  ],
  dot: (vals, e) => {
    const [a, b] = e.ins;
    const plain = () => lowerDot(vals, a, b, e.inShapes[0], e.inShapes[1], e.outShapes[0], e.outDtypes[0]);
    if (a.seg || b.seg) return [segDot(vals, a, b, e.outShapes[0], e.outDtypes[0]) ?? plain()];
    if (e.segScatterDot)
      return [deferDot(vals, a, b, e.inShapes[0], e.inShapes[1], e.outShapes[0], e.outDtypes[0], plain)];
    return [plain()];
  },
};
