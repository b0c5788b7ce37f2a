// Rotary position embeddings (Su et al. 2021) with the scalings Hugging Face configs use:
// default, linear, llama3 and YaRN (Peng et al. 2023, as in DeepSeek-V3's config). Tables are
// computed on the host in float64 and uploaded; application is on the device.
// Layouts: half-split pairs (x_i, x_{i+d/2}) (Llama/Qwen2) or interleaved pairs (x_2i, x_2i+1)
// (DeepSeek-V3). Interleaved inputs are first permuted to half-split, as transformers does, which
// leaves q.k unchanged because q and k get the same permutation.
import { type Arr, add, concat, fromArray, mul, neg, reshape, slice, transpose } from "../engine/ops.ts";
import type { ModelConfig, RopeScaling } from "./config.ts";

/** Inverse frequencies [dim/2] and the attention scale factor the scaling implies. */
export function ropeInvFreq(
  dim: number,
  theta: number,
  s: RopeScaling | null,
): { invFreq: Float64Array; attnFactor: number } {
  const half = dim / 2;
  const base = new Float64Array(half);
  for (let i = 0; i < half; i++) base[i] = 1 / theta ** ((2 * i) / dim);
  if (!s || s.ropeType === "default") return { invFreq: base, attnFactor: 1 };
  const factor = s.factor ?? 1;
  if (s.ropeType === "linear") return { invFreq: base.map((f) => f / factor), attnFactor: 1 };
  const orig = s.originalMaxPositionEmbeddings ?? 4096;
  if (s.ropeType === "llama3") {
    const low = s.lowFreqFactor ?? 1;
    const high = s.highFreqFactor ?? 4;
    const lowWav = orig / low;
    const highWav = orig / high;
    const out = base.map((f) => {
      const wav = (2 * Math.PI) / f;
      if (wav < highWav) return f;
      if (wav > lowWav) return f / factor;
      const smooth = (orig / wav - low) / (high - low);
      return (1 - smooth) * (f / factor) + smooth * f;
    });
    return { invFreq: out, attnFactor: 1 };
  }
  // YaRN: blend interpolated and extrapolated frequencies by a linear ramp over the dims whose
  // wavelength falls between beta_fast and beta_slow rotations in the original context.
  const betaFast = s.betaFast ?? 32;
  const betaSlow = s.betaSlow ?? 1;
  const corrDim = (rot: number) => (dim * Math.log(orig / (rot * 2 * Math.PI))) / (2 * Math.log(theta));
  const low = Math.max(Math.floor(corrDim(betaFast)), 0);
  const high = Math.min(Math.ceil(corrDim(betaSlow)), dim - 1);
  const out = new Float64Array(half);
  for (let i = 0; i < half; i++) {
    const ramp = Math.min(1, Math.max(0, (i - low) / (high === low ? high - low + 0.001 : high - low)));
    const extrapolation = 1 - ramp;
    out[i] = (base[i] / factor) * (1 - extrapolation) + base[i] * extrapolation;
  }
  const mscale = (scale: number, m: number) => (scale <= 1 ? 1 : 0.1 * m * Math.log(scale) + 1);
  const attnFactor =
    s.mscale && s.mscaleAllDim
      ? mscale(factor, s.mscale) / mscale(factor, s.mscaleAllDim)
      : mscale(factor, 1);
  return { invFreq: out, attnFactor };
}

/** cos/sin tables [T, dim] (half-split layout, frequencies repeated) for the given positions. */
export function ropeTables(positions: number[], dim: number, c: ModelConfig): { cos: Arr; sin: Arr } {
  const { invFreq, attnFactor } = ropeInvFreq(dim, c.ropeTheta, c.ropeScaling);
  const half = dim / 2;
  const cos = new Float32Array(positions.length * dim);
  const sin = new Float32Array(positions.length * dim);
  positions.forEach((p, t) => {
    for (let i = 0; i < half; i++) {
      const a = p * invFreq[i];
      cos[t * dim + i] = cos[t * dim + i + half] = Math.cos(a) * attnFactor;
      sin[t * dim + i] = sin[t * dim + i + half] = Math.sin(a) * attnFactor;
    }
  });
  return { cos: fromArray(cos, [positions.length, dim]), sin: fromArray(sin, [positions.length, dim]) };
}

/** [..., d] interleaved (x0,x1,x2,x3,..) -> half-split (x0,x2,..,x1,x3,..). */
export function deinterleave(x: Arr): Arr {
  const shape = x.shape;
  const d = shape[shape.length - 1];
  const lead = shape.slice(0, -1);
  const pairs = reshape(x, [...lead, d / 2, 2]);
  const perm = [...lead.map((_, i) => i), lead.length + 1, lead.length];
  return reshape(transpose(pairs, perm), [...lead, d]);
}

/**
 * Rotate x: [B, H, T, d] with cos/sin broadcastable to [.., T, d].
 * x*cos + rotate_half(x)*sin, rotate_half(x) = [-x2, x1].
 */
export function applyRope(x: Arr, cos: Arr, sin: Arr, interleaved: boolean): Arr {
  const xs = interleaved ? deinterleave(x) : x;
  const d = xs.shape[xs.shape.length - 1];
  const lead = xs.shape.slice(0, -1).map(() => null);
  const x1 = slice(xs, ...lead, [0, d / 2]);
  const x2 = slice(xs, ...lead, [d / 2, d]);
  const rotated = concat([neg(x2), x1], -1);
  return add(mul(xs, cos), mul(rotated, sin));
}

/** YaRN's softmax-scale correction for MLA: DeepSeek-V3 multiplies 1/sqrt(d) by mscale(factor, mscale_all_dim)^2. */
export function mlaSoftmaxScale(c: ModelConfig): number {
  const base = 1 / Math.sqrt(c.qkNopeHeadDim + c.qkRopeHeadDim);
  const s = c.ropeScaling;
  if (s?.ropeType !== "yarn" || !s.mscaleAllDim) return base;
  const factor = s.factor ?? 1;
  const m = factor <= 1 ? 1 : 0.1 * s.mscaleAllDim * Math.log(factor) + 1;
  return base * m * m;
}
