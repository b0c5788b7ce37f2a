// AdamW on the host (src/engine/adamw-host.ts): the Wasm SIMD kernel against a float32 scalar
// reference at chunk edges, and AdamW's host path (resident trees over hostUpdateBytes) against the
// compiled one-program update on onnxruntime.
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { type HostCoefs, adamwHost } from "../src/engine/adamw-host.ts";
import { initEngine } from "../src/engine/device.ts";
import { setExecutor } from "../src/engine/executor.ts";
import { AdamW, type AdamWConfig } from "../src/engine/optim.ts";
import { type Params, toHost } from "../src/engine/params.ts";
import { ResidentTensor } from "../src/engine/resident.ts";
import { Rng } from "../src/engine/rng.ts";

beforeAll(async () => {
  await initEngine({ device: "cpu", executor: "ort" });
});

const saved = AdamW.hostUpdateBytes;
afterEach(() => {
  AdamW.hostUpdateBytes = saved;
});

function randomArray(rng: Rng, n: number, scale: number, positive = false): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = positive ? Math.abs(rng.normal()) * scale : rng.normal() * scale;
  return a;
}

/** One element's update in float32, step by step as optim.ts's program does it. */
function scalarRef(p: number, g: number, m: number, v: number, k: HostCoefs): [number, number, number] {
  const f = Math.fround;
  const K = Object.fromEntries(Object.entries(k).map(([a, b]) => [a, f(b)])) as unknown as HostCoefs;
  const mi = f(f(m * K.beta1) + f(g * K.gm));
  const vi = f(f(v * K.beta2) + f(f(g * g) * K.gv));
  const den = f(f(f(Math.sqrt(vi)) * K.invSqrtBc2) + K.eps);
  return [f(f(p * K.decay) - f(f(mi * K.stepSize) / den)), mi, vi];
}

describe("adamwHost", () => {
  const k: HostCoefs = {
    beta1: 0.9,
    gm: 0.07,
    beta2: 0.95,
    gv: 0.03,
    invSqrtBc2: 1.7,
    eps: 1e-8,
    stepSize: 3e-3,
    decay: 0.9999,
  };
  for (const n of [1, 3, 4, 5, 16384, 16384 * 2 + 7]) {
    it(`equals the float32 reference for ${n} elements, in place and into new buffers`, () => {
      const rng = Rng.stream(n, "adamw-host");
      const [p, g, m] = [randomArray(rng, n, 1), randomArray(rng, n, 0.1), randomArray(rng, n, 0.01)];
      const v = randomArray(rng, n, 1e-3, true);
      const want = Array.from({ length: n }, (_, i) => scalarRef(p[i], g[i], m[i], v[i], k));
      const fresh = { p: new Float32Array(n), m: new Float32Array(n), v: new Float32Array(n) };
      adamwHost(p, g, m, v, fresh, k);
      adamwHost(p, g, m, v, { p, m, v }, k);
      for (const out of [fresh, { p, m, v }])
        for (let i = 0; i < n; i++) {
          expect(out.p[i]).toBe(want[i][0]);
          expect(out.m[i]).toBe(want[i][1]);
          expect(out.v[i]).toBe(want[i][2]);
        }
    });
  }

  it("names the lengths that differ", () => {
    const a = new Float32Array(4);
    expect(() => adamwHost(a, new Float32Array(3), a, a, { p: a, m: a, v: a }, k)).toThrow(/g 3/);
  });
});

describe("AdamW's host path (resident trees over hostUpdateBytes)", () => {
  const shapes: Record<string, number[]> = {
    "model.embed_tokens.weight": [37, 8],
    "model.layers.0.mlp.up_proj.weight": [16, 8],
    "model.layers.0.input_layernorm.weight": [8],
    "model.layers.1.self_attn.q_proj.bias": [13],
    "model.norm.weight": [8],
  };
  const tree = (rng: Rng, scale: number): Params =>
    Object.fromEntries(
      Object.entries(shapes).map(([k, s]) => {
        const n = s.reduce((a, b) => a * b, 1);
        return [k, new ResidentTensor(randomArray(rng, n, scale), s, "float32")];
      }),
    ) as unknown as Params;

  /** Three updates from the same start, on the host or as one compiled program. */
  async function run(host: boolean, config: Partial<AdamWConfig>) {
    setExecutor("ort");
    AdamW.hostUpdateBytes = host ? 0 : saved;
    const rng = Rng.stream(7, "adamw-host-tree");
    const opt = new AdamW(config);
    let params = tree(rng, 1);
    let state = opt.init(params);
    const norms: number[] = [];
    for (let s = 0; s < 3; s++) {
      const r = opt.update(params, tree(rng, 0.5), state, 1e-2 * (s + 1));
      norms.push((await r.gradNorm.data())[0]);
      params = r.params;
      state = r.state;
    }
    const read = async (t: Params) =>
      Object.fromEntries(
        await Promise.all(Object.entries(t).map(async ([k, a]) => [k, Float32Array.from(await toHost(a))])),
      );
    return { norms, p: await read(params), m: await read(state.m), v: await read(state.v) };
  }

  // The compiled program's parameters differ from the float32 formula in the last bit for a few
  // elements (onnxruntime's optimized graph), the host's do not (the kernel test above): moments
  // are compared bit for bit without clipping, parameters to 1e-6.
  it("equals the compiled update: moments bit for bit without clipping, parameters to 1e-6", async () => {
    for (const config of [{ maxGradNorm: 0 }, { maxGradNorm: 1e9, weightDecay: 0.1 }, { maxGradNorm: 0.5 }]) {
      const a = await run(false, config);
      const b = await run(true, config);
      for (let s = 0; s < 3; s++) expect(b.norms[s]).toBeCloseTo(a.norms[s], 5);
      for (const part of ["p", "m", "v"] as const)
        for (const name of Object.keys(shapes)) {
          const [x, y] = [a[part][name], b[part][name]];
          const exact = part !== "p" && config.maxGradNorm !== 0.5;
          for (let i = 0; i < x.length; i++)
            if (exact) expect(y[i]).toBe(x[i]);
            else expect(Math.abs(y[i] - x[i])).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(x[i])));
        }
    }
  });

  it("writes in place only the buffers no one else holds", () => {
    setExecutor("ort");
    AdamW.hostUpdateBytes = 0;
    const rng = Rng.stream(3, "adamw-host-refs");
    const opt = new AdamW({});
    const params = tree(rng, 1);
    const state = opt.init(params);
    const kept = params["model.norm.weight"] as unknown as ResidentTensor;
    const before = Float32Array.from(kept.host);
    kept.ref; // a second owner: its buffer must not change
    const embed = params["model.embed_tokens.weight"] as unknown as ResidentTensor;
    const r = opt.update(params, tree(rng, 0.5), state, 1e-2);
    expect(Array.from(kept.host)).toEqual(Array.from(before));
    const newNorm = r.params["model.norm.weight"] as unknown as ResidentTensor;
    expect(newNorm.host).not.toBe(kept.host);
    expect(Array.from(newNorm.host)).not.toEqual(Array.from(before));
    expect((r.params["model.embed_tokens.weight"] as unknown as ResidentTensor).host).toBe(embed.host);
  });
});
