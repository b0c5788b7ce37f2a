// The model's GEMMs (y = x W^T) in one place, so that training can run them through the FP8
// simulation (engine/fp8-sim.ts) the way DeepSeek-V3 §3.3 runs its linear layers in FP8: attention
// and MLA projections, dense FFNs, shared and routed experts. The embedding, the output head, the
// MTP projection, the MoE gate, the norms and the attention core stay in float32 (V3 keeps the
// first five and the attention operators in BF16/FP32).
// The mode is module-level and read while a function is traced: set it before the first step of a
// jitted function (Trainer traces on its first update) and put the old mode back afterwards.
// "none" (the default) calls ops.linear / ops.einsum exactly as before.
// A weight may also be an int8/int4 quantised one (quantize.ts, for serving): it is dequantised here.
import { fp8Linear, quantizeBf16 } from "../engine/fp8-sim.ts";
import { type Arr, add, einsum, linear as fp32Linear } from "../engine/ops.ts";
import { weightOf } from "./quantize.ts";

/**
 * none (float32) | bf16 inputs, float32 accumulation (DeepSeek-V3's baseline) | E4M3 with 1x128 tile /
 * 128x128 block scales (DeepSeek-V3) | E4M3 with per-tensor scales.
 */
export type Fp8Mode = "none" | "bf16" | "e4m3-tile" | "e4m3-tensor";
export const FP8_MODES: readonly Fp8Mode[] = ["none", "bf16", "e4m3-tile", "e4m3-tensor"];

let mode: Fp8Mode = "none";

/** Set the GEMM precision mode; returns the previous one. */
export function setFp8Mode(m: Fp8Mode): Fp8Mode {
  if (!FP8_MODES.includes(m)) throw new Error(`fp8 mode must be one of ${FP8_MODES.join(", ")}, got '${m}'`);
  const prev = mode;
  mode = m;
  return prev;
}

export function fp8Mode(): Fp8Mode {
  return mode;
}

/** y = x W^T (+ b) with W [out, in]: x [..., in] -> [..., out], in FP8 when the mode says so. */
export function linear(x: Arr, weight: Arr, b?: Arr): Arr {
  const w = weightOf(weight);
  if (mode === "none") return fp32Linear(x, w, b);
  if (mode === "bf16") return fp32Linear(quantizeBf16(x), quantizeBf16(w), b);
  const y = fp8Linear(x, w, { scaling: mode === "e4m3-tile" ? "tile" : "tensor" });
  return b ? add(y, b) : y;
}

/**
 * The dense expert GEMMs of moe.ts: einsum(spec, x, w) with w [E, out, in] and spec
 * "nd,efd->enf" (x [N, in] -> [E, N, out]) or "enf,edf->end" (x [E, N, in] -> [E, N, out]).
 */
export function expertLinear(spec: "nd,efd->enf" | "enf,edf->end", x: Arr, w: Arr): Arr {
  if (mode === "none") return einsum(spec, x, w);
  if (mode === "bf16") return einsum(spec, quantizeBf16(x), quantizeBf16(w));
  return fp8Linear(x, w, { scaling: mode === "e4m3-tile" ? "tile" : "tensor" });
}
