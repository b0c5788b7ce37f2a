// Lazy reads: opening a 200 MB safetensors file and reading one small tensor must not pull the file
// into memory, and reading a 40 MB F32 tensor must cost about 40 MB (no second copy).
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openSafetensors } from "../src/engine/safetensors.ts";

const MB = 1024 * 1024;
const BIG = 40 * MB; // F32 elements: 160 MiB
const MEDIUM = 10 * MB; // 40 MiB
const dir = mkdtempSync(join(tmpdir(), "r1lab-st-mem-"));
const path = join(dir, "big.safetensors");

/** Write the file in 4 MiB pieces so the test itself never holds it in memory. */
beforeAll(() => {
  const header = {
    __metadata__: { format: "pt" },
    big: { dtype: "F32", shape: [BIG / 1024, 1024], data_offsets: [0, BIG * 4] },
    medium: { dtype: "F32", shape: [MEDIUM], data_offsets: [BIG * 4, (BIG + MEDIUM) * 4] },
    small: { dtype: "F32", shape: [4], data_offsets: [(BIG + MEDIUM) * 4, (BIG + MEDIUM) * 4 + 16] },
  };
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (json.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  const fd = openSync(path, "w");
  writeSync(fd, len);
  writeSync(fd, json);
  const zeros = new Float32Array(MB);
  for (let i = 0; i < BIG; i += MB) writeSync(fd, new Uint8Array(zeros.buffer));
  const chunk = new Float32Array(MB);
  for (let i = 0; i < MEDIUM; i += MB) {
    for (let k = 0; k < MB; k++) chunk[k] = i + k; // medium[i] = i, exact below 2^24
    writeSync(fd, new Uint8Array(chunk.buffer));
  }
  writeSync(fd, new Uint8Array(new Float32Array([1.5, -2, 3.25, 4]).buffer));
  closeSync(fd);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("lazy reads of a 200 MB file", () => {
  it("reading the last small tensor leaves RSS and ArrayBuffer memory nearly flat", () => {
    const before = process.memoryUsage();
    const f = openSafetensors(path);
    expect(f.info("big")).toEqual({ dtype: "F32", shape: [BIG / 1024, 1024], byteLength: BIG * 4 });
    expect([...f.read("small")]).toEqual([1.5, -2, 3.25, 4]);
    const after = process.memoryUsage();
    f.close();
    expect(after.rss - before.rss).toBeLessThan(32 * MB); // the file is 200 MiB
    expect(after.arrayBuffers - before.arrayBuffers).toBeLessThan(8 * MB);
  });

  it("reading a 40 MiB F32 tensor costs about 40 MiB, not twice that", () => {
    const f = openSafetensors(path);
    const before = process.memoryUsage();
    const m = f.read("medium");
    const after = process.memoryUsage();
    f.close();
    expect(m.length).toBe(MEDIUM);
    for (const i of [0, 1, MB - 1, MB, 5 * MB + 12345, MEDIUM - 1]) expect(m[i]).toBe(i);
    const grewBuffers = after.arrayBuffers - before.arrayBuffers;
    // the measurement works (the tensor itself shows up) and there is no second copy
    expect(grewBuffers).toBeGreaterThanOrEqual(MEDIUM * 4);
    expect(grewBuffers).toBeLessThan(MEDIUM * 4 + 16 * MB);
    expect(after.rss - before.rss).toBeLessThan(MEDIUM * 4 + 48 * MB);
  });
});
