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

describe("reshape chains (collapseReshapes)", () => {
  // Products of a batch of rows through two weights, with the reshapes model code writes between
  // them: every product's operands and result are Reshapes in the plain lowering.
  const mlp: Fn = (x, w1, w2) =>
    tidy(() => {
      const h = np.reshape(np.matmul(np.reshape(x, [6, 8]), w1), [2, 3, 6]);
      return np.matmul(np.reshape(h, [3, 2, 6]), w2);
    });
  const args = () => [f32([2, 3, 8], 1), f32([8, 6], 2), f32([6, 5], 3)];

  it("no Reshape reads a Reshape or reshapes an input to its own shape; jax-js's numbers", async () => {
    const closed = (makeJaxpr as any)(mlp)(...args()).jaxpr;
    const lower = (fuse: boolean) => lowerJaxpr(closed, { constValues: [], fuse });
    const fused = lower(true);
    const plain = lower(false);
    type Node = { op: string; inputs: string[]; outputs: string[] };
    /** Reshapes whose data input is another Reshape's output. */
    const chained = (nodes: Node[]) => {
      const producer = new Map(nodes.flatMap((n) => n.outputs.map((o) => [o, n.op] as const)));
      return nodes.filter((n) => n.op === "Reshape" && producer.get(n.inputs[0]) === "Reshape").length;
    };
    expect(chained(plain.nodes as Node[])).toBeGreaterThan(0);
    expect(chained(fused.nodes as Node[])).toBe(0);
    expect(fused.ops.Reshape ?? 0).toBeLessThan(plain.ops.Reshape);
    const weights = fused.inputs.slice(1).map((i) => i.name); // [8, 6] and [6, 5]: MatMul reads them as they are
    for (const n of fused.nodes as Node[]) if (n.op === "Reshape") expect(weights).not.toContain(n.inputs[0]);
    await expectSameAsJax(mlp, args);
  });
});
