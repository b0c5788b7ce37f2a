// Bit-level checks of the narrow float formats: F16 and BF16 encode/decode (round to nearest even,
// signed zero, subnormals, inf, NaN), F8_E4M3 and F8_E5M2 decoding against hand-derived values.
import { describe, expect, it } from "vitest";
import {
  bf16BitsToFloat,
  decodeFloat32,
  e4m3ToFloat,
  encodeFloat32,
  f16BitsToFloat,
  floatToBf16Bits,
  floatToF16Bits,
} from "../src/engine/dtypes.ts";

const f32Bits = (x: number) => new Uint32Array(new Float32Array([x]).buffer)[0];
const fromF32Bits = (b: number) => new Float32Array(new Uint32Array([b]).buffer)[0];
const isNegZero = (x: number) => x === 0 && 1 / x < 0;

describe("F16", () => {
  it("encodes known values, rounding to nearest even", () => {
    const cases: [number, number][] = [
      [1, 0x3c00], // exponent 15, mantissa 0
      [-2, 0xc000],
      [0.1, 0x2e66], // 0.0999755859375
      [65504, 0x7bff], // largest finite
      [65519.99, 0x7bff], // below the midpoint to inf
      [65520, 0x7c00], // midpoint between 65504 (odd mantissa) and 2^16: ties to even = inf
      [1e6, 0x7c00],
      [-1e6, 0xfc00],
      [Number.POSITIVE_INFINITY, 0x7c00],
      [Number.NEGATIVE_INFINITY, 0xfc00],
      [2 ** -14, 0x0400], // smallest normal
      [1023 * 2 ** -24, 0x03ff], // largest subnormal
      [2 ** -24, 0x0001], // smallest subnormal
      [2 ** -25, 0x0000], // half of it: tie, rounds to even 0
      [2 ** -25 * 1.0001, 0x0001], // just above the tie
      [1.5 * 2 ** -24, 0x0002], // tie between 1 and 2 units: even is 2
      [2.5 * 2 ** -24, 0x0002], // tie between 2 and 3 units: even is 2
      [1 + 2 ** -11, 0x3c00], // tie between 1 and 1+2^-10: even is 1
      [1 + 3 * 2 ** -11, 0x3c02], // tie between 0x3c01 and 0x3c02: even is 0x3c02
      [1 + 2 ** -11 + 2 ** -20, 0x3c01], // above the tie
      [1e-40, 0x0000], // a float32 subnormal underflows to zero
      [-1e-40, 0x8000], // ... keeping its sign
      [0, 0x0000],
      [-0, 0x8000],
    ];
    for (const [x, bits] of cases) expect([x, floatToF16Bits(x)]).toEqual([x, bits]);
    expect(floatToF16Bits(Number.NaN)).toBe(0x7e00);
  });

  it("decodes known bit patterns", () => {
    expect(f16BitsToFloat(0x3c00)).toBe(1);
    expect(f16BitsToFloat(0x3555)).toBe(0.333251953125); // 2^-2 * (1 + 341/1024)
    expect(f16BitsToFloat(0x0001)).toBe(2 ** -24);
    expect(f16BitsToFloat(0x7bff)).toBe(65504);
    expect(f16BitsToFloat(0xfc00)).toBe(Number.NEGATIVE_INFINITY);
    expect(isNegZero(f16BitsToFloat(0x8000))).toBe(true);
    expect(f16BitsToFloat(0x7e00)).toBeNaN();
    expect(f16BitsToFloat(0xfc01)).toBeNaN();
  });

  it("decode then encode is the identity on all 65536 patterns except NaNs", () => {
    for (let h = 0; h < 65536; h++) {
      const x = f16BitsToFloat(h);
      if (Number.isNaN(x)) expect(Number.isNaN(f16BitsToFloat(floatToF16Bits(x)))).toBe(true);
      else if (floatToF16Bits(x) !== h) expect([h, floatToF16Bits(x)]).toEqual([h, h]);
    }
  });

  it("rounds every midpoint between neighbouring F16 values to the even one", () => {
    for (let h = 0; h < 0x7bff; h++) {
      const lo = f16BitsToFloat(h);
      const hi = f16BitsToFloat(h + 1);
      const mid = (lo + hi) / 2; // 12 significant bits: exact in float32
      const even = h % 2 === 0 ? h : h + 1;
      const midBits = f32Bits(mid);
      const got = [
        floatToF16Bits(mid),
        floatToF16Bits(fromF32Bits(midBits + 1)),
        floatToF16Bits(fromF32Bits(midBits - 1)),
      ];
      if (got[0] !== even || got[1] !== h + 1 || got[2] !== h)
        expect([h, ...got]).toEqual([h, even, h + 1, h]);
    }
  });
});

describe("BF16", () => {
  it("encodes known values, rounding to nearest even", () => {
    const cases: [number, number][] = [
      [1, 0x3f80],
      [-1, 0xbf80],
      [Math.PI, 0x4049], // float32 0x40490fdb: low half 0x0fdb < 0x8000 rounds down
      [fromF32Bits(0x3f808000), 0x3f80], // 1 + 2^-8: tie, even is 0x3f80
      [fromF32Bits(0x3f818000), 0x3f82], // 1 + 3*2^-8: tie, even is 0x3f82
      [fromF32Bits(0x3f808001), 0x3f81], // just above the tie
      [fromF32Bits(0x7f7fffff), 0x7f80], // float32 max rounds up to inf
      [Number.POSITIVE_INFINITY, 0x7f80],
      [Number.NEGATIVE_INFINITY, 0xff80],
      [2 ** -130, 0x0008], // float32 subnormal 0x00080000 (2^19 * 2^-149): bf16 holds it exactly
      [2 ** -149, 0x0000], // the smallest float32 subnormal rounds to zero
      [0, 0x0000],
      [-0, 0x8000],
    ];
    for (const [x, bits] of cases) expect([x, floatToBf16Bits(x)]).toEqual([x, bits]);
    expect(floatToBf16Bits(Number.NaN)).toBe(0x7fc0);
    expect(floatToBf16Bits(fromF32Bits(0xff800001))).toBe(0xffc0); // a signalling NaN stays NaN, sign kept
  });

  it("decode is the top half of a float32, and encode inverts it on all non-NaN patterns", () => {
    expect(bf16BitsToFloat(0x4049)).toBe(3.140625);
    expect(isNegZero(bf16BitsToFloat(0x8000))).toBe(true);
    const all = new Uint16Array(65536).map((_, h) => h);
    const decoded = new Uint32Array(decodeFloat32("BF16", new Uint8Array(all.buffer)).buffer);
    for (let h = 0; h < 65536; h++) {
      // The array decoder keeps every bit, NaN payloads included (a JS number would not).
      if (decoded[h] !== (h << 16) >>> 0) expect([h, decoded[h]]).toEqual([h, (h << 16) >>> 0]);
      const x = bf16BitsToFloat(h);
      if (Number.isNaN(x)) continue;
      if (f32Bits(x) !== (h << 16) >>> 0 || floatToBf16Bits(x) !== h) {
        expect([h, f32Bits(x), floatToBf16Bits(x)]).toEqual([h, (h << 16) >>> 0, h]);
      }
    }
  });

  it("the array encoder agrees with the scalar one", () => {
    const xs = new Float32Array(4096);
    for (let i = 0; i < xs.length; i++) xs[i] = fromF32Bits((Math.random() * 2 ** 32) >>> 0);
    xs[0] = Number.NaN;
    xs[1] = -0;
    const bf = new Uint16Array(encodeFloat32("BF16", xs).buffer);
    const f16 = new Uint16Array(encodeFloat32("F16", xs).buffer);
    for (let i = 0; i < xs.length; i++) {
      expect(bf[i]).toBe(floatToBf16Bits(xs[i]));
      expect(f16[i]).toBe(floatToF16Bits(xs[i]));
    }
  });
});

describe("F8_E4M3 (e4m3fn: bias 7, no inf)", () => {
  it("decodes hand-derived values", () => {
    // byte = s eeee mmm; normal (1 + m/8) * 2^(e-7); subnormal (e=0) m/8 * 2^-6
    const cases: [number, number][] = [
      [0x00, 0],
      [0x01, 2 ** -9], // 0 0000 001: 1/8 * 2^-6
      [0x07, 7 * 2 ** -9], // 0 0000 111: largest subnormal 0.013671875
      [0x08, 2 ** -6], // 0 0001 000: smallest normal 0.015625
      [0x38, 1], // 0 0111 000
      [0x3c, 1.5], // 0 0111 100
      [0x40, 2], // 0 1000 000
      [0x4b, 5.5], // 0 1001 011: 1.375 * 2^2
      [0x78, 256], // 0 1111 000: exponent 15 is a normal exponent, not inf
      [0x7e, 448], // 0 1111 110: 1.75 * 256, the largest value
      [0xb8, -1], // 1 0111 000
      [0xc0, -2],
      [0xfe, -448],
      [0x81, -(2 ** -9)],
    ];
    for (const [byte, value] of cases) expect([byte, e4m3ToFloat(byte)]).toEqual([byte, value]);
    expect(isNegZero(e4m3ToFloat(0x80))).toBe(true);
    expect(e4m3ToFloat(0x7f)).toBeNaN();
    expect(e4m3ToFloat(0xff)).toBeNaN();
    let finite = 0;
    for (let b = 0; b < 256; b++) if (Number.isFinite(e4m3ToFloat(b))) finite++;
    expect(finite).toBe(254);
  });

  it("decodeFloat32 decodes F8_E4M3 and F8_E5M2 arrays", () => {
    const e4 = decodeFloat32("F8_E4M3", new Uint8Array([0x38, 0x7e, 0x7f, 0x81]));
    expect([...e4.slice(0, 2), e4[3]]).toEqual([1, 448, -(2 ** -9)]);
    expect(e4[2]).toBeNaN();
    // E5M2 = top byte of an F16: 0x3c -> 1, 0x7b -> 57344, 0x7c -> inf, 0x01 -> 2^-16, 0x7e -> NaN
    const e5 = decodeFloat32("F8_E5M2", new Uint8Array([0x3c, 0x7b, 0x7c, 0x01, 0x7e]));
    expect([...e5.slice(0, 4)]).toEqual([1, 57344, Number.POSITIVE_INFINITY, 2 ** -16]);
    expect(e5[4]).toBeNaN();
  });

  it("decodeFloat32 handles unaligned F16 input and refuses integer dtypes", () => {
    const buf = new Uint8Array(5);
    buf.set([0x00, 0x3c, 0x00, 0xc0], 1); // 1.0, -2.0 as F16 starting at an odd offset
    expect([...decodeFloat32("F16", buf.subarray(1))]).toEqual([1, -2]);
    expect(() => decodeFloat32("I32", new Uint8Array(4))).toThrow(/not a float dtype/);
  });
});
