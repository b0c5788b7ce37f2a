// DeepSeek-style block-scaled FP8 weights: W_fp32[i, j] = e4m3(W[i, j]) * scale_inv[i / 128, j / 128],
// including shapes that are not multiples of 128, and reading them from a safetensors file.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { dequantBlockFp8, readDequantized, scaleInvName } from "../src/engine/fp8.ts";
import { openSafetensors, writeSafetensors } from "../src/engine/safetensors.ts";

const dir = mkdtempSync(join(tmpdir(), "r1lab-fp8-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The test's own E4M3 decoder, straight from the bit layout (bias 7, subnormals at e = 0). */
function e4m3(b: number): number {
  const s = b >> 7 ? -1 : 1;
  const e = (b >> 3) & 15;
  const m = b & 7;
  return e === 0 ? (s * m) / 8 / 64 : s * (1 + m / 8) * 2 ** (e - 7);
}

/** Deterministic bytes without the two NaN codes. */
function fp8Bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    let b = x >>> 24;
    if ((b & 0x7f) === 0x7f) b ^= 1;
    out[i] = b;
  }
  return out;
}

describe("block-scale FP8 dequantisation", () => {
  it("a hand-sized case: 130 x 2 weight, two row blocks", () => {
    // rows 0..127 use scale 2, rows 128..129 use scale 0.5; 0x38 = 1.0, 0xc4 = -3 (1 1000 100)
    const w = new Uint8Array(260).fill(0x38);
    w[128 * 2 + 1] = 0xc4;
    const out = dequantBlockFp8(w, [130, 2], new Float32Array([2, 0.5]), [2, 1]);
    expect(out[0]).toBe(2);
    expect(out[127 * 2 + 1]).toBe(2);
    expect(out[128 * 2]).toBe(0.5);
    expect(out[128 * 2 + 1]).toBe(-1.5);
  });

  it("matches w * scale_inv[floor(i/128), floor(j/128)] for shapes that are and are not multiples of 128", () => {
    for (const [rows, cols] of [
      [256, 128],
      [200, 300],
      [129, 1],
      [5, 257],
    ]) {
      const sr = Math.ceil(rows / 128);
      const sc = Math.ceil(cols / 128);
      const w = fp8Bytes(rows * cols, rows * 1000 + cols);
      const scale = new Float32Array(sr * sc).map((_, k) => 0.001 * (k + 1) * (k % 2 ? -1 : 1));
      const out = dequantBlockFp8(w, [rows, cols], scale, [sr, sc]);
      // also from float32-decoded weights
      const wf = new Float32Array(w.length).map((_, k) => e4m3(w[k]));
      const out2 = dequantBlockFp8(wf, [rows, cols], scale, [sr, sc]);
      for (let i = 0; i < rows; i++) {
        for (let j = 0; j < cols; j++) {
          const want = Math.fround(
            e4m3(w[i * cols + j]) * scale[Math.floor(i / 128) * sc + Math.floor(j / 128)],
          );
          const got = out[i * cols + j];
          if (got !== want || out2[i * cols + j] !== want)
            expect([rows, cols, i, j, got]).toEqual([rows, cols, i, j, want]);
        }
      }
    }
  });

  it("refuses a scale_inv of the wrong shape, naming the shape it needs", () => {
    expect(() => dequantBlockFp8(new Uint8Array(200 * 300), [200, 300], new Float32Array(4), [2, 2])).toThrow(
      /needs scale_inv of shape \[2, 3\], got \[2,2\]/,
    );
    expect(() => dequantBlockFp8(new Uint8Array(6), [6], new Float32Array(1), [1, 1])).toThrow(/must be 2-D/);
  });

  it("readDequantized reads an F8_E4M3 weight with its weight_scale_inv from a file", () => {
    const p = join(dir, "fp8.safetensors");
    const name = "model.layers.0.mlp.down_proj.weight";
    const [rows, cols] = [136, 130];
    const w = fp8Bytes(rows * cols, 7);
    const scale = new Float32Array([0.5, -0.25, 2, 4]);
    writeSafetensors(p, {
      [name]: { dtype: "F8_E4M3", shape: [rows, cols], data: w },
      [scaleInvName(name)]: { dtype: "F32", shape: [2, 2], data: scale },
      "model.norm.weight": { dtype: "BF16", shape: [2], data: new Float32Array([1, -1]) },
      "bad.weight": { dtype: "F8_E4M3", shape: [2, 2], data: new Uint8Array(4) },
    });
    expect(scaleInvName(name)).toBe("model.layers.0.mlp.down_proj.weight_scale_inv");
    const f = openSafetensors(p);
    const out = readDequantized(f, name);
    expect(out[0]).toBe(Math.fround(e4m3(w[0]) * 0.5));
    expect(out[129]).toBe(Math.fround(e4m3(w[129]) * -0.25));
    expect(out[128 * cols + 5]).toBe(Math.fround(e4m3(w[128 * cols + 5]) * 2));
    expect(out[rows * cols - 1]).toBe(Math.fround(e4m3(w[rows * cols - 1]) * 4));
    // plain decode without scales, for comparison: read() gives e4m3 values
    expect(f.read(name)[129]).toBe(e4m3(w[129]));
    expect([...readDequantized(f, "model.norm.weight")]).toEqual([1, -1]);
    expect(() => readDequantized(f, "bad.weight")).toThrow(
      /"bad.weight" is F8_E4M3 but its block scales "bad.weight_scale_inv" are missing/,
    );
    f.close();
  });
});
