// FP8 training arithmetic simulated in float32 (DeepSeek-V3 §3.3, "FP8 mixed precision framework").
// Every op is a jax-js array op, so the simulation runs inside jit and autodiff on Wasm and WebGPU.
//
// Casts. castFp8(x, fmt) rounds float32 to the nearest value of the format, ties to even:
//   E4M3 ("e4m3fn"): 1|4|3, bias 7, max 448, min normal 2^-6, subnormal step 2^-9, no inf.
//   E5M2:            1|5|2, bias 15, max 57344, min normal 2^-14, subnormal step 2^-16.
// The quantum of |x| is 2^(e - mantissaBits) with e = max(floor(log2 |x|), minExp); e is found by
// comparing |x| with the exact power-of-two thresholds (no log2, whose float result is not exact),
// then |x| / quantum is rounded half-to-even (np.rint) and scaled back: both exact in float32.
// Policy: saturating (|x| > max and +-inf give +-max, as DeepSeek's and TransformerEngine's kernels
// never produce inf; the scales below keep |x / s| <= max anyway); NaN stays NaN; -0 may become +0.
//
// Scaling (the "fine-grained quantization" of DeepSeek-V3 §3.3.2): a GEMM input is divided by a
// scale s = amax / max before the cast and multiplied by it after.
//   activations x [..., M, K]: one scale per token per 128 channels (1x128 tiles) -> [..., M, ceil(K/128)]
//   weights     w [..., N, K]: one scale per 128x128 block                    -> [..., ceil(N/128), ceil(K/128)]
//   "tensor": one scale for the whole matrix (the usual per-tensor scaling, for contrast: one
//   outlier shrinks every other value towards the subnormals).
//
// GEMM (fp8Linear): y = x w^T with K split into 128-wide chunks; each chunk multiplies the FP8
// values, is dequantised by its tile x block scales (outer product s_x[m] s_w[n]) and added to a
// float32 accumulator: DeepSeek's promotion of partial sums to CUDA cores every N_C = 128 elements.
// Optionally the Tensor Core accumulator inside a chunk is limited to `accumulatorBits` significant
// bits (H800: about 14): products are summed in groups of `accumulatorGroup` and the running sum is
// truncated toward zero to that many bits after each group (a model of the alignment loss, not a
// bit-exact emulation of the hardware).
//
// BF16 (the baseline DeepSeek-V3 compares FP8 with): quantizeBf16 rounds float32 to bfloat16, ties to
// even, with float arithmetic (exact power-of-two quantum, then rint), equal to dtypes.ts's bit rounding.
//
// Gradients: straight-through estimator. The casts act as the identity in the backward pass and the
// scales carry no gradient, so Dgrad = dy . Wq and Wgrad = dy^T . Xq (Xq, Wq: the dequantised FP8
// inputs of the forward GEMM) in float32. DeepSeek-V3 also casts dy to E4M3 for those two GEMMs; that
// needs a custom backward rule, which jax-js 0.1.25 does not offer, so dy stays float32 here.
import { numpy as np } from "./jax.ts";
import {
  type Arr,
  abs,
  add,
  broadcastTo,
  clip,
  concat,
  div,
  greater,
  greaterEqual,
  less,
  matmul,
  max,
  maximum,
  mul,
  neg,
  reshape,
  slice,
  stopGradient,
  sub,
  swapaxes,
  where,
  zeros,
} from "./ops.ts";
import { track } from "./scope.ts";

export type Fp8Format = "e4m3" | "e5m2";
export type Fp8Scaling = "tile" | "tensor";

export const FP8_FORMATS: Record<
  Fp8Format,
  { max: number; mantissaBits: number; minExp: number; maxExp: number }
> = {
  e4m3: { max: 448, mantissaBits: 3, minExp: -6, maxExp: 8 },
  e5m2: { max: 57344, mantissaBits: 2, minExp: -14, maxExp: 15 },
};

/** DeepSeek-V3's tile width and weight block size, and the promotion interval N_C. */
export const FP8_TILE = 128;

const rint = (a: Arr): Arr => track(np.rint(a.ref));
const floor = (a: Arr): Arr => track(np.floor(a.ref));

/** Round to the nearest FP8 value (ties to even), saturating at +-max. Forward only: see quantize(). */
export function castFp8(x: Arr, fmt: Fp8Format = "e4m3"): Arr {
  const f = FP8_FORMATS[fmt];
  const a = clip(abs(x), 0, f.max);
  let quantum: Arr | number = 2 ** (f.minExp - f.mantissaBits); // subnormals and the first binade
  for (let e = f.minExp + 1; e <= f.maxExp; e++)
    quantum = where(greaterEqual(a, 2 ** e), 2 ** (e - f.mantissaBits), quantum);
  const r = mul(rint(div(a, quantum)), quantum);
  return where(less(x, 0), neg(r), r);
}

/** castFp8 in the forward pass, the identity in the backward pass (straight-through estimator). */
export function quantize(x: Arr, fmt: Fp8Format = "e4m3"): Arr {
  return add(x, stopGradient(sub(castFp8(x, fmt), x)));
}

/**
 * Round float32 to bfloat16 (ties to even; finite inputs), with a straight-through gradient.
 * Arithmetic, not bit operations, so that every executor can run it (ONNX has no bitcast): with
 * p = 2^floor(log2 |x|) (pow2Floor; 2^-126 at least: bfloat16 subnormals), bfloat16's quantum is
 * p / 2^7, so |x| / p * 2^7 is rounded half-to-even and scaled back; every step is exact in float32.
 */
export function quantizeBf16(x: Arr): Arr {
  const m = abs(stopGradient(x));
  // Never divide by a subnormal quantum (its reciprocal overflows): scale by p, then by 2^7.
  const p = maximum(pow2Floor(m), 2 ** -126);
  const r = mul(mul(rint(mul(div(m, p), 2 ** 7)), 2 ** -7), p);
  const y = where(less(x, 0), neg(r), r);
  return add(x, stopGradient(sub(y, x)));
}

/** 2^floor(log2 m) for m >= 0 (0 for 0): Veltkamp's split rounds m to one significant bit, exactly. */
function pow2Floor(m: Arr): Arr {
  const scale = where(greater(m, 2 ** 64), 2 ** -64, 1); // keeps m (2^23 + 1) finite
  const ms = mul(m, scale);
  const big = mul(ms, 2 ** 23 + 1);
  let p = sub(big, sub(big, ms)); // 2^e or 2^(e+1)
  p = where(greater(p, ms), mul(p, 0.5), p);
  return div(p, scale);
}

/** Scale amax / max (amax floored at 1e-12 so an all-zero tile gets a finite scale); no gradient. */
function scaleOf(amax: Arr, fmt: Fp8Format): Arr {
  return stopGradient(div(maximum(amax, 1e-12), FP8_FORMATS[fmt].max));
}

/** Pad axis `axis` (negative) of x with zeros up to a multiple of n. */
function padTo(x: Arr, axis: number, n: number): Arr {
  const len = x.shape[x.shape.length + axis];
  const extra = Math.ceil(len / n) * n - len;
  if (extra === 0) return x;
  const shape = [...x.shape];
  shape[shape.length + axis] = extra;
  return concat([x, zeros(shape)], axis);
}

/** 1x128 tile scales of activations x [..., M, K] -> [..., M, ceil(K/128)]. */
export function tileScales(x: Arr, fmt: Fp8Format = "e4m3"): Arr {
  const xp = padTo(abs(x), -1, FP8_TILE);
  const lead = xp.shape.slice(0, -1);
  const K = xp.shape[xp.shape.length - 1];
  return scaleOf(max(reshape(xp, [...lead, K / FP8_TILE, FP8_TILE]), -1), fmt);
}

/** 128x128 block scales of weights w [..., N, K] -> [..., ceil(N/128), ceil(K/128)]. */
export function blockScales(w: Arr, fmt: Fp8Format = "e4m3"): Arr {
  const wp = padTo(padTo(abs(w), -1, FP8_TILE), -2, FP8_TILE);
  const lead = wp.shape.slice(0, -2);
  const [N, K] = wp.shape.slice(-2);
  const blocks = reshape(wp, [...lead, N / FP8_TILE, FP8_TILE, K / FP8_TILE, FP8_TILE]);
  return scaleOf(max(blocks, [-3, -1]), fmt);
}

/** One scale per matrix (the last two axes) of x [..., R, C] -> [..., 1, 1]. */
export function tensorScales(x: Arr, fmt: Fp8Format = "e4m3"): Arr {
  return scaleOf(max(abs(x), [-2, -1], { keepdims: true }), fmt);
}

/** Expand per-row-block scales [..., nb, 1] to per-row [..., N, 1]. */
function rowsOfBlocks(s: Arr, N: number): Arr {
  const lead = s.shape.slice(0, -2);
  const nb = s.shape[s.shape.length - 2];
  const rows = reshape(broadcastTo(reshape(s, [...lead, nb, 1, 1]), [...lead, nb, FP8_TILE, 1]), [
    ...lead,
    nb * FP8_TILE,
    1,
  ]);
  return slice(rows, ...lead.map(() => null), [0, N], null);
}

/** Truncate toward zero to `bits` significant bits (Veltkamp split for the leading power of two; exact on Wasm). */
export function truncateBits(a: Arr, bits: number): Arr {
  const m = abs(a);
  const big = mul(m, 2 ** 23 + 1); // round m to 1 significant bit: a power of two, 2^e or 2^(e+1)
  let p = sub(big, sub(big, m));
  p = where(greater(p, m), mul(p, 0.5), p); // 2^floor(log2 m)
  const ulp = maximum(mul(p, 2 ** (1 - bits)), 2 ** -126);
  const t = mul(floor(div(m, ulp)), ulp);
  return where(less(a, 0), neg(t), t);
}

export interface Fp8GemmOptions {
  scaling: Fp8Scaling;
  /** Format of both inputs (default e4m3, as DeepSeek-V3 for every GEMM). */
  format?: Fp8Format;
  /** Promotion interval N_C: K elements per float32 partial sum (default 128). */
  chunk?: number;
  /** Significant bits of the accumulator inside a chunk (default: float32, no limit). */
  accumulatorBits?: number;
  /** Products summed exactly before each truncation of the running sum (default 32). */
  accumulatorGroup?: number;
}

/** Simulated FP8 GEMM y = x w^T.  x: [..., M, K], w: [..., N, K] (leading axes broadcast) -> [..., M, N]. */
export function fp8Linear(x: Arr, w: Arr, o: Fp8GemmOptions): Arr {
  const fmt = o.format ?? "e4m3";
  const chunk = o.chunk ?? FP8_TILE;
  const K = x.shape[x.shape.length - 1];
  if (w.shape[w.shape.length - 1] !== K)
    throw new Error(`fp8Linear: x [${x.shape}] and w [${w.shape}] disagree on the inner dimension K`);
  if (o.scaling === "tile" && chunk !== FP8_TILE)
    throw new Error(`fp8Linear: tile scaling needs chunk = ${FP8_TILE} (one scale per chunk), got ${chunk}`);
  const xl = x.shape.slice(0, -1).map(() => null);
  const wl = w.shape.slice(0, -1).map(() => null);
  const sxT = o.scaling === "tensor" ? tensorScales(x, fmt) : null;
  const swT = o.scaling === "tensor" ? tensorScales(w, fmt) : null;
  let acc: Arr | null = null;
  for (let k0 = 0; k0 < K; k0 += chunk) {
    const k1 = Math.min(K, k0 + chunk);
    const xc = slice(x, ...xl, [k0, k1]);
    const wc = slice(w, ...wl, [k0, k1]);
    // Scales of this chunk: [..., M, 1] and [..., N, 1] (constant over the chunk's K elements).
    const sx = sxT ?? tileScales(xc, fmt);
    const sw = swT ?? rowsOfBlocks(blockScales(wc, fmt), w.shape[w.shape.length - 2]);
    let xf = quantize(div(xc, sx), fmt);
    // jax-js 0.1.25's matmul puts a 2-D left operand's rows before a 3-D right operand's batch axis
    // ([M,k] @ [E,k,N] -> [M,E,N]); broadcast x to w's leading axes first to get NumPy's [E,M,N].
    if (w.shape.length > xf.shape.length)
      xf = broadcastTo(xf, [...w.shape.slice(0, -2), ...xf.shape.slice(-2)]);
    const wf = swapaxes(quantize(div(wc, sw), fmt), -1, -2);
    const part = o.accumulatorBits
      ? limitedMatmul(xf, wf, o.accumulatorBits, o.accumulatorGroup ?? 32)
      : matmul(xf, wf);
    const deq = mul(mul(part, sx), swapaxes(sw, -1, -2));
    acc = acc ? add(acc, deq) : deq;
  }
  if (!acc) throw new Error(`fp8Linear: empty inner dimension (x [${x.shape}])`);
  return acc;
}

/** a [..., M, k] @ b [..., k, N] with the running sum truncated to `bits` bits after each group of products. */
function limitedMatmul(a: Arr, b: Arr, bits: number, group: number): Arr {
  const k = a.shape[a.shape.length - 1];
  const al = a.shape.slice(0, -1).map(() => null);
  const bl = b.shape.slice(0, -2).map(() => null);
  let acc: Arr | null = null;
  for (let g0 = 0; g0 < k; g0 += group) {
    const g1 = Math.min(k, g0 + group);
    const p = matmul(slice(a, ...al, [g0, g1]), slice(b, ...bl, [g0, g1], null));
    const s = acc ? add(acc, p) : p;
    acc = add(s, stopGradient(sub(truncateBits(s, bits), s)));
  }
  return acc as Arr;
}
