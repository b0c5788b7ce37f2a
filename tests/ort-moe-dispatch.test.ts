// MoE dispatch on the ORT executor (src/model/moe-dispatch.ts): only the chosen experts run, and
// the result and its gradients equal the dense masked form computed by jax-js, also when routing
// is as skewed as it gets (every token on the same two experts) and when a block is partly padding.
import { beforeAll, describe, expect, it } from "vitest";
import { compile } from "../src/engine/compile.ts";
import { initEngine } from "../src/engine/device.ts";
import { type Array as JArray, numpy as np, tree, valueAndGrad } from "../src/engine/jax.ts";
import { einsum, mul, oneHot, silu, sum } from "../src/engine/ops.ts";
import { tidy } from "../src/engine/scope.ts";
import type { Params } from "../src/engine/params.ts";
import { initParams } from "../src/model/init.ts";
import { moe } from "../src/model/moe.ts";
import { dispatchExperts } from "../src/model/moe-dispatch.ts";
import { tinyDeepSeek } from "../src/model/presets.ts";

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

  it("lowers to one GEMM per expert (no copies of expert weights) and add-free ScatterND gradients", async () => {
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
    expect(ops.TopK).toBeGreaterThanOrEqual(3); // expert order, sorted owners, and back
    expect(ops.ScatterND).toBeGreaterThanOrEqual(2); // the token rows' gradients
    // Only the two row permutations gather: expert weights are sliced per expert, never copied per row.
    expect(ops.Gather).toBe(2);
    // Per expert: gate, up and down forward, their input gradients and weight gradients.
    expect((ops.MatMul ?? 0) + (ops.FusedMatMul ?? 0) + (ops.Gemm ?? 0)).toBeGreaterThanOrEqual(9 * E);
  });
});

describe("a DeepSeekMoE layer on ORT (per-expert parameters, as moe.ts stacks them)", () => {
  it("loss and every gradient equal jax-js's dense form; no stack of expert weights is built", async () => {
    const c = tinyDeepSeek(32, {
      hiddenSize: 16,
      moeIntermediateSize: 8,
      nRoutedExperts: 6,
      numExpertsPerTok: 2,
    });
    const pre = "model.layers.1.mlp";
    const all = initParams(c, 3, { std: 0.2 });
    const p: Params = {};
    for (const [k, v] of Object.entries(all)) if (k.startsWith(pre) && !k.endsWith("bias")) p[k] = v;
    const x = () => f32([3, 10, 16], 7);
    const loss = (pp: Params, xx: JArray) =>
      tidy(() => {
        const o = moe(pp, pre, c, xx).out;
        return sum(mul(o, o)) as JArray;
      });
    const ort = compile((pp: Params, xx: JArray) => valueAndGrad(loss)(pp, xx), { executor: "ort" });
    const ref = compile((pp: Params, xx: JArray) => valueAndGrad(loss)(pp, xx), { executor: "jax" });
    const go = await flat(ort(p, x()));
    const gr = await flat(ref(p, x()));
    expect(go.length).toBe(gr.length);
    for (let i = 0; i < go.length; i++) expect(maxRel(go[i], gr[i])).toBeLessThan(1e-5);
    const ops = (ort as unknown as { stats: { ops: Record<string, number> } }).stats.ops;
    expect(ops.Gather ?? 0).toBe(2); // the row permutations only
    expect(ops.Split ?? 0).toBe(0); // the weight gradients come out per expert
    // No Concat of E expert matrices (the stack): only the per-expert row runs are concatenated.
    expect(ops.Concat ?? 0).toBeLessThanOrEqual(3 * 2);
  });
});
