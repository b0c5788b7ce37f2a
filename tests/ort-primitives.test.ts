// The ORT executor's lowering, one jax-js primitive at a time: each case traces a small function
// whose jaxpr holds the primitive (checked), runs it on onnxruntime (compile with executor ort) and
// on jax-js, and compares the results (<= 1e-5 relative, exact for integers and booleans).
import { beforeAll, describe, expect, it } from "vitest";
import { compile } from "../src/engine/compile.ts";
import { initEngine } from "../src/engine/device.ts";
import { type Array as JArray, grad, lax, makeJaxpr, nn, numpy as np, tree } from "../src/engine/jax.ts";
import { lowerJaxpr } from "../src/engine/ort/lower.ts";

beforeAll(async () => {
  await initEngine({ device: "cpu", executor: "ort" });
});

// Fixed pseudo-random inputs (no RNG dependency): values in [-2, 2).
const vals = (n: number, seed: number) =>
  Float32Array.from({ length: n }, (_, i) => ((i * 7919 + seed * 104729) % 1000) / 250 - 2);
const f32 = (shape: number[], seed = 1) =>
  np.array(
    vals(
      shape.reduce((a, b) => a * b, 1),
      seed,
    ),
    { shape } as never,
  ) as JArray;
const pos = (shape: number[], seed = 1) =>
  np.array(
    vals(
      shape.reduce((a, b) => a * b, 1),
      seed,
    ).map((v) => v + 2.5),
    { shape } as never,
  ) as JArray;
const i32 = (data: number[], shape: number[]) =>
  np.array(Int32Array.from(data), { shape, dtype: "int32" } as never) as JArray;

type Fn = (...xs: JArray[]) => JArray | JArray[];

/** The primitives a traced fn binds (its jaxpr's equations). */
function primitives(fn: Fn, args: JArray[]): Set<string> {
  const { jaxpr } = (makeJaxpr as any)(fn)(...args);
  return new Set(jaxpr.jaxpr.flatten().eqns.map((e: { primitive: string }) => e.primitive));
}

async function both(fn: Fn, args: () => JArray[]) {
  const ort = compile(fn, { executor: "ort" })(...args());
  const jax = compile(fn, { executor: "jax" })(...args());
  const [lo] = tree.flatten(ort as never) as [JArray[], unknown];
  const [lj] = tree.flatten(jax as never) as [JArray[], unknown];
  expect(lo.length).toBe(lj.length);
  const out: { ort: number[]; jax: number[]; dtype: string; shape: number[] }[] = [];
  for (let i = 0; i < lo.length; i++) {
    expect(lo[i].shape).toEqual(lj[i].shape);
    expect(lo[i].dtype).toBe(lj[i].dtype);
    out.push({
      dtype: lo[i].dtype,
      shape: lo[i].shape,
      ort: Array.from(await lo[i].data()),
      jax: Array.from(await lj[i].data()),
    });
  }
  return out;
}

function expectClose(a: number[], b: number[], rel = 1e-5) {
  let scale = 0;
  for (const v of b) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(b[i])) expect(Number.isNaN(a[i])).toBe(true);
    else expect(Math.abs(a[i] - b[i])).toBeLessThanOrEqual(rel * Math.max(scale, 1e-30) + 1e-30);
  }
}

const CASES: { prim: string; fn: Fn; args: () => JArray[] }[] = [
  { prim: "add", fn: (x, y) => np.add(x, y), args: () => [f32([3, 4]), f32([4], 2)] },
  { prim: "mul", fn: (x, y) => np.multiply(x, y), args: () => [f32([2, 3, 4]), f32([3, 1], 2)] },
  { prim: "max", fn: (x, y) => np.maximum(x, y), args: () => [f32([5, 4]), f32([5, 4], 3)] },
  { prim: "min", fn: (x, y) => np.minimum(x, y), args: () => [f32([5, 4]), f32([1, 4], 3)] },
  {
    prim: "idiv",
    fn: (x, y) => np.floorDivide(x, y),
    args: () => [i32([7, 8, 9, 20, 3, 0], [6]), i32([2, 3, 4, 6, 5, 7], [6])],
  },
  { prim: "mod", fn: (x, y) => np.remainder(x, y), args: () => [pos([6]), pos([6], 4)] },
  { prim: "neg", fn: (x) => np.negative(np.exp(x)), args: () => [f32([4, 4])] },
  { prim: "reciprocal", fn: (x) => np.reciprocal(x), args: () => [pos([4, 4])] },
  { prim: "sqrt", fn: (x) => np.sqrt(x), args: () => [pos([7])] },
  { prim: "exp", fn: (x) => np.exp(x), args: () => [f32([7])] },
  { prim: "log", fn: (x) => np.log(x), args: () => [pos([7])] },
  { prim: "sin", fn: (x) => np.sin(x), args: () => [f32([7])] },
  { prim: "cos", fn: (x) => np.cos(x), args: () => [f32([7])] },
  { prim: "floor", fn: (x) => np.floor(x), args: () => [f32([9])] },
  { prim: "ceil", fn: (x) => np.ceil(x), args: () => [f32([9])] },
  { prim: "erf", fn: (x) => lax.erf(x), args: () => [f32([9])] },
  { prim: "erfc", fn: (x) => lax.erfc(x), args: () => [f32([9])] },
  { prim: "asin", fn: (x) => np.asin(np.multiply(x, 0.4)), args: () => [f32([9])] },
  { prim: "atan", fn: (x) => np.atan(x), args: () => [f32([9])] },
  {
    prim: "compare",
    fn: (x, y) => [
      np.less(x.ref, y.ref),
      np.equal(x.ref, y.ref),
      np.lessEqual(x.ref, y.ref),
      np.notEqual(x, y),
    ],
    args: () => [f32([8]), np.array(Float32Array.from([0, 1, -1, 2, 0.5, 0, 0, 1]))],
  },
  {
    prim: "where",
    fn: (x, y) => np.where(np.greater(x.ref, 0), x, y),
    args: () => [f32([3, 4]), f32([3, 4], 2)],
  },
  {
    prim: "mul",
    fn: (x, y) => np.logicalAnd(np.greater(x, 0), np.less(y, 0)),
    args: () => [f32([8]), f32([8], 2)],
  },
  {
    prim: "bit_combine",
    fn: (x, y) => [
      np.bitwiseXor(np.greater(x.ref, 0), np.less(y.ref, 0)),
      np.bitwiseOr(np.greater(x, 1), np.less(y, 1)),
    ],
    args: () => [f32([8]), f32([8], 2)],
  },
  { prim: "stop_gradient", fn: (x) => lax.stopGradient(np.multiply(x, 2)), args: () => [f32([3])] },
  {
    prim: "cast",
    fn: (x) => [x.ref.astype("int32" as never), np.greater(x, 0).astype("float32" as never)],
    args: () => [f32([6])],
  },
  {
    prim: "reduce",
    fn: (x) => [np.sum(x.ref, 1), np.max(x.ref, 0), np.min(x.ref, [0, 2]), np.prod(np.multiply(x, 0.5), 2)],
    args: () => [f32([2, 3, 4])],
  },
  { prim: "shrink", fn: (x) => x.slice([1, 3], null as never, [0, 2]), args: () => [f32([4, 3, 5])] },
  { prim: "flip", fn: (x) => np.flip(x, 1), args: () => [f32([3, 4])] },
  {
    prim: "pad",
    fn: (x) =>
      np.pad(x, [
        [1, 0],
        [0, 2],
      ] as never),
    args: () => [f32([2, 3])],
  },
  { prim: "concatenate", fn: (x, y) => np.concatenate([x, y], 1), args: () => [f32([2, 3]), f32([2, 2], 2)] },
  { prim: "split", fn: (x) => np.split(x, [1, 3], 1), args: () => [f32([2, 5])] },
  { prim: "gather", fn: (x, i) => np.take(x, i, 0), args: () => [f32([6, 3]), i32([5, 0, 2, 2], [2, 2])] },
  { prim: "gather", fn: (x, i) => np.take(x, i, 1), args: () => [f32([2, 6, 3]), i32([5, 0, 2], [3])] },
  {
    prim: "scatter",
    fn: (x, i) => grad((w: JArray) => np.sum(np.multiply(np.take(w, i, 0), 1.5)))(x),
    args: () => [f32([5, 3]), i32([1, 4, 1, 0], [4])],
  },
  { prim: "sort", fn: (x) => np.sort(x), args: () => [f32([3, 5])] },
  {
    prim: "argsort",
    fn: (x) => np.argsort(x),
    args: () => [np.array(Float32Array.from([3, 1, 2, 1, 3, 0]), { shape: [2, 3] } as never) as JArray],
  },
  { prim: "broadcast", fn: (x) => np.broadcastTo(x, [2, 3, 4]), args: () => [f32([3, 1])] },
  {
    prim: "reshape",
    fn: (x) => np.reshape(np.transpose(x, [1, 0, 2]), [3, 8]),
    args: () => [f32([2, 3, 4])],
  },
  { prim: "transpose", fn: (x) => np.transpose(x, [2, 0, 1]), args: () => [f32([2, 3, 4])] },
  { prim: "dot", fn: (x, w) => np.matmul(x, np.transpose(w)), args: () => [f32([2, 3, 4]), f32([5, 4], 2)] },
  {
    prim: "dot",
    fn: (q, k) => np.einsum("bhqd,bhkd->bhqk", q, k),
    args: () => [f32([2, 2, 3, 4]), f32([2, 2, 5, 4], 2)],
  },
  { prim: "dot", fn: (a, b) => np.einsum("nd,efd->enf", a, b), args: () => [f32([3, 4]), f32([2, 5, 4], 2)] },
];

describe("ORT lowering, per primitive", () => {
  for (const [k, c] of CASES.entries()) {
    it(`${c.prim} (${k})`, async () => {
      expect(primitives(c.fn, c.args())).toContain(c.prim);
      const res = await both(c.fn, c.args);
      for (const r of res) {
        if (r.dtype === "float32") expectClose(r.ort, r.jax);
        else expect(r.ort).toEqual(r.jax);
      }
    });
  }

  it("composite: softmax, log-softmax, SiLU, sigmoid and their gradients", async () => {
    const f = (x: JArray) => [
      nn.softmax(x.ref, -1),
      nn.logSoftmax(x.ref, -1),
      nn.silu(x.ref),
      grad((y: JArray) => np.sum(np.multiply(nn.silu(y.ref), y)))(x),
    ];
    for (const r of await both(f, () => [f32([3, 7])])) expectClose(r.ort, r.jax);
  });

  it("fusion: sigmoid and SiLU become Sigmoid nodes (no Exp left in the forward graph)", () => {
    const f = (x: JArray) => [nn.sigmoid(x.ref), nn.silu(x)];
    const { jaxpr } = (makeJaxpr as any)(f)(f32([3, 7]));
    const fused = lowerJaxpr(jaxpr, { constValues: [] }).ops;
    expect(fused.Sigmoid).toBe(1);
    expect(fused.Exp ?? 0).toBe(0);
    const plain = lowerJaxpr(jaxpr, { constValues: [], fuse: false }).ops;
    expect(plain.Exp).toBeGreaterThan(0);
    expect(plain.Sigmoid ?? 0).toBe(0);
  });

  it("a primitive with no rule fails with its name, never falls back", () => {
    const fn = (x: JArray) => lax.bitcastConvertType(x, "int32" as never);
    const { jaxpr } = (makeJaxpr as any)(fn)(f32([4]));
    expect(() => lowerJaxpr(jaxpr, { constValues: [] })).toThrow(/cannot lower primitive 'bitcast'/);
    expect(() => compile(fn, { executor: "ort" })(f32([4]))).toThrow(/cannot lower primitive 'bitcast'/);
  });
});
