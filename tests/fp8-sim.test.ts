// The FP8 simulation (src/engine/fp8-sim.ts): E4M3/E5M2 round-to-nearest-even casts against
// hand-computed values and against every code of the formats (decoded by dtypes.ts), the tile and
// block scale shapes and values, and the simulated GEMM: small error with fine-grained scaling,
// much larger error with per-tensor scaling when activations have outliers, the gain from
// promoting partial sums every 128 elements under a 14-bit accumulator, and the STE gradient.
import { beforeAll, describe, expect, it } from "vitest";
import { bf16BitsToFloat, decodeFloat32, e4m3ToFloat, floatToBf16Bits } from "../src/engine/dtypes.ts";
import {
  blockScales,
  castFp8,
  FP8_FORMATS,
  type Fp8Format,
  fp8Linear,
  quantize,
  quantizeBf16,
  tensorScales,
  tileScales,
  truncateBits,
} from "../src/engine/fp8-sim.ts";
import { initEngine, ops as o, tidy, toHost } from "../src/engine/index.ts";
import { jit, valueAndGrad } from "../src/engine/jax.ts";

beforeAll(async () => {
  await initEngine({ device: "cpu" });
});

async function cast(values: number[], fmt: Fp8Format): Promise<number[]> {
  const out = tidy(() => castFp8(o.fromArray(values, [values.length]), fmt));
  return Array.from(await out.data());
}

/** Deterministic N(0,1)-ish values (sum of uniforms) from an LCG. */
function randn(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  const u = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  for (let i = 0; i < n; i++) out[i] = u() + u() + u() + u() - 2;
  return out;
}

/** Host reference y = x w^T in float64.  x [M, K], w [N, K]. */
function refGemm(x: Float32Array, w: Float32Array, M: number, N: number, K: number): Float64Array {
  const y = new Float64Array(M * N);
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += x[m * K + k] * w[n * K + k];
      y[m * N + n] = s;
    }
  return y;
}

const relErr = (a: ArrayLike<number>, b: ArrayLike<number>, from = 0, to = a.length) => {
  let num = 0;
  let den = 0;
  for (let i = from; i < to; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
};

describe("FP8 casts", () => {
  it("E4M3: hand-computed values (subnormals, ties to even, max, saturation, NaN)", async () => {
    const cases: [number, number][] = [
      [0, 0],
      [1, 1],
      [2 ** -9, 2 ** -9], // smallest subnormal
      [2 ** -10, 0], // half of it: tie, to even (0)
      [3 * 2 ** -10, 2 ** -8], // 1.5 steps: tie between 1 and 2 steps, to 2
      [0.7 * 2 ** -9, 2 ** -9],
      [7 * 2 ** -9, 7 * 2 ** -9], // largest subnormal
      [2 ** -6, 2 ** -6], // smallest normal
      [1.0625, 1], // tie between 1 (m=0) and 1.125 (m=1)
      [1.1875, 1.25], // tie between 1.125 (m=1) and 1.25 (m=2)
      [1.2, 1.25],
      [-1.1875, -1.25],
      [232, 224], // step 16 in [128, 256): tie between 224 (m=6) and 240 (m=7)
      [240, 240],
      [432, 448], // tie between 416 (m=5) and 448 (m=6)
      [448, 448],
      [460, 448], // saturates (no 480 in e4m3fn)
      [1e6, 448],
      [-500, -448],
      [Number.POSITIVE_INFINITY, 448],
      [Number.NEGATIVE_INFINITY, -448],
    ];
    const got = await cast(
      cases.map((c) => c[0]),
      "e4m3",
    );
    expect(got).toEqual(cases.map((c) => c[1]));
    expect(Number.isNaN((await cast([Number.NaN], "e4m3"))[0])).toBe(true);
  });

  it("E5M2: hand-computed values", async () => {
    const cases: [number, number][] = [
      [2 ** -16, 2 ** -16], // smallest subnormal
      [2 ** -17, 0],
      [3 * 2 ** -17, 2 ** -15],
      [3 * 2 ** -16, 3 * 2 ** -16], // a subnormal with odd mantissa
      [2 ** -14, 2 ** -14], // smallest normal
      [1.125, 1], // tie between 1 (m=0) and 1.25 (m=1)
      [1.375, 1.5], // tie between 1.25 (m=1) and 1.5 (m=2)
      [-3.3, -3.5],
      [57344, 57344],
      [61440, 57344], // halfway to 2^16 (inf in E5M2): saturates
      [1e9, 57344],
      [Number.NEGATIVE_INFINITY, -57344],
    ];
    const got = await cast(
      cases.map((c) => c[0]),
      "e5m2",
    );
    expect(got).toEqual(cases.map((c) => c[1]));
  });

  for (const fmt of ["e4m3", "e5m2"] as const) {
    it(`${fmt}: every finite code is kept; every midpoint goes to the neighbour with an even mantissa`, async () => {
      // Positive finite codes in increasing order, decoded by dtypes.ts (an independent decoder).
      const codes = Array.from({ length: 128 }, (_, b) => b);
      const vals =
        fmt === "e4m3"
          ? codes.map(e4m3ToFloat)
          : Array.from(decodeFloat32("F8_E5M2", Uint8Array.from(codes)));
      const finite = codes.filter((b) => Number.isFinite(vals[b]));
      expect(Math.max(...finite.map((b) => vals[b]))).toBe(FP8_FORMATS[fmt].max);
      expect(
        await cast(
          finite.map((b) => vals[b]),
          fmt,
        ),
      ).toEqual(finite.map((b) => vals[b]));
      const mids = finite.slice(0, -1).map((b) => (vals[b] + vals[b + 1]) / 2);
      const even = finite.slice(0, -1).map((b) => (b % 2 === 0 ? vals[b] : vals[b + 1]));
      expect(await cast(mids, fmt)).toEqual(even);
      // Just off the midpoints: plain nearest.
      const below = finite.slice(0, -1).map((b) => vals[b] + (vals[b + 1] - vals[b]) * 0.499);
      expect(await cast(below, fmt)).toEqual(finite.slice(0, -1).map((b) => vals[b]));
    });
  }

  it("runs the same under jit, and the straight-through gradient is 1", async () => {
    const xs = Array.from(randn(64, 3)).map((v) => v * 100);
    const eager = await cast(xs, "e4m3");
    const f = jit((x: o.Arr) => castFp8(x, "e4m3"));
    expect(Array.from(await f(o.fromArray(xs, [64])).data())).toEqual(eager);
    const [val, g] = valueAndGrad((x: o.Arr) => tidy(() => o.sum(o.mul(quantize(x), 3))))(
      o.fromArray(xs, [64]),
    );
    expect((await val.data())[0]).toBeCloseTo(
      eager.reduce((s, v) => s + 3 * v, 0),
      2,
    );
    expect(Array.from(await g.data())).toEqual(xs.map(() => 3));
  });

  it("BF16 rounding (the baseline) matches dtypes.ts's floatToBf16Bits, under jit too", async () => {
    const xs = [
      ...Array.from(randn(200, 9)).map((v) => v * 1e3),
      1 + 2 ** -8,
      1 + 3 * 2 ** -8,
      -(1 + 2 ** -8),
      1e-30,
      2 ** -130,
      0,
    ];
    const want = xs.map((v) => bf16BitsToFloat(floatToBf16Bits(v)));
    const f = jit((x: o.Arr) => quantizeBf16(x));
    expect(Array.from((await f(o.fromArray(xs, [xs.length])).data()) as Float32Array)).toEqual(want);
    // Under autodiff tracing too (jax-js's uint32 `remainder` is wrong there; bit ops are not).
    const vg = jit(
      valueAndGrad((x: o.Arr) =>
        tidy(() =>
          o.sum(
            o.mul(
              quantizeBf16(x),
              o.fromArray(
                xs.map((_, i) => 2 ** -(i % 8)),
                [xs.length],
              ),
            ),
          ),
        ),
      ),
    );
    const [val, g] = vg(o.fromArray(xs, [xs.length])) as [o.Arr, o.Arr];
    expect((await val.data())[0]).toBeCloseTo(
      want.reduce((s, v, i) => s + v * 2 ** -(i % 8), 0),
      2,
    );
    expect(Array.from((await g.data()) as Float32Array)).toEqual(xs.map((_, i) => 2 ** -(i % 8)));
  });

  it("truncateBits keeps `bits` significant bits, toward zero", async () => {
    const xs = [
      1 + 2 ** -13 + 2 ** -14,
      -(1 + 2 ** -13 + 2 ** -14),
      3 * 2 ** 20 + 1,
      0,
      2 ** -3 * (1 + 2 ** -20),
    ];
    const out = tidy(() => truncateBits(o.fromArray(xs, [xs.length]), 14));
    const want = [1 + 2 ** -13, -(1 + 2 ** -13), 3 * 2 ** 20, 0, 2 ** -3];
    expect(Array.from(await out.data())).toEqual(want);
    const f = jit((a: o.Arr) => truncateBits(a, 14));
    expect(Array.from(await f(o.fromArray(xs, [xs.length])).data())).toEqual(want);
  });
});

describe("fine-grained scales", () => {
  it("tile scales are [.., M, ceil(K/128)], block scales [.., ceil(N/128), ceil(K/128)], with amax / 448", async () => {
    const M = 3;
    const K = 300;
    const x = randn(M * K, 5);
    x[1 * K + 200] = 50; // row 1, tile 1
    const ts = tidy(() => tileScales(o.fromArray(x, [M, K])));
    expect(ts.shape).toEqual([M, 3]);
    const tv = await toHost(ts);
    for (let m = 0; m < M; m++)
      for (let t = 0; t < 3; t++) {
        let amax = 0;
        for (let k = t * 128; k < Math.min(K, (t + 1) * 128); k++)
          amax = Math.max(amax, Math.abs(x[m * K + k]));
        expect(tv[m * 3 + t]).toBeCloseTo(amax / 448, 7);
      }
    expect(tv[1 * 3 + 1]).toBeCloseTo(50 / 448, 7);
    const w = randn(200 * K, 6);
    w[150 * K + 10] = -9; // row block 1, column block 0
    const bs = tidy(() => blockScales(o.fromArray(w, [200, K])));
    expect(bs.shape).toEqual([2, 3]);
    expect((await toHost(bs))[3]).toBeCloseTo(9 / 448, 7);
    const batched = tidy(() => blockScales(o.fromArray(randn(4 * 200 * K, 7), [4, 200, K]), "e5m2"));
    expect(batched.shape).toEqual([4, 2, 3]);
    const ten = tidy(() => tensorScales(o.fromArray(w, [200, K])));
    expect(ten.shape).toEqual([1, 1]);
    expect((await ten.data())[0]).toBeCloseTo(9 / 448, 7);
    for (const a of [ts, bs, batched]) a.dispose();
  });
});

describe("FP8 GEMM simulation", () => {
  const M = 48;
  const N = 64;
  const K = 384;
  const x = randn(M * K, 11);
  const w = randn(N * K, 12).map((v) => v * 0.05);
  // Outliers: a few tokens carry one huge channel each (as in LLM activations).
  const xo = Float32Array.from(x);
  for (const m of [0, 1, 2]) xo[m * K + 7 + m * 50] = 2e5;

  async function gemm(xv: Float32Array, opts: Parameters<typeof fp8Linear>[2]): Promise<Float32Array> {
    const y = tidy(() => fp8Linear(o.fromArray(xv, [M, K]), o.fromArray(w, [N, K]), opts));
    return (await y.data()) as Float32Array;
  }

  it("tile/block scaling: a few percent from FP32; per-tensor scaling is much worse with outliers", async () => {
    const ref = refGemm(x, w, M, N, K);
    const tile = relErr(await gemm(x, { scaling: "tile" }), ref);
    const tensor = relErr(await gemm(x, { scaling: "tensor" }), ref);
    expect(tile).toBeGreaterThan(1e-3); // it does quantise
    expect(tile).toBeLessThan(0.05);
    expect(tensor).toBeLessThan(0.05);
    // Error on the tokens without outliers (rows 3..M-1).
    const refO = refGemm(xo, w, M, N, K);
    const tileO = relErr(await gemm(xo, { scaling: "tile" }), refO, 3 * N);
    const tensorO = relErr(await gemm(xo, { scaling: "tensor" }), refO, 3 * N);
    expect(tileO).toBeLessThan(0.05);
    expect(tensorO).toBeGreaterThan(5 * tileO);
    // E5M2 (2 mantissa bits) is coarser than E4M3.
    expect(relErr(await gemm(x, { scaling: "tile", format: "e5m2" }), ref)).toBeGreaterThan(1.5 * tile);
  });

  it("with a 14-bit accumulator, promoting partial sums every 128 elements beats one long accumulation", async () => {
    const Kl = 4096;
    const xa = randn(8 * Kl, 21).map(Math.abs);
    const wa = randn(8 * Kl, 22).map(Math.abs);
    const run = async (chunk: number, bits?: number) => {
      const f = jit((a: o.Arr, b: o.Arr) =>
        fp8Linear(a, b, { scaling: "tensor", chunk, accumulatorBits: bits }),
      );
      return (await f(o.fromArray(xa, [8, Kl]), o.fromArray(wa, [8, Kl])).data()) as Float32Array;
    };
    const exact = await run(128); // FP8 inputs, FP32 accumulation
    const long = relErr(await run(Kl, 14), exact);
    const promoted = relErr(await run(128, 14), exact);
    expect(long).toBeGreaterThan(1e-3);
    expect(promoted).toBeLessThan(long / 5);
  });

  it("jit gives the eager result; the gradient is the straight-through one (dx = dy . Wq)", async () => {
    const Mx = 4;
    const xs = o.fromArray(x.subarray(0, Mx * K), [Mx, K]);
    const ws = o.fromArray(w, [N, K]);
    const eager = await toHost(tidy(() => fp8Linear(xs, ws, { scaling: "tile" })));
    const jitted = jit((a: o.Arr, b: o.Arr) => fp8Linear(a, b, { scaling: "tile" }));
    expect(Array.from(await jitted(xs.ref, ws.ref).data())).toEqual(Array.from(eager));
    const dx = valueAndGrad((a: o.Arr) => tidy(() => o.sum(fp8Linear(a, ws, { scaling: "tile" }))))(
      xs.ref,
    )[1];
    // Wq: each 128x128 block of w cast with its own scale; dx[m, k] = sum_n Wq[n, k].
    const wq = tidy(() => {
      const parts = [0, 128, 256].map((k0) => {
        const wc = o.slice(ws, null, [k0, k0 + 128]);
        const s = blockScales(wc); // [1, 1]: N = 64 rows, one block
        return o.mul(castFp8(o.div(wc, s)), s);
      });
      return o.sum(o.concat(parts, -1), 0);
    });
    const want = Array.from((await wq.data()) as Float32Array);
    const got = Array.from((await dx.data()) as Float32Array);
    for (let k = 0; k < K; k++) for (let m = 0; m < Mx; m++) expect(got[m * K + k]).toBeCloseTo(want[k], 5);
    xs.dispose();
    ws.dispose();
  });

  it("batched expert weights [E, N, K] give each expert's own GEMM, for x [M, K] and x [E, M, K]", async () => {
    const E = 3;
    const we = randn(E * N * K, 31).map((v) => v * 0.05);
    const xe = randn(E * M * K, 32);
    const wArr = o.fromArray(we, [E, N, K]);
    const shared = await toHost(tidy(() => fp8Linear(o.fromArray(x, [M, K]), wArr, { scaling: "tile" })));
    const per = await toHost(tidy(() => fp8Linear(o.fromArray(xe, [E, M, K]), wArr, { scaling: "tensor" })));
    for (let e = 0; e < E; e++) {
      const wOne = o.fromArray(we.subarray(e * N * K, (e + 1) * N * K), [N, K]);
      const a = await toHost(tidy(() => fp8Linear(o.fromArray(x, [M, K]), wOne, { scaling: "tile" })));
      const b = await toHost(
        tidy(() =>
          fp8Linear(o.fromArray(xe.subarray(e * M * K, (e + 1) * M * K), [M, K]), wOne, {
            scaling: "tensor",
          }),
        ),
      );
      expect(Array.from(shared.subarray(e * M * N, (e + 1) * M * N))).toEqual(Array.from(a));
      expect(Array.from(per.subarray(e * M * N, (e + 1) * M * N))).toEqual(Array.from(b));
      wOne.dispose();
    }
    wArr.dispose();
  });

  it("refuses mismatched shapes and tile scaling with another promotion interval", () => {
    const a = o.fromArray(new Float32Array(8), [2, 4]);
    const b = o.fromArray(new Float32Array(6), [2, 3]);
    expect(() => tidy(() => fp8Linear(a, b, { scaling: "tile" }))).toThrow(/inner dimension K/);
    expect(() => tidy(() => fp8Linear(a, a, { scaling: "tile", chunk: 64 }))).toThrow(/chunk = 128/);
    a.dispose();
    b.dispose();
  });
});
