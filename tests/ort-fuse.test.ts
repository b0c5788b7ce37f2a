// The ORT lowering's fusion rewrites (src/engine/ort/fuse.ts): each rewrite is checked on the
// graph it changes (the fused op appears, the chain it replaces is gone) and on its numbers
// against jax-js (<= 1e-5 relative), in a forward program and in a gradient program (where the
// softmax / log-softmax / RMSNorm chains are read again by the backward pass and stay unfused).
import { beforeAll, describe, expect, it } from "vitest";
import { compile } from "../src/engine/compile.ts";
import { initEngine } from "../src/engine/device.ts";
import { type Array as JArray, grad, makeJaxpr, numpy as np, tree } from "../src/engine/jax.ts";
import { add, logSoftmax, softmax } from "../src/engine/ops.ts";
import { hostOf } from "../src/engine/ort/compile.ts";
import { lowerJaxpr } from "../src/engine/ort/lower.ts";
import { tidy } from "../src/engine/scope.ts";
import { rmsNorm } from "../src/model/norm.ts";

beforeAll(async () => {
  await initEngine({ device: "cpu", executor: "ort" });
});

const f32 = (shape: number[], seed: number) =>
  np.array(
    Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i * 0.91 + seed) * 3),
    { shape } as never,
  ) as JArray;

type Fn = (...xs: JArray[]) => JArray;

function opsOf(fn: Fn, args: JArray[], fuse = true): Record<string, number> {
  const closed = (makeJaxpr as any)(fn)(...args).jaxpr;
  const constValues = (closed.consts as JArray[]).map((c) => hostOf(c));
  return lowerJaxpr(closed, { constValues, fuse }).ops;
}

async function expectSameAsJax(fn: Fn, args: () => JArray[]) {
  const [o] = tree.flatten(compile(fn, { executor: "ort" })(...args()) as never) as [JArray[], unknown];
  const [j] = tree.flatten(compile(fn, { executor: "jax" })(...args()) as never) as [JArray[], unknown];
  for (let k = 0; k < o.length; k++) {
    const a = await o[k].data();
    const b = await j[k].data();
    let scale = 0;
    for (const v of b) scale = Math.max(scale, Math.abs(v));
    for (let i = 0; i < a.length; i++)
      expect(Math.abs(a[i] - b[i])).toBeLessThanOrEqual(1e-5 * scale + 1e-30);
  }
}

// Model code's wrappers (ops.ts: non-consuming, in a tidy scope), as the models trace them.
const softmaxFn: Fn = (x, m) => tidy(() => softmax(add(x, m), -1));
const logSoftmaxFn: Fn = (x) => tidy(() => logSoftmax(x, -1));
const rmsFn: Fn = (x, w) => tidy(() => rmsNorm(x, w, 1e-6));
const loss =
  (f: Fn) =>
  (x: JArray, ...rest: JArray[]) =>
    np.sum(np.multiply(f(x, ...rest), np.sin(x.ref)));

const CASES: { name: string; op: string; gone: string[]; fn: Fn; args: () => JArray[] }[] = [
  {
    name: "softmax",
    op: "Softmax",
    gone: ["Exp", "ReduceSum", "ReduceMax"],
    fn: softmaxFn,
    args: () => [f32([2, 3, 5, 7], 1), f32([1, 1, 5, 7], 2)],
  },
  {
    name: "log-softmax",
    op: "LogSoftmax",
    gone: ["Exp", "Log"],
    fn: logSoftmaxFn,
    args: () => [f32([4, 9], 3)],
  },
  {
    name: "RMSNorm",
    op: "SimplifiedLayerNormalization",
    gone: ["Sqrt", "ReduceSum"],
    fn: rmsFn,
    args: () => [f32([2, 5, 16], 4), f32([16], 5)],
  },
];

describe.each(CASES)("fusion: $name", ({ op, gone, fn, args }) => {
  it(`a forward program becomes ${op}, with jax-js's numbers`, async () => {
    const fused = opsOf(fn, args());
    const plain = opsOf(fn, args(), false);
    expect(fused[op]).toBe(1);
    expect(plain[op]).toBeUndefined();
    for (const g of gone) {
      expect(plain[g], g).toBeGreaterThan(0);
      expect(fused[g], g).toBeUndefined();
    }
    await expectSameAsJax(fn, args);
  });

  it("a gradient program keeps the chain its backward pass reads, with jax-js's numbers", async () => {
    const g = grad(loss(fn)) as unknown as Fn;
    expect(opsOf(g, args())[op]).toBeUndefined();
    await expectSameAsJax(g, args);
  });
});

describe("fusion guards", () => {
  it("leaves a mean of squares over another length, and a max over another axis, alone", () => {
    // x * x summed and scaled by 1/8 while the weight has 16 entries: not an RMSNorm.
    const notRms: Fn = (x, w) =>
      np.multiply(
        np.divide(
          x,
          np.sqrt(
            np.add(
              np.multiply(np.sum(np.multiply(x.ref, x.ref), -1, { keepdims: true } as never), 0.125),
              1e-6,
            ),
          ),
        ),
        w,
      );
    expect(opsOf(notRms, [f32([3, 16], 1), f32([16], 2)]).SimplifiedLayerNormalization).toBeUndefined();
    const notSoftmax: Fn = (x) => {
      const e = np.exp(np.subtract(x.ref, lax_max0(x)));
      return np.divide(e.ref, np.sum(e, -1, { keepdims: true } as never));
    };
    expect(opsOf(notSoftmax, [f32([4, 6], 3)]).Softmax).toBeUndefined();
  });
});

/** max over axis 0 (kept): the softmax pattern with the wrong axis. */
function lax_max0(x: JArray): JArray {
  return np.max(x, 0, { keepdims: true } as never);
}
