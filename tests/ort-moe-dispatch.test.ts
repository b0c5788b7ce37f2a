// MoE dispatch on the ORT executor (src/model/moe-dispatch.ts): only the chosen experts run, and
// the result and its gradients equal the dense masked form computed by jax-js, also when routing
// is as skewed as it gets (every token on the same two experts) and when a block is partly padding.
import { beforeAll, describe, expect, it } from "vitest";
import { compile } from "../src/engine/compile.ts";
import { initEngine } from "../src/engine/device.ts";
import { type Array as JArray, numpy as np, tree, valueAndGrad } from "../src/engine/jax.ts";
import { einsum, mul, oneHot, silu, sum } from "../src/engine/ops.ts";
import { tidy } from "../src/engine/scope.ts";
import { blockRows, dispatchCost, dispatchExperts, dispatchPays } from "../src/model/moe-dispatch.ts";

beforeAll(async () => {
  await initEngine({ device: "cpu", executor: "ort" });
});

const E = 6;
const D = 8;
const F = 5;
const K = 2;

const seq = (n: number, seed: number) =>
  Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.37 + seed * 0.71) * 0.8);
const f32 = (shape: number[], seed: number) =>
  np.array(
    seq(
      shape.reduce((a, b) => a * b, 1),
      seed,
    ),
    { shape } as never,
  ) as JArray;

/** Distinct expert choices per token: spread over experts, or all on experts 3 and 1. */
function choices(N: number, skewed: boolean): JArray {
  const idx = new Int32Array(N * K);
  for (let n = 0; n < N; n++) {
    const a = skewed ? 3 : (n * 5 + 1) % E;
    const b = skewed ? 1 : (a + 1 + (n % (E - 1))) % E;
    idx.set([a, b], n * K);
  }
  return np.array(idx, { shape: [N, K], dtype: "int32" } as never) as JArray;
}

/** The dense masked form moe.ts uses under jax-js: every expert on every token. */
function dense(x: JArray, idx: JArray, gate: JArray, w: { gate: JArray; up: JArray; down: JArray }) {
  const g = sum(mul(oneHot(idx, E), gate.reshape([...gate.shape, 1]) as JArray), 1); // [N, E]
  const h = mul(silu(einsum("nd,efd->enf", x, w.gate)), einsum("nd,efd->enf", x, w.up));
  return einsum("ne,end->nd", g, einsum("enf,edf->end", h, w.down));
}

type Args = [JArray, JArray, JArray, { gate: JArray; up: JArray; down: JArray }];
const lossOf = (form: typeof dense) => (x: JArray, idx: JArray, gate: JArray, w: Args[3]) =>
  tidy(() => {
    const y = form(x, idx, gate, w);
    return sum(mul(y, y)) as JArray;
  });

async function flat(x: unknown): Promise<Float32Array[]> {
  const [leaves] = tree.flatten(x as never) as [JArray[], unknown];
  return Promise.all(leaves.map(async (l) => Float32Array.from(await l.data())));
}

function maxRel(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return den === 0 ? num : num / den;
}

describe("MoE dispatch of the chosen experts (ORT executor)", () => {
  it.each([
    [1, false],
    [7, false],
    [40, false],
    [40, true],
  ])("N=%i tokens (skewed routing: %s): output and gradients equal the dense form", async (N, skewed) => {
    const args = (): Args => [
      f32([N, D], 1),
      choices(N, skewed),
      np.abs(f32([N, K], 2)) as JArray,
      { gate: f32([E, F, D], 3), up: f32([E, F, D], 4), down: f32([E, D, F], 5) },
    ];
    const grads = (form: typeof dense) => valueAndGrad(lossOf(form), { argnums: [0, 2, 3] } as never);
    const sparse = compile((...a: Args) => grads(dispatchExperts as typeof dense)(...a), { executor: "ort" });
    const ref = compile((...a: Args) => grads(dense)(...a), { executor: "jax" });
    const out = compile((...a: Args) => dispatchExperts(...a), { executor: "ort" });
    const outRef = compile((...a: Args) => dense(...a), { executor: "jax" });
    const [o] = await flat(out(...args()));
    const [r] = await flat(outRef(...args()));
    expect(maxRel(o, r)).toBeLessThan(1e-5);
    const go = await flat(sparse(...args()));
    const gr = await flat(ref(...args()));
    expect(go.length).toBe(gr.length);
    for (let i = 0; i < go.length; i++) expect(maxRel(go[i], gr[i])).toBeLessThan(1e-5);
    if (skewed) {
      // Experts other than 1 and 3 saw no token: exactly zero gradient (no rounding leaks in).
      const wGate = go[go.length - 3];
      const per = F * D;
      for (const e of [0, 2, 4, 5])
        expect(wGate.subarray(e * per, (e + 1) * per).every((v) => v === 0)).toBe(true);
    }
  });

  it("lowers to gathers by argsort permutations with plain (add-free) ScatterND gradients", async () => {
    const N = 40;
    const f = compile(
      (x: JArray, idx: JArray, gate: JArray, w: Args[3]) =>
        valueAndGrad(lossOf(dispatchExperts as typeof dense), { argnums: [0, 3] } as never)(x, idx, gate, w),
      { executor: "ort" },
    ) as unknown as ((...a: unknown[]) => unknown) & { stats: { ops: Record<string, number> } };
    f(f32([N, D], 1), choices(N, false), f32([N, K], 2), {
      gate: f32([E, F, D], 3),
      up: f32([E, F, D], 4),
      down: f32([E, D, F], 5),
    });
    const ops = (f as unknown as { stats: { ops: Record<string, number> } }).stats.ops;
    expect(ops.TopK).toBeGreaterThanOrEqual(3); // expert order, its inverse, and back
    expect(ops.ScatterND).toBeGreaterThanOrEqual(2); // the token rows' gradients
    expect(ops.Gather).toBeGreaterThanOrEqual(5);
  });

  it("block size and the dense fallback follow the cost model", () => {
    expect(blockRows(4096, 8)).toBe(64);
    expect(blockRows(2, 8)).toBe(1);
    for (const A of [2, 128, 4096])
      for (const b of [1, 2, 4, 8, 16, 32, 64, 128])
        expect(dispatchCost(A, 8, blockRows(A, 8))).toBeLessThanOrEqual(dispatchCost(A, 8, b));
    expect(dispatchPays(2048, 2, 8)).toBe(true); // a training batch
    expect(dispatchPays(64, 2, 8)).toBe(true); // a batch-64 decode step
    expect(dispatchPays(1, 2, 8)).toBe(true); // batch-1 decode reads 2 experts, not 8
    expect(dispatchPays(16, 2, 8)).toBe(false); // 16 tokens touch every expert, fill no block
  });
});
