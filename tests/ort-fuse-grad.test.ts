// The gradient-program rewrites of src/engine/ort/fuse-grad.ts: each is checked on the lowered
// graph (the new op appears, the replaced chain is gone) and on its numbers against jax-js
// (<= 1e-5 relative): the sum of squares of the gradient norm, a tied embedding's gradient in
// both scatter forms (one-hot Gemm, ScatterND onto the head's gradient), and the attention scale
// moved next to its MatMul.
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { compile } from "../src/engine/compile.ts";
import { initEngine } from "../src/engine/device.ts";
import { type Array as JArray, grad, makeJaxpr, numpy as np, tree } from "../src/engine/jax.ts";
import { add, linear, matmul, mul, sum, swapaxes, take } from "../src/engine/ops.ts";
import type { NodeSpec } from "../src/engine/onnx-proto.ts";
import { globalNorm } from "../src/engine/optim.ts";
import { hostOf } from "../src/engine/ort/compile.ts";
import { lowerJaxpr } from "../src/engine/ort/lower.ts";
import { SCATTER } from "../src/engine/ort/rules.ts";
import { tidy } from "../src/engine/scope.ts";

beforeAll(async () => {
  await initEngine({ device: "cpu", executor: "ort" });
});
const defaultMax = SCATTER.oneHotMax;
afterEach(() => {
  SCATTER.oneHotMax = defaultMax;
});

const f32 = (shape: number[], seed: number) =>
  np.array(
    Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i * 0.91 + seed)),
    { shape } as never,
  ) as JArray;
const ids = (n: number, v: number) =>
  np.array(
    Int32Array.from({ length: n }, (_, i) => (i * 7) % v),
    { shape: [1, n], dtype: "int32" } as never,
  ) as JArray;

type Fn = (...xs: JArray[]) => any;

function lowered(fn: Fn, args: JArray[], fuse = true) {
  const closed = (makeJaxpr as any)(fn)(...args).jaxpr;
  const constValues = (closed.consts as JArray[]).map((c) => hostOf(c));
  return lowerJaxpr(closed, { constValues, fuse });
}

/** ORT against jax-js (jit, or eager where jax-js's jit cannot compile a scatter). */
async function expectSameAsJax(fn: Fn, args: () => JArray[], eager = false) {
  const [o] = tree.flatten(compile(fn, { executor: "ort" })(...args()) as never) as [JArray[], unknown];
  const ref = eager ? fn(...args()) : compile(fn, { executor: "jax" })(...args());
  const [j] = tree.flatten(ref as never) as [JArray[], unknown];
  expect(o.length).toBe(j.length);
  for (let k = 0; k < o.length; k++) {
    const a = await o[k].data();
    const b = await j[k].data();
    let scale = 0;
    for (const v of b) scale = Math.max(scale, Math.abs(v));
    expect(scale).toBeGreaterThan(0);
    for (let i = 0; i < a.length; i++)
      expect(Math.abs(a[i] - b[i])).toBeLessThanOrEqual(1e-5 * scale + 1e-30);
  }
}

// A tied head: logits = Emb(ids) @ E^T; the gradient of E sums the head's and the gather's parts.
const tiedLoss = (e: JArray, t: JArray) =>
  tidy(() => sum(mul(np.sin(linear(take(e, t, 0), e) as never) as never, 0.5)));
const tiedGrad = grad(tiedLoss as never) as unknown as Fn;

describe("gradient-program rewrites", () => {
  it("the gradient norm sums squares with ReduceSumSquare", async () => {
    const fn: Fn = (a, b) => tidy(() => globalNorm({ a, b }));
    const args = () => [f32([6, 5], 1), f32([7], 2)];
    const plain = lowered(fn, args(), false).ops;
    const fused = lowered(fn, args()).ops;
    expect(plain.ReduceSumSquare).toBeUndefined();
    expect(fused.ReduceSumSquare).toBe(2);
    expect(fused.Mul ?? 0).toBeLessThan(plain.Mul);
    await expectSameAsJax(fn, args);
  });

  it("a tied embedding's one-hot gradient accumulates onto the head's in a Gemm", async () => {
    const args = () => [f32([11, 4], 3), ids(9, 11)];
    const fused = lowered(tiedGrad, args()).ops;
    expect(fused.Gemm).toBe(1);
    expect(lowered(tiedGrad, args(), false).ops.Gemm).toBeUndefined();
    await expectSameAsJax(tiedGrad, args, true);
  });

  it("past the one-hot size, the gather's rows are scattered onto the head's gradient", async () => {
    SCATTER.oneHotMax = 0; // the ScatterND form, as at a 150k vocabulary
    const args = () => [f32([11, 4], 4), ids(9, 11)];
    const plain = lowered(tiedGrad, args(), false).ops;
    const fused = lowered(tiedGrad, args()).ops;
    expect(plain.ScatterND).toBe(1);
    expect(fused.ScatterND).toBe(1);
    expect(fused.Expand ?? 0).toBe((plain.Expand ?? 0) - 1); // no zero table
    expect(fused.Add ?? 0).toBe((plain.Add ?? 0) - 1);
    await expectSameAsJax(tiedGrad, args, true);
  });

  it("the attention scale moves next to its MatMul (onnxruntime folds it there)", async () => {
    const scores: Fn = (q, k) =>
      tidy(() =>
        add(mul(matmul(q, swapaxes(k, -1, -2)), 0.125), np.sin(swapaxes(q, -1, -2).ref as never) as never),
      );
    const args = () => [f32([2, 3, 5, 5], 5), f32([2, 3, 5, 5], 6)];
    const nodes = lowered(scores, args()).nodes as NodeSpec[];
    const producer = new Map(nodes.flatMap((n) => n.outputs.map((o) => [o, n] as const)));
    const scaled = nodes.filter((n) => n.op === "Mul");
    expect(scaled.length).toBe(1);
    expect(producer.get(scaled[0].inputs[0])?.op).toBe("MatMul");
    await expectSameAsJax(scores, args);
    await expectSameAsJax(grad((q: JArray, k: JArray) => np.sum(scores(q, k) as never)) as never, args);
  });
});
