// safetensors files: write/read round trips (F32, F16, BF16, raw integer bytes), the on-disk layout
// (padded header, sorted names, no temp files left), HF's reference fixtures, and one test per
// kind of malformed file.
import { mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openAtomicWriter } from "../src/engine/atomic.ts";
import { openSafetensors, SafetensorsError, writeSafetensors } from "../src/engine/safetensors.ts";

const dir = mkdtempSync(join(tmpdir(), "r1lab-st-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let fileNo = 0;
const tmp = (name = "t.safetensors") => join(dir, `${fileNo++}-${name}`);

/** A file with an arbitrary header (object or raw text), a chosen header length and data bytes. */
function rawFile(
  header: unknown,
  data: number | Uint8Array,
  opts: { headerLen?: bigint; cut?: number } = {},
): string {
  const text = Buffer.from(typeof header === "string" ? header : JSON.stringify(header), "utf8");
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(opts.headerLen ?? BigInt(text.byteLength));
  let bytes = Buffer.concat([len, text, typeof data === "number" ? Buffer.alloc(data) : data]);
  if (opts.cut) bytes = bytes.subarray(0, bytes.byteLength - opts.cut);
  const p = tmp();
  writeFileSync(p, bytes);
  return p;
}

function headerOf(path: string): { len: number; text: string } {
  const b = readFileSync(path);
  const len = Number(b.readBigUInt64LE(0));
  return { len, text: b.subarray(8, 8 + len).toString("utf8") };
}

const special = [
  0,
  -0,
  1,
  -2.5,
  0.1,
  65504,
  70000,
  1e-7,
  2 ** -24,
  2 ** -25,
  1e-40,
  Infinity,
  -Infinity,
  NaN,
];

describe("round trips", () => {
  it("F32 keeps every value bit for bit; metadata comes back", () => {
    const data = new Float32Array([...special, Math.PI, -1e30, 3e38]);
    const p = tmp();
    writeSafetensors(p, { w: { dtype: "F32", shape: [17], data } }, { format: "pt", note: "hi" });
    const f = openSafetensors(p);
    expect(f.metadata).toEqual({ format: "pt", note: "hi" });
    expect(f.info("w")).toEqual({ dtype: "F32", shape: [17], byteLength: 68 });
    const back = f.read("w");
    expect(new Uint32Array(back.buffer)).toEqual(new Uint32Array(data.buffer));
    f.close();
    expect(readdirSync(dir).filter((n) => n.endsWith(".tmp"))).toEqual([]);
  });

  it("F16 stores the round-to-nearest-even bits and reads back their values", () => {
    // inputs and the F16 bits they must round to (derived from the bit layout, see dtypes test)
    const pairs: [number, number][] = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3c00],
      [-2.5, 0xc100],
      [1 + 2 ** -11, 0x3c00],
      [1 + 3 * 2 ** -11, 0x3c02],
      [65504, 0x7bff],
      [65520, 0x7c00],
      [2 ** -24, 0x0001],
      [3 * 2 ** -25, 0x0002],
      [Infinity, 0x7c00],
      [-Infinity, 0xfc00],
    ];
    const p = tmp();
    const data = new Float32Array([...pairs.map((q) => q[0]), NaN, 0]);
    writeSafetensors(p, { h: { dtype: "F16", shape: [2, 7], data } });
    const f = openSafetensors(p);
    const bits = new Uint16Array(f.readRaw("h").buffer);
    expect([...bits.slice(0, pairs.length)]).toEqual(pairs.map((q) => q[1]));
    expect(bits[pairs.length] & 0x7c00).toBe(0x7c00);
    expect(bits[pairs.length] & 0x3ff).not.toBe(0);
    const back = f.read("h");
    expect([...back.slice(0, 4)]).toEqual([0, -0, 1, -2.5]);
    expect(Object.is(back[1], -0)).toBe(true);
    expect(back[4]).toBe(1);
    expect(back[5]).toBe(1 + 2 ** -9);
    expect(back[7]).toBe(Infinity);
    expect(back[8]).toBe(2 ** -24);
    expect(back[9]).toBe(2 ** -23);
    expect(back[12]).toBeNaN();
    f.close();
  });

  it("BF16 stores rounded top halves and reads back their values", () => {
    const p = tmp();
    const xs = new Float32Array([
      1,
      -0,
      Math.PI,
      1 + 2 ** -8,
      1 + 3 * 2 ** -8,
      3.4e38,
      -Infinity,
      NaN,
      1e-39,
    ]);
    writeSafetensors(p, { b: { dtype: "BF16", shape: [9], data: xs } });
    const f = openSafetensors(p);
    expect([...new Uint16Array(f.readRaw("b").buffer)]).toEqual([
      0x3f80, 0x8000, 0x4049, 0x3f80, 0x3f82, 0x7f80, 0xff80, 0x7fc0,
      // 1e-39 is the float32 subnormal 0x000ae398: low half 0xe398 > 0x8000 rounds up
      0x000b,
    ]);
    const back = f.read("b");
    expect([...back.slice(0, 7)]).toEqual([1, -0, 3.140625, 1, 1 + 2 ** -6, Infinity, -Infinity]);
    expect(back[7]).toBeNaN();
    expect(back[8]).toBe(0x0b * 2 ** -133); // 0x000b0000 as a float32 subnormal: 0xb0000 * 2^-149
    f.close();
  });

  it("writes names sorted, a space-padded 8-byte-aligned header, and raw integer tensors", () => {
    const p = tmp();
    const ids = new BigInt64Array([1n, -2n, 2n ** 40n]);
    writeSafetensors(p, {
      "z.weight": { dtype: "F32", shape: [1], data: new Float32Array([7]) },
      "a.bias": { dtype: "BF16", shape: [3], data: new Float32Array([1, 2, 3]) },
      ids: { dtype: "I64", shape: [3], data: new Uint8Array(ids.buffer) },
      mask: { dtype: "BOOL", shape: [2, 2], data: new Uint8Array([1, 0, 0, 1]) },
      empty: { dtype: "F32", shape: [0, 4], data: new Float32Array(0) },
    });
    const { len, text } = headerOf(p);
    expect(len % 8).toBe(0);
    expect(text).toBe(text.trimEnd() + " ".repeat(len - text.trimEnd().length));
    const h = JSON.parse(text);
    const order = Object.entries(h as Record<string, { data_offsets: number[] }>)
      .sort(
        (a, b) => a[1].data_offsets[0] - b[1].data_offsets[0] || a[1].data_offsets[1] - b[1].data_offsets[1],
      )
      .map(([k]) => k);
    expect(order).toEqual(["a.bias", "empty", "ids", "mask", "z.weight"]);
    expect(h.ids).toEqual({ dtype: "I64", shape: [3], data_offsets: [6, 30] });
    const f = openSafetensors(p);
    expect(f.names()).toEqual(order);
    const raw = f.readRaw("ids");
    expect([...new BigInt64Array(raw.buffer, raw.byteOffset, 3)]).toEqual([1n, -2n, 2n ** 40n]);
    expect([...f.readRaw("mask")]).toEqual([1, 0, 0, 1]);
    expect(f.read("empty").length).toBe(0);
    expect([...f.read("z.weight")]).toEqual([7]);
    expect(() => f.read("ids")).toThrow(/"ids": dtype I64 is not a float dtype; use readRaw/);
    expect(() => f.read("nope")).toThrow(/"nope": no such tensor/);
    f.close();
    expect(() => f.read("z.weight")).toThrow(/read after close/);
  });

  it("refuses bad tensors to write, naming the tensor, and leaves no file", () => {
    const p = tmp();
    const bad = (t: any) => () => writeSafetensors(p, { x: t });
    expect(bad({ dtype: "F32", shape: [2, 2], data: new Float32Array(3) })).toThrow(
      /"x": shape \[2,2\] holds 4 values but data has 3/,
    );
    expect(bad({ dtype: "I32", shape: [1], data: new Float32Array(1) })).toThrow(
      /"x": float32 data can be written as F32, F16 or BF16/,
    );
    expect(bad({ dtype: "F99", shape: [1], data: new Float32Array(1) })).toThrow(/unknown dtype "F99"/);
    expect(bad({ dtype: "I32", shape: [2], data: new Uint8Array(7) })).toThrow(/needs 8 bytes, data has 7/);
    expect(readdirSync(dir).filter((n) => n.includes(p.split("/").pop()!))).toEqual([]);
  });
});

describe("HF reference fixtures", () => {
  const fixtures = join(import.meta.dirname, "fixtures", "hf-reference");

  it("tiny-qwen2: tensor names and shapes follow from config.json; parameter count and norms check out", () => {
    const cfg = JSON.parse(readFileSync(join(fixtures, "tiny-qwen2", "config.json"), "utf8"));
    const ref = JSON.parse(readFileSync(join(fixtures, "tiny-qwen2", "reference.json"), "utf8"));
    const H = cfg.hidden_size;
    const hd = H / cfg.num_attention_heads;
    const kv = cfg.num_key_value_heads * hd;
    const I = cfg.intermediate_size;
    const expected: Record<string, number[]> = {
      "model.embed_tokens.weight": [cfg.vocab_size, H],
      "model.norm.weight": [H],
    };
    if (!cfg.tie_word_embeddings) expected["lm_head.weight"] = [cfg.vocab_size, H];
    for (let l = 0; l < cfg.num_hidden_layers; l++) {
      const p = `model.layers.${l}`;
      Object.assign(expected, {
        [`${p}.input_layernorm.weight`]: [H],
        [`${p}.post_attention_layernorm.weight`]: [H],
        [`${p}.self_attn.q_proj.weight`]: [H, H],
        [`${p}.self_attn.q_proj.bias`]: [H],
        [`${p}.self_attn.k_proj.weight`]: [kv, H],
        [`${p}.self_attn.k_proj.bias`]: [kv],
        [`${p}.self_attn.v_proj.weight`]: [kv, H],
        [`${p}.self_attn.v_proj.bias`]: [kv],
        [`${p}.self_attn.o_proj.weight`]: [H, H],
        [`${p}.mlp.gate_proj.weight`]: [I, H],
        [`${p}.mlp.up_proj.weight`]: [I, H],
        [`${p}.mlp.down_proj.weight`]: [H, I],
      });
    }
    const f = openSafetensors(join(fixtures, "tiny-qwen2", "model.safetensors"));
    expect(f.metadata).toEqual({ format: "pt" });
    expect([...f.names()].sort()).toEqual(Object.keys(expected).sort());
    let count = 0;
    for (const name of f.names()) {
      const { dtype, shape } = f.info(name);
      expect([name, dtype, shape]).toEqual([name, "F32", expected[name]]);
      const x = f.read(name);
      expect(x.length).toBe(shape.reduce((a, b) => a * b, 1));
      expect(x.every(Number.isFinite)).toBe(true);
      count += x.length;
    }
    expect(count).toBe(ref.n_params);
    // generate.py perturbs the norms' init of 1 with 0.1 * N(0, 1) noise
    const norm = f.read("model.norm.weight");
    const mean = norm.reduce((a, b) => a + b, 0) / norm.length;
    expect(Math.abs(mean - 1)).toBeLessThan(0.05);
    expect(norm.some((v) => v !== 1)).toBe(true);
    f.close();
  });

  it("tiny-llama and tiny-deepseek-v3 open and every tensor reads", () => {
    for (const m of ["tiny-llama", "tiny-deepseek-v3"]) {
      const f = openSafetensors(join(fixtures, m, "model.safetensors"));
      let count = 0;
      for (const n of f.names()) count += f.read(n).length;
      const ref = JSON.parse(readFileSync(join(fixtures, m, "reference.json"), "utf8"));
      // the DeepSeek file also holds the non-parameter buffers e_score_correction_bias (8 per MoE layer)
      const buffers = f.names().filter((n) => n.endsWith("e_score_correction_bias"));
      expect(count - buffers.reduce((a, n) => a + f.info(n).shape[0], 0)).toBe(ref.n_params);
      f.close();
    }
  });
});

describe("malformed files are refused with the file and tensor named", () => {
  const t = (dtype: string, shape: number[], off: [number, number]) => ({ dtype, shape, data_offsets: off });
  const open = (p: string) => () => openSafetensors(p).close();
  const err = (p: string, re: RegExp) => {
    expect(open(p)).toThrow(SafetensorsError);
    expect(open(p)).toThrow(new RegExp(`^${p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: ${re.source}`));
  };

  it("a file shorter than the length prefix", () => {
    const p = tmp();
    writeFileSync(p, Buffer.from([1, 2, 3]));
    err(p, /file has 3 bytes, too short/);
  });
  it("a header length beyond the end of the file", () => {
    err(rawFile({}, 0, { headerLen: 1000n }), /header length 1000 runs past the end of the 10-byte file/);
  });
  it("an absurd header length", () => {
    err(rawFile({}, 0, { headerLen: 2n ** 62n }), /bad header: header length 4611686018427387904 is absurd/);
  });
  it("a header that is not JSON", () => {
    err(rawFile('{"a": [1, 2', 0), /bad header: not valid UTF-8 JSON/);
  });
  it("a header that is JSON but not an object", () => {
    err(rawFile("[1, 2, 3]", 0), /bad header: expected a JSON object, got an array/);
    err(rawFile("42      ", 0), /bad header: expected a JSON object, got number/);
  });
  it("tensor data running past the end of the file", () => {
    const header = { w: t("F32", [4], [0, 16]) };
    const end = 8 + JSON.stringify(header).length + 16;
    const re = new RegExp(
      `tensor "w": data ends at byte ${end} but the file has only ${end - 4} bytes \\(truncated\\?\\)`,
    );
    err(rawFile(header, 16, { cut: 4 }), re);
  });
  it("overlapping data_offsets", () => {
    const p = rawFile({ a: t("F32", [2], [0, 8]), b: t("F32", [2], [4, 12]) }, 12);
    err(p, /tensor "b": data_offsets \[4, 12\] overlap tensor "a"/);
  });
  it("a gap between tensors, or before the first", () => {
    err(
      rawFile({ a: t("F32", [1], [0, 4]), b: t("F32", [1], [8, 12]) }, 12),
      /tensor "b": gap of 4 bytes between tensor "a" and tensor "b"/,
    );
    err(
      rawFile({ a: t("F32", [1], [4, 8]) }, 8),
      /tensor "a": gap of 4 bytes between the start of the data and tensor "a"/,
    );
  });
  it("reversed data_offsets", () => {
    err(
      rawFile({ a: t("F32", [0], [4, 0]) }, 4),
      /tensor "a": data_offsets must be \[begin, end\] with 0 <= begin <= end, got \[4,0\]/,
    );
  });
  it("bytes after the last tensor", () => {
    err(rawFile({ a: t("F32", [1], [0, 4]) }, 6), /2 bytes after the last tensor's data/);
  });
  it("an unknown dtype", () => {
    err(rawFile({ a: t("F12", [1], [0, 4]) }, 4), /tensor "a": unknown dtype "F12"/);
  });
  it("a shape that does not match the byte span", () => {
    err(
      rawFile({ a: t("BF16", [3, 2], [0, 8]) }, 8),
      /tensor "a": shape \[3,2\] of BF16 needs 12 bytes, data_offsets \[0, 8\] hold 8/,
    );
    err(
      rawFile({ a: t("F32", [-1], [0, 4]) }, 4),
      /tensor "a": shape must be a list of non-negative integers/,
    );
  });
  it("metadata that is not string to string", () => {
    err(rawFile({ __metadata__: { step: 3 } }, 0), /__metadata__.step must be a string, got 3/);
  });
  it("a file truncated after it was opened fails on read", () => {
    const p = tmp();
    writeSafetensors(p, { a: { dtype: "F32", shape: [1000], data: new Float32Array(1000) } });
    const f = openSafetensors(p);
    truncateSync(p, 1000);
    expect(() => f.read("a")).toThrow(/tensor "a": file ended after 1000 bytes \(truncated\?\)/);
    f.close();
  });
  it("out-of-order header entries are fine when the offsets tile the data", () => {
    const data = new Float32Array([1, 2, 3]);
    const p = rawFile({ b: t("F32", [2], [4, 12]), a: t("F32", [1], [0, 4]) }, new Uint8Array(data.buffer));
    const f = openSafetensors(p);
    expect(f.names()).toEqual(["a", "b"]);
    expect([...f.read("b")]).toEqual([2, 3]);
    f.close();
  });
});

describe("streaming atomic writer", () => {
  it("leaves the old file until commit, and nothing behind on abort", () => {
    const sub = join(dir, "atomic");
    const p = join(sub, "f.bin");
    const w1 = openAtomicWriter(p);
    w1.write("old");
    w1.commit();
    const w2 = openAtomicWriter(p);
    w2.write(new Uint8Array([1, 2, 3]));
    w2.write("xy");
    expect(w2.bytesWritten).toBe(5);
    expect(readFileSync(p, "utf8")).toBe("old");
    w2.abort();
    expect(readdirSync(sub)).toEqual(["f.bin"]);
    expect(readFileSync(p, "utf8")).toBe("old");
    expect(() => w2.write("z")).toThrow(/already committed or aborted/);
    const w3 = openAtomicWriter(p);
    w3.write("new");
    w3.commit();
    expect(readFileSync(p, "utf8")).toBe("new");
    expect(readdirSync(sub)).toEqual(["f.bin"]);
  });
});
