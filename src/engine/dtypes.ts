// Safetensors dtypes: their byte sizes, and bit-exact conversions between float32 and the narrow
// float formats checkpoints use (F16, BF16, F8_E4M3, F8_E5M2). Decoding is exact; encoding float32 to
// F16/BF16 rounds to nearest, ties to even, like torch's `.to(torch.float16/bfloat16)`.
//
// Bit layouts (sign | exponent | mantissa, bias):
//   F16      1 | 5 | 10, bias 15, inf and NaN at exponent 31
//   BF16     1 | 8 |  7, bias 127, the top half of a float32
//   F8_E4M3  1 | 4 |  3, bias 7, no inf; S.1111.111 (0x7F / 0xFF) is NaN; max 0x7E = 448  ("e4m3fn")
//   F8_E5M2  1 | 5 |  2, bias 15, the top byte of an F16
// Multi-byte values are little-endian in the file; r1lab refuses to load on a big-endian host.

/** Every dtype name of the safetensors format that r1lab knows, with its size in bytes. */
export const DTYPE_BYTES = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  I64: 8,
  U64: 8,
  F64: 8,
} as const;

export type Dtype = keyof typeof DTYPE_BYTES;

/** Dtypes that `decodeFloat32` turns into float32 values. The rest are read as raw bytes. */
export const FLOAT_DTYPES: readonly Dtype[] = ["F32", "F16", "BF16", "F8_E4M3", "F8_E5M2", "F64"];

/** Dtypes that `encodeFloat32` can write from float32 values. */
export type WritableFloatDtype = "F32" | "F16" | "BF16";

export function isDtype(s: unknown): s is Dtype {
  return typeof s === "string" && Object.hasOwn(DTYPE_BYTES, s);
}

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error("r1lab's safetensors code assumes a little-endian host");
}

// One float32 <-> uint32 scratch pair for bit casts.
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Float32 value of F16 bits `h` (exact; NaN payloads are not kept). */
export function f16BitsToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1024 + m) * 2 ** (e - 25);
}

/** F16 bits of float32 `x`, rounded to nearest even; overflow gives inf, NaN stays a quiet NaN. */
export function floatToF16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0];
  const sign = (b >>> 16) & 0x8000;
  const e = (b >>> 23) & 0xff;
  const m = b & 0x7fffff;
  if (e === 0xff) return sign | 0x7c00 | (m ? 0x200 | (m >>> 13) : 0);
  if (e >= 143) return sign | 0x7c00; // |x| >= 2^16: beyond the F16 range whatever the rounding
  if (e >= 113) {
    // Normal F16. A carry out of the mantissa bumps the exponent, up to inf at 65520.
    let h = ((e - 112) << 10) | (m >>> 13);
    const rest = m & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++;
    return sign | h;
  }
  // Subnormal F16 (unit 2^-24) or zero. float32 value = (m | 2^23) * 2^(e-150).
  const shift = 126 - e;
  if (shift > 25) return sign; // below half the smallest subnormal (or a float32 subnormal)
  const mf = m | 0x800000;
  let q = mf >>> shift;
  const rest = mf & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  if (rest > half || (rest === half && q & 1)) q++;
  return sign | q;
}

/** Float32 value of BF16 bits `h` (exact). */
export function bf16BitsToFloat(h: number): number {
  u32[0] = h << 16;
  return f32[0];
}

/** BF16 bits of float32 `x`, rounded to nearest even; NaN stays a quiet NaN with its sign. */
export function floatToBf16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0];
  if ((b & 0x7f800000) === 0x7f800000 && b & 0x7fffff) return (b >>> 16) | 0x40;
  return (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
}

/** Float32 value of F8_E4M3 (e4m3fn) byte `v`. */
export function e4m3ToFloat(v: number): number {
  const sign = v & 0x80 ? -1 : 1;
  const e = (v >>> 3) & 0xf;
  const m = v & 0x7;
  if (e === 15 && m === 7) return Number.NaN;
  if (e === 0) return sign * m * 2 ** -9; // subnormal: m/8 * 2^(1-7)
  return sign * (8 + m) * 2 ** (e - 10); // (1 + m/8) * 2^(e-7)
}

let f16Table: Float32Array | null = null;
let e4m3Table: Float32Array | null = null;

function f16Lut(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = f16BitsToFloat(h);
  }
  return f16Table;
}

function e4m3Lut(): Float32Array {
  if (!e4m3Table) {
    e4m3Table = new Float32Array(256);
    for (let v = 0; v < 256; v++) e4m3Table[v] = e4m3ToFloat(v);
  }
  return e4m3Table;
}

/**
 * Decode `bytes` (little-endian values of `dtype`, bytes.byteLength a multiple of its size) into
 * float32. `out` receives the values when given (length = element count). Throws for non-float dtypes.
 */
export function decodeFloat32(dtype: Dtype, bytes: Uint8Array, out?: Float32Array): Float32Array {
  const n = bytes.byteLength / DTYPE_BYTES[dtype];
  const res = out ?? new Float32Array(n);
  if (res.length !== n) throw new Error(`decodeFloat32: out has ${res.length} elements, data has ${n}`);
  const aligned = (size: number) =>
    bytes.byteOffset % size === 0 ? bytes : (new Uint8Array(bytes) as Uint8Array<ArrayBuffer>);
  switch (dtype) {
    case "F32": {
      new Uint8Array(res.buffer, res.byteOffset, n * 4).set(bytes);
      return res;
    }
    case "F16": {
      const src = aligned(2);
      const h = new Uint16Array(src.buffer, src.byteOffset, n);
      const lut = f16Lut();
      for (let i = 0; i < n; i++) res[i] = lut[h[i]];
      return res;
    }
    case "BF16": {
      const src = aligned(2);
      const h = new Uint16Array(src.buffer, src.byteOffset, n);
      const bits = new Uint32Array(res.buffer, res.byteOffset, n);
      for (let i = 0; i < n; i++) bits[i] = h[i] << 16;
      return res;
    }
    case "F8_E4M3": {
      const lut = e4m3Lut();
      for (let i = 0; i < n; i++) res[i] = lut[bytes[i]];
      return res;
    }
    case "F8_E5M2": {
      const lut = f16Lut();
      for (let i = 0; i < n; i++) res[i] = lut[bytes[i] << 8];
      return res;
    }
    case "F64": {
      const src = aligned(8);
      const d = new Float64Array(src.buffer, src.byteOffset, n);
      for (let i = 0; i < n; i++) res[i] = d[i];
      return res;
    }
    default:
      throw new Error(`dtype ${dtype} is not a float dtype; read its raw bytes instead`);
  }
}

/**
 * Encode float32 `data` as `dtype` bytes (little-endian). For F32 this is a view of `data`'s own
 * memory, not a copy; pass a slice (subarray) to encode a chunk.
 */
export function encodeFloat32(dtype: WritableFloatDtype, data: Float32Array): Uint8Array {
  if (dtype === "F32") return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const h = new Uint16Array(data.length);
  if (dtype === "F16") for (let i = 0; i < data.length; i++) h[i] = floatToF16Bits(data[i]);
  else if (dtype === "BF16") {
    const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
    for (let i = 0; i < data.length; i++) {
      const b = bits[i];
      h[i] =
        (b & 0x7f800000) === 0x7f800000 && b & 0x7fffff
          ? (b >>> 16) | 0x40
          : (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
    }
  } else throw new Error(`cannot encode float32 data as ${dtype}; use F32, F16 or BF16`);
  return new Uint8Array(h.buffer);
}
