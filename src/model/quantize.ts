// Weight-only quantisation of the linear layers, for serving: what decides whether a model fits in
// a laptop's memory. Two schemes, both with float32 compute (weights are dequantised inside the
// jitted step, so activations, norms, attention and the KV cache stay float32):
//   int8: per output channel, symmetric: scale = max|w_row| / 127, q = round(w / scale) in [-127, 127].
//   int4: block-wise along the input dimension, asymmetric (as ORT's MatMulNBits and GPTQ store them):
//         each block of `group` (32 or 128) inputs of a row has scale = (max - min) / 15 and a zero
//         point zp = round(-min / scale) in [0, 15]; q = clamp(round(w / scale) + zp, 0, 15).
//         Dequantised: (q - zp) * scale.
// jax-js has no 8-bit dtype, so codes are packed into uint32 words, low bits first: four int8 codes
// (stored as q + 128) or eight int4 codes per word, along the input dimension.
// A quantised weight replaces its float32 array in the parameter tree by {q8 | q4, scale, zero?}
// (shapes: packed [out, in / (32 / bits)], scale [out, blocks], zero [out, blocks]); the model's
// linear() (linear.ts) and the few places that read a weight directly call weightOf(), which
// dequantises. Quantised: every 2-D projection weight of attention, MLA and the FFNs (experts
// included); kept float32: embeddings, the output head, norms, the MoE router and the MTP projection.
import * as o from "../engine/ops.ts";
import { keep } from "../engine/scope.ts";
import { type Params, toHost } from "../engine/params.ts";

export type QuantizeMode = "none" | "int8" | "int4";
export const QUANTIZE_MODES: readonly QuantizeMode[] = ["none", "int8", "int4"];

/** A quantised weight as it sits in a parameter tree (see the file header). */
export interface QuantWeight {
  q8?: o.Arr;
  q4?: o.Arr;
  scale: o.Arr;
  zero?: o.Arr;
}

export function isQuantized(w: unknown): w is QuantWeight {
  return typeof w === "object" && w !== null && "scale" in w && ("q8" in w || "q4" in w);
}

/** The float32 weight [out, in] of a weight that may be quantised. */
export function weightOf(w: o.Arr | QuantWeight): o.Arr {
  if (!isQuantized(w)) return w;
  const bits = w.q8 ? 8 : 4;
  const packed = (w.q8 ?? w.q4)!;
  const [out, words] = packed.shape;
  const per = 32 / bits;
  const mask = (1 << bits) - 1;
  const codes: o.Arr[] = [];
  for (let k = 0; k < per; k++) {
    // Integer constants: jax-js would read a plain JS number as float32.
    const shifted = k === 0 ? packed : o.rightShift(packed, o.full([], bits * k, "uint32"));
    codes.push(o.astype(o.bitwiseAnd(shifted, o.full([], mask, "uint32")), "float32"));
  }
  const inDim = words * per;
  const q = o.reshape(o.stack(codes, -1), [out, inDim]); // [out, words, per] -> [out, in]
  if (bits === 8) return o.mul(o.sub(q, 128), w.scale);
  const blocks = w.scale.shape[1];
  const g = o.reshape(q, [out, blocks, inDim / blocks]);
  const deq = o.mul(o.sub(g, o.reshape(w.zero!, [out, blocks, 1])), o.reshape(w.scale, [out, blocks, 1]));
  return o.reshape(deq, [out, inDim]);
}

/** Whether the parameter `name` ([out, in]) is a projection that gets quantised. */
export function isQuantizable(name: string, shape: readonly number[]): boolean {
  if (shape.length !== 2) return false;
  return /\.(q_proj|k_proj|v_proj|o_proj|q_a_proj|q_b_proj|kv_a_proj_with_mqa|kv_b_proj|gate_proj|up_proj|down_proj)\.weight$/.test(
    name,
  );
}

export interface HostQuant {
  packed: Uint32Array;
  scale: Float32Array;
  zero: Float32Array | null;
}

/** int8 per-channel codes of w [out, in] (in divisible by 4). */
export function quantizeInt8(w: Float32Array, out: number, inDim: number): HostQuant {
  const packed = new Uint32Array((out * inDim) / 4);
  const scale = new Float32Array(out);
  for (let r = 0; r < out; r++) {
    let amax = 0;
    for (let i = 0; i < inDim; i++) amax = Math.max(amax, Math.abs(w[r * inDim + i]));
    const s = amax > 0 ? amax / 127 : 1;
    scale[r] = s;
    for (let i = 0; i < inDim; i++) {
      const q = Math.max(-127, Math.min(127, Math.round(w[r * inDim + i] / s))) + 128;
      packed[(r * inDim + i) >> 2] |= q << (8 * (i & 3));
    }
  }
  return { packed, scale, zero: null };
}

/** int4 block-wise codes of w [out, in] (in divisible by group, group divisible by 8). */
export function quantizeInt4(w: Float32Array, out: number, inDim: number, group: number): HostQuant {
  const blocks = inDim / group;
  const packed = new Uint32Array((out * inDim) / 8);
  const scale = new Float32Array(out * blocks);
  const zero = new Float32Array(out * blocks);
  for (let r = 0; r < out; r++) {
    for (let b = 0; b < blocks; b++) {
      const base = r * inDim + b * group;
      let lo = 0;
      let hi = 0; // the range always holds 0, so 0 is exact
      for (let i = 0; i < group; i++) {
        lo = Math.min(lo, w[base + i]);
        hi = Math.max(hi, w[base + i]);
      }
      const s = hi > lo ? (hi - lo) / 15 : 1;
      const zp = Math.max(0, Math.min(15, Math.round(-lo / s)));
      scale[r * blocks + b] = s;
      zero[r * blocks + b] = zp;
      for (let i = 0; i < group; i++) {
        const q = Math.max(0, Math.min(15, Math.round(w[base + i] / s) + zp));
        const at = base + i;
        packed[at >> 3] = (packed[at >> 3] | (q << (4 * (at & 7)))) >>> 0;
      }
    }
  }
  return { packed, scale, zero };
}

/** Host-side dequantisation (tests and error reports). */
export function dequantizeHost(q: HostQuant, out: number, inDim: number, bits: 8 | 4): Float32Array {
  const w = new Float32Array(out * inDim);
  const per = 32 / bits;
  const blocks = q.scale.length / out;
  for (let r = 0; r < out; r++)
    for (let i = 0; i < inDim; i++) {
      const at = r * inDim + i;
      const code = (q.packed[Math.floor(at / per)] >>> (bits * (at % per))) & ((1 << bits) - 1);
      const b = r * blocks + Math.floor(i / (inDim / blocks));
      w[at] = bits === 8 ? (code - 128) * q.scale[r] : (code - q.zero![b]) * q.scale[b];
    }
  return w;
}

export interface QuantReport {
  mode: QuantizeMode;
  groupSize: number | null;
  quantized: number;
  /** Weights left in float32 because their input size does not divide into blocks. */
  skipped: string[];
  bytesBefore: number;
  bytesAfter: number;
  /** The quantised weights alone: float32 bytes before, codes + scales + zero points after. */
  linearBytesBefore: number;
  linearBytesAfter: number;
}

/**
 * Quantise the projections of a parameter tree (the float32 arrays they replace are freed).
 * Returns the new tree and what it saved.
 */
export async function quantizeParams(
  p: Params,
  opts: { mode: QuantizeMode; groupSize?: number },
): Promise<{ params: Params; report: QuantReport }> {
  const group = opts.groupSize ?? 32;
  if (opts.mode === "int4" && group !== 32 && group !== 128)
    throw new Error(`int4 group size must be 32 or 128, got ${group}`);
  const out: Params = {};
  const report: QuantReport = {
    mode: opts.mode,
    groupSize: opts.mode === "int4" ? group : null,
    quantized: 0,
    skipped: [],
    bytesBefore: 0,
    bytesAfter: 0,
    linearBytesBefore: 0,
    linearBytesAfter: 0,
  };
  for (const [name, a] of Object.entries(p)) {
    report.bytesBefore += a.size * 4;
    const [rows, cols] = a.shape;
    const fits = opts.mode === "int8" ? cols % 4 === 0 : cols % group === 0;
    if (opts.mode === "none" || !isQuantizable(name, a.shape) || !fits) {
      if (opts.mode !== "none" && isQuantizable(name, a.shape)) report.skipped.push(name);
      out[name] = a;
      report.bytesAfter += a.size * 4;
      continue;
    }
    const host = (await toHost(a)) as Float32Array;
    const q = opts.mode === "int8" ? quantizeInt8(host, rows, cols) : quantizeInt4(host, rows, cols, group);
    a.dispose();
    const packed = keep(
      o.fromArray(q.packed as unknown as Int32Array, [rows, q.packed.length / rows], "uint32"),
    );
    const blocks = q.scale.length / rows;
    const w: QuantWeight = {
      [opts.mode === "int8" ? "q8" : "q4"]: packed,
      scale: keep(o.fromArray(q.scale, [rows, blocks])),
      ...(q.zero ? { zero: keep(o.fromArray(q.zero, [rows, blocks])) } : {}),
    } as QuantWeight;
    out[name] = w as unknown as o.Arr;
    report.quantized++;
    const bytes = q.packed.byteLength + q.scale.byteLength + (q.zero?.byteLength ?? 0);
    report.bytesAfter += bytes;
    report.linearBytesBefore += rows * cols * 4;
    report.linearBytesAfter += bytes;
  }
  return { params: out, report };
}
