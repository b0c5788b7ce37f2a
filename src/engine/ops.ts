// The tensor operations r1lab's model code uses, as non-consuming wrappers over @jax-js/jax.
// Each wrapper takes a new reference of every array argument (so callers keep their arrays) and
// registers its result in the current `tidy` scope (scope.ts). Model code therefore reads like
// NumPy/JAX, with no `.ref` bookkeeping, and cannot leak inside a scope.
// Shapes in comments: [batch, seq, dim] etc. Names follow numpy / jax.nn.
import { type Array as JArray, lax, nn, numpy as np } from "./jax.ts";
import { isDeviceTensor } from "./ort/device-tensors.ts";
import { isResident } from "./resident.ts";
import { isArray, track } from "./scope.ts";

export type Arr = JArray;
export type DType = "float32" | "float16" | "int32" | "uint32" | "bool";
type A = Arr | number;

// A resident tensor (resident.ts) or a WebGPU device tensor (ort/device-tensors.ts) used eagerly is
// copied into a jax-js array, which the op consumes.
const r = <T>(x: T): T =>
  isResident(x) || isDeviceTensor(x) ? (x.toJax() as T) : isArray(x) ? (x.ref as T) : x;

// --- elementwise ---
export const add = (a: A, b: A): Arr => track(np.add(r(a), r(b)));
export const sub = (a: A, b: A): Arr => track(np.subtract(r(a), r(b)));
export const mul = (a: A, b: A): Arr => track(np.multiply(r(a), r(b)));
export const div = (a: A, b: A): Arr => track(np.divide(r(a), r(b)));
export const neg = (a: Arr): Arr => track(np.negative(r(a)));
export const exp = (a: Arr): Arr => track(np.exp(r(a)));
export const log = (a: Arr): Arr => track(np.log(r(a)));
export const sqrt = (a: Arr): Arr => track(np.sqrt(r(a)));
export const rsqrt = (a: Arr): Arr => track(np.reciprocal(np.sqrt(r(a))));
export const square = (a: Arr): Arr => track(np.square(r(a)));
export const abs = (a: Arr): Arr => track(np.abs(r(a)));
export const sin = (a: Arr): Arr => track(np.sin(r(a)));
export const cos = (a: Arr): Arr => track(np.cos(r(a)));
export const tanh = (a: Arr): Arr => track(np.tanh(r(a)));
export const floorDivide = (a: A, b: A): Arr => track(np.floorDivide(r(a), r(b)));
export const maximum = (a: A, b: A): Arr => track(np.maximum(r(a), r(b)));
export const minimum = (a: A, b: A): Arr => track(np.minimum(r(a), r(b)));
export const clip = (a: Arr, lo?: number, hi?: number): Arr => track(np.clip(r(a), lo, hi));
export const pow = (a: Arr, p: number): Arr => track(np.power(r(a), p));
export const sigmoid = (a: Arr): Arr => track(nn.sigmoid(r(a)));
export const silu = (a: Arr): Arr => track(nn.silu(r(a)));
export const where = (cond: Arr, a: A, b: A): Arr => track(np.where(r(cond), r(a), r(b)));
export const equal = (a: A, b: A): Arr => track(np.equal(r(a), r(b)));
export const greater = (a: A, b: A): Arr => track(np.greater(r(a), r(b)));
export const less = (a: A, b: A): Arr => track(np.less(r(a), r(b)));
export const greaterEqual = (a: A, b: A): Arr => track(np.greaterEqual(r(a), r(b)));
export const astype = (a: Arr, dtype: DType): Arr => track(r(a).astype(dtype as any));
export const stopGradient = (a: Arr): Arr => track(lax.stopGradient(r(a)));
export const rightShift = (a: Arr, n: A): Arr => track(np.rightShift(r(a), r(n)));
export const bitwiseAnd = (a: Arr, b: A): Arr => track(np.bitwiseAnd(r(a), r(b)));

// --- reductions (keepdims optional) ---
type Red = { keepdims?: boolean };
export const sum = (a: Arr, axis?: number | number[], o: Red = {}): Arr => track(r(a).sum(axis as any, o));
export const mean = (a: Arr, axis?: number | number[], o: Red = {}): Arr => track(r(a).mean(axis as any, o));
export const max = (a: Arr, axis?: number | number[], o: Red = {}): Arr => track(r(a).max(axis as any, o));
export const min = (a: Arr, axis?: number | number[], o: Red = {}): Arr => track(r(a).min(axis as any, o));
/** The last axis sorted ascending. */
export const sort = (a: Arr): Arr => track(np.sort(r(a)));
/** Indices that sort the last axis ascending (stable). */
export const argsort = (a: Arr): Arr => track(np.argsort(r(a)));
export const argmax = (a: Arr, axis?: number): Arr => track(np.argmax(r(a), axis));
export const cumsum = (a: Arr, axis?: number): Arr => track(np.cumsum(r(a), axis));
export const softmax = (a: Arr, axis = -1): Arr => track(nn.softmax(r(a), axis));
export const logSoftmax = (a: Arr, axis = -1): Arr => track(nn.logSoftmax(r(a), axis));
export const logsumexp = (a: Arr, axis = -1): Arr => track(nn.logsumexp(r(a), axis));

// --- shape ---
export const reshape = (a: Arr, shape: number[]): Arr => track(r(a).reshape(shape));
export const transpose = (a: Arr, perm?: number[]): Arr => track(r(a).transpose(perm));
export const swapaxes = (a: Arr, i: number, j: number): Arr => track(np.swapaxes(r(a), i, j));
export const expandDims = (a: Arr, axis: number | number[]): Arr => track(np.expandDims(r(a), axis));
export const squeeze = (a: Arr, axis?: number | number[]): Arr => track(np.squeeze(r(a), axis as any));
export const broadcastTo = (a: Arr, shape: number[]): Arr => track(np.broadcastTo(r(a), shape));
export const concat = (xs: Arr[], axis = -1): Arr => track(np.concatenate(xs.map(r), axis));
export const stack = (xs: Arr[], axis = 0): Arr => track(np.stack(xs.map(r), axis));
export const repeat = (a: Arr, n: number, axis?: number): Arr => track(np.repeat(r(a), n, axis));
/** Slice with one entry per axis: null = all, number = index (drops the axis), [start, end] = range. */
export const slice = (a: Arr, ...index: (number | [number, number] | null)[]): Arr =>
  track(r(a).slice(...(index.map((i) => (i === null ? [] : i)) as any)));
export const split = (a: Arr, sections: number | number[], axis = -1): Arr[] =>
  np.split(r(a), sections, axis).map((x) => track(x));

// --- linear algebra ---
export const matmul = (a: Arr, b: Arr): Arr => track(np.matmul(r(a), r(b)));
export const einsum = (spec: string, ...xs: Arr[]): Arr => track(np.einsum(spec, ...xs.map(r)));
/** y = x W^T (+ b), with W in PyTorch/HF layout [out, in]. x: [..., in] -> [..., out]. */
export function linear(x: Arr, w: Arr, b?: Arr): Arr {
  const y = track(np.matmul(r(x), r(w).transpose()));
  return b ? add(y, b) : y;
}

// --- indexing ---
export const take = (a: Arr, idx: Arr, axis?: number): Arr => track(np.take(r(a), r(idx), axis));
/**
 * One-hot float32 rows: idx [...] -> [..., n]. Written as idx == arange(n) rather than jax-js's
 * nn.oneHot, which slices an n x n identity matrix: a constant of 92 GB for a 150k vocabulary.
 */
export const oneHot = (idx: Arr, n: number): Arr =>
  track(
    np
      .equal(np.expandDims(r(idx), -1), np.arange(0, n, 1, { dtype: "int32" as any }))
      .astype("float32" as any),
  );
/** Top-k along the last axis: [values, indices(int32)]. */
export function topK(a: Arr, k: number): [Arr, Arr] {
  const [v, i] = lax.topK(r(a), k);
  return [track(v), track(i)];
}

// --- creation (tracked, so temporary constants are freed with their scope) ---
export const zeros = (shape: number[], dtype: DType = "float32"): Arr =>
  track(np.zeros(shape, { dtype: dtype as any }));
export const ones = (shape: number[], dtype: DType = "float32"): Arr =>
  track(np.ones(shape, { dtype: dtype as any }));
export const full = (shape: number[], v: number, dtype: DType = "float32"): Arr =>
  track(np.full(shape, v, { dtype: dtype as any }));
export const arange = (start: number, stop?: number, dtype: DType = "int32"): Arr =>
  track(np.arange(start, stop, 1, { dtype: dtype as any }));
export const tril = (a: Arr, k = 0): Arr => track(np.tril(r(a), k));
export function fromArray(
  data: Float32Array | Int32Array | number[],
  shape: number[],
  dtype: DType = "float32",
): Arr {
  const typed = Array.isArray(data)
    ? dtype === "int32"
      ? Int32Array.from(data)
      : Float32Array.from(data)
    : data;
  return track(np.array(typed as any, { dtype: dtype as any, shape } as any));
}
