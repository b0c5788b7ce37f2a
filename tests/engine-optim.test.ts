import { beforeAll, describe, expect, it } from "vitest";
import {
  AdamW,
  type Params,
  initEngine,
  learningRate,
  ops as o,
  refParams,
  tidy,
  toHost,
} from "../src/engine/index.ts";
import { valueAndGrad } from "../src/engine/jax.ts";

beforeAll(async () => {
  await initEngine({ device: "cpu" });
});

/** Reference AdamW in plain JS for one parameter vector. */
function refAdamW(
  p: number[],
  grads: number[][],
  lr: number,
  b1: number,
  b2: number,
  eps: number,
  wd: number,
  clip: number,
) {
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  let x = [...p];
  grads.forEach((g0, i) => {
    const t = i + 1;
    const norm = Math.sqrt(g0.reduce((s, g) => s + g * g, 0));
    const c = Math.min(1, clip / (norm + 1e-6));
    const g = g0.map((gi) => gi * c);
    x = x.map((xi, j) => {
      m[j] = b1 * m[j] + (1 - b1) * g[j];
      v[j] = b2 * v[j] + (1 - b2) * g[j] * g[j];
      const upd = m[j] / (1 - b1 ** t) / (Math.sqrt(v[j] / (1 - b2 ** t)) + eps);
      return xi - lr * (upd + wd * xi);
    });
  });
  return x;
}

describe("AdamW", () => {
  it("matches a plain-JS reference, with decoupled decay on matrices and clipping", async () => {
    const opt = new AdamW({ beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1, maxGradNorm: 0.5 });
    let params: Params = { w: o.fromArray([1, -2, 3, 0.5], [2, 2]) };
    let state = opt.init(params);
    const gs = [
      [0.3, -0.1, 2.0, 0.0],
      [-0.5, 0.2, 0.1, 0.4],
      [0.05, 0.05, -0.3, 1.0],
    ];
    for (const g of gs) {
      const res = opt.update(params, { w: o.fromArray(g, [2, 2]) }, state, 0.01);
      params = res.params;
      state = res.state;
      res.gradNorm.dispose();
    }
    const got = Array.from(await toHost(params.w));
    const want = refAdamW([1, -2, 3, 0.5], gs, 0.01, 0.9, 0.99, 1e-8, 0.1, 0.5);
    for (const [i, x] of got.entries()) expect(x).toBeCloseTo(want[i], 5);
  });

  it("does not decay 1-d parameters (norm gains, biases)", async () => {
    const opt = new AdamW({ weightDecay: 0.5, maxGradNorm: 0 });
    const params: Params = { "model.norm.weight": o.fromArray([2, 2], [2]) };
    const res = opt.update(params, { "model.norm.weight": o.fromArray([0, 0], [2]) }, opt.init(params), 0.1);
    expect(Array.from(await toHost(res.params["model.norm.weight"]))).toEqual([2, 2]);
  });

  it("gives the bit-identical update whatever order the tree's names were inserted in (a resumed tree is sorted)", async () => {
    // Float32 sums depend on their order: with these gradients, a norm summed in insertion order is
    // 614.5350952 for a..e and 614.5351563 for c,a,e,b,d (found by search), and the clipped updates differ.
    const vals: Record<string, number[]> = {
      a: [0.2636888325214386, -131.41282653808594, -0.12081098556518555],
      b: [-110.06114196777344, 24.9718074798584, 267.3524475097656],
      c: [-28.777467727661133, 353.6727294921875, -21.15108871459961],
      d: [-10.559773445129395, -214.2078857421875, -21.495365142822266],
      e: [-4.44627046585083, -0.06657016277313232, -321.4519958496094],
    };
    const tree = (order: string[]): Params =>
      Object.fromEntries(order.map((k) => [k, o.fromArray(vals[k], [3])]));
    const opt = new AdamW({ maxGradNorm: 1, weightDecay: 0 });
    const run = async (order: string[]) => {
      const p = tree(order);
      const res = opt.update(p, tree(order), opt.init(p), 0.1);
      const params: Record<string, number[]> = {};
      for (const k of Object.keys(vals)) params[k] = Array.from(await toHost(res.params[k]));
      return { norm: (await res.gradNorm.data())[0], params };
    };
    const sorted = await run(["a", "b", "c", "d", "e"]);
    expect(await run(["c", "a", "e", "b", "d"])).toEqual(sorted);
    expect(await run(["e", "d", "c", "b", "a"])).toEqual(sorted);
  });

  it("minimises a quadratic through valueAndGrad", async () => {
    const opt = new AdamW({ weightDecay: 0, maxGradNorm: 0, beta2: 0.999 });
    let params: Params = { w: o.fromArray([3, -4], [2]) };
    let state = opt.init(params);
    const lossFn = valueAndGrad((p: Params) => tidy(() => o.sum(o.square(o.sub(p.w, 1)))));
    let first = 0;
    let last = 0;
    for (let i = 0; i < 200; i++) {
      const [loss, grads] = lossFn(refParams(params));
      const l = (await loss.data())[0];
      if (i === 0) first = l;
      last = l;
      const res = opt.update(params, grads as Params, state, 0.1);
      params = res.params;
      state = res.state;
      res.gradNorm.dispose();
    }
    expect(first).toBeGreaterThan(10);
    expect(last).toBeLessThan(0.01);
  });
});

describe("learningRate", () => {
  it("warms up linearly then decays by cosine to minLrRatio", () => {
    const c = { lr: 1, warmupSteps: 10, totalSteps: 110, decay: "cosine" as const, minLrRatio: 0.1 };
    expect(learningRate(c, 0)).toBeCloseTo(0.1);
    expect(learningRate(c, 9)).toBeCloseTo(1);
    expect(learningRate(c, 60)).toBeCloseTo(0.55);
    expect(learningRate(c, 110)).toBeCloseTo(0.1);
    expect(learningRate({ ...c, decay: "linear" }, 60)).toBeCloseTo(0.55);
    expect(learningRate({ ...c, decay: "constant" }, 100)).toBe(1);
  });
});
