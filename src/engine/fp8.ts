// Block-scaled FP8 weights, as DeepSeek-V3/R1 checkpoints store them: each 2-D linear weight W
// [out, in] is F8_E4M3, and a float32 tensor `<name>_scale_inv` (e.g. "...q_a_proj.weight_scale_inv")
// of shape [ceil(out/128), ceil(in/128)] holds one scale per 128x128 block (quantization_config
// weight_block_size). Dequantisation, as in DeepSeek-V3's inference/kernel.py weight_dequant:
//   W_fp32[i, j] = e4m3(W[i, j]) * scale_inv[floor(i / 128), floor(j / 128)]
// Edge blocks are partial when a dimension is not a multiple of 128; they still have one scale.
import { e4m3ToFloat } from "./dtypes.ts";
import type { TensorReader } from "./safetensors.ts";

/** DeepSeek-V3's weight_block_size. */
export const FP8_BLOCK: [number, number] = [128, 128];

/** Name of the block-scale tensor that goes with FP8 weight `name`. */
export function scaleInvName(name: string): string {
  return `${name}_scale_inv`;
}

let lut: Float32Array | null = null;

/**
 * Dequantise a 2-D FP8 weight. `w` is either the raw F8_E4M3 bytes or their float32 decoding
 * (row-major, shape [rows, cols]); `scaleInv` is row-major with shape `scaleShape`, which must be
 * [ceil(rows / block[0]), ceil(cols / block[1])].
 */
export function dequantBlockFp8(
  w: Uint8Array | Float32Array,
  shape: number[],
  scaleInv: Float32Array,
  scaleShape: number[],
  block: [number, number] = FP8_BLOCK,
): Float32Array {
  if (shape.length !== 2)
    throw new Error(`dequantBlockFp8: weight must be 2-D, got shape ${JSON.stringify(shape)}`);
  const [rows, cols] = shape;
  const [bm, bn] = block;
  if (w.length !== rows * cols) {
    throw new Error(
      `dequantBlockFp8: weight shape ${JSON.stringify(shape)} needs ${rows * cols} values, got ${w.length}`,
    );
  }
  const sr = Math.ceil(rows / bm);
  const sc = Math.ceil(cols / bn);
  if (scaleShape.length !== 2 || scaleShape[0] !== sr || scaleShape[1] !== sc) {
    throw new Error(
      `dequantBlockFp8: weight ${JSON.stringify(shape)} with ${bm}x${bn} blocks needs scale_inv of shape [${sr}, ${sc}], got ${JSON.stringify(scaleShape)}`,
    );
  }
  if (scaleInv.length !== sr * sc) {
    throw new Error(`dequantBlockFp8: scale_inv has ${scaleInv.length} values, shape says ${sr * sc}`);
  }
  if (w instanceof Uint8Array && !lut) {
    lut = new Float32Array(256);
    for (let v = 0; v < 256; v++) lut[v] = e4m3ToFloat(v);
  }
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    const srow = Math.floor(i / bm) * sc;
    const base = i * cols;
    for (let jb = 0; jb < sc; jb++) {
      const s = scaleInv[srow + jb];
      const end = Math.min(cols, (jb + 1) * bn);
      if (w instanceof Uint8Array) for (let j = jb * bn; j < end; j++) out[base + j] = lut![w[base + j]] * s;
      else for (let j = jb * bn; j < end; j++) out[base + j] = w[base + j] * s;
    }
  }
  return out;
}

/**
 * Read tensor `name` as float32. An F8_E4M3 tensor is dequantised with its `<name>_scale_inv`
 * (an error if that is missing); any other dtype is read as is.
 */
export function readDequantized(
  reader: TensorReader,
  name: string,
  block: [number, number] = FP8_BLOCK,
): Float32Array {
  const info = reader.info(name);
  if (info.dtype !== "F8_E4M3") return reader.read(name);
  const sName = scaleInvName(name);
  if (!reader.has(sName))
    throw new Error(`tensor "${name}" is F8_E4M3 but its block scales "${sName}" are missing`);
  const sInfo = reader.info(sName);
  try {
    return dequantBlockFp8(reader.readRaw(name), info.shape, reader.read(sName), sInfo.shape, block);
  } catch (e) {
    throw new Error(`tensor "${name}": ${(e as Error).message}`);
  }
}
