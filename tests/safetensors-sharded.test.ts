// Sharded checkpoints: transformers-style shards + model.safetensors.index.json written and read
// back, the single-file case, stale shard clean-up, and broken indexes.
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { WriteTensor } from "../src/engine/safetensors.ts";
import { openSafetensors, writeSafetensors } from "../src/engine/safetensors.ts";
import { openCheckpoint, planShards, shardFileName, writeShardedSafetensors } from "../src/engine/sharded.ts";

const root = mkdtempSync(join(tmpdir(), "r1lab-shard-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => {
  const d = join(root, String(n++));
  mkdirSync(d);
  return d;
};

const ramp = (len: number, k: number) => new Float32Array(len).map((_, i) => k + i / 8);

/** 4 layers of 3 tensors: 400 + 4 + 100 bytes (F32, F32, BF16) per layer. */
function model(): Record<string, WriteTensor> {
  const t: Record<string, WriteTensor> = {};
  for (let l = 0; l < 4; l++) {
    t[`model.layers.${l}.mlp.weight`] = { dtype: "F32", shape: [10, 10], data: ramp(100, l) };
    t[`model.layers.${l}.norm.weight`] = { dtype: "F32", shape: [1], data: ramp(1, -l) };
    t[`model.layers.${l}.attn.weight`] = { dtype: "BF16", shape: [5, 10], data: ramp(50, l) };
  }
  t["lm_head.weight"] = { dtype: "F32", shape: [30, 10], data: ramp(300, 7) }; // 1200 bytes > max
  return t;
}

describe("sharded checkpoints", () => {
  it("plans shards like huggingface_hub: fill in order, oversized tensors alone", () => {
    // running sizes: L0 mlp 400, norm 404, attn 504, L1 mlp 904, norm 908, L1 attn would make 1008
    // -> new shard; L2 ... L3 mlp would make 1004 -> new shard; lm_head (1200) is over the limit on
    // its own -> its own shard, placed before the still-open shard of layer 3.
    const L = (l: number, k: string) => `model.layers.${l}.${k}.weight`;
    expect(planShards(model(), 1000)).toEqual([
      [L(0, "mlp"), L(0, "norm"), L(0, "attn"), L(1, "mlp"), L(1, "norm")],
      [L(1, "attn"), L(2, "mlp"), L(2, "norm"), L(2, "attn")],
      ["lm_head.weight"],
      [L(3, "mlp"), L(3, "norm"), L(3, "attn")],
    ]);
    expect(shardFileName(2, 13)).toBe("model-00002-of-00013.safetensors");
  });

  it("writes shards and an index, and reads every tensor back", () => {
    const dir = fresh();
    const tensors = model();
    const { files, totalSize } = writeShardedSafetensors(dir, tensors, { maxShardBytes: 1000 });
    expect(files).toEqual([1, 2, 3, 4].map((i) => `model-0000${i}-of-00004.safetensors`));
    expect(totalSize).toBe(4 * 504 + 1200);
    expect(readdirSync(dir).sort()).toEqual([...files, "model.safetensors.index.json"].sort());
    const index = JSON.parse(readFileSync(join(dir, "model.safetensors.index.json"), "utf8"));
    expect(index.metadata).toEqual({ total_size: totalSize });
    expect(Object.keys(index.weight_map)).toEqual(Object.keys(tensors).sort());
    expect(index.weight_map["lm_head.weight"]).toBe(files[2]);
    expect(index.weight_map["model.layers.3.attn.weight"]).toBe(files[3]);
    for (const f of files) {
      const s = openSafetensors(join(dir, f));
      expect(s.metadata).toEqual({ format: "pt" });
      expect(s.names().every((name) => index.weight_map[name] === f)).toBe(true);
      s.close();
    }

    const ck = openCheckpoint(dir);
    expect(ck.files.sort()).toEqual(files);
    expect(ck.names().sort()).toEqual(Object.keys(tensors).sort());
    for (const [name, t] of Object.entries(tensors)) {
      expect(ck.info(name)).toEqual({
        dtype: t.dtype,
        shape: t.shape,
        byteLength: t.data.length * (t.dtype === "BF16" ? 2 : 4),
      });
      expect(ck.read(name)).toEqual(t.data); // the ramp's values are exact in BF16
      expect(ck.fileOf(name)).toBe(index.weight_map[name]);
    }
    expect(() => ck.read("missing")).toThrow(/no tensor named "missing"/);
    ck.close();
  });

  it("a checkpoint that fits one shard is a plain model.safetensors; stale shards are removed", () => {
    const dir = fresh();
    writeShardedSafetensors(dir, model(), { maxShardBytes: 1000 });
    const { files } = writeShardedSafetensors(dir, model(), { maxShardBytes: 10_000 });
    expect(files).toEqual(["model.safetensors"]);
    expect(readdirSync(dir)).toEqual(["model.safetensors"]);
    const ck = openCheckpoint(dir);
    expect(ck.names().length).toBe(13);
    expect([...ck.read("model.layers.2.norm.weight")]).toEqual([-2]);
    ck.close();
    // and back to shards: the single file goes
    writeShardedSafetensors(dir, model(), { maxShardBytes: 2000 });
    expect(existsSync(join(dir, "model.safetensors"))).toBe(false);
    expect(openCheckpoint(join(dir, "model.safetensors.index.json")).files.length).toBeGreaterThan(1);
  });

  it("opens a single .safetensors file by path", () => {
    const dir = fresh();
    writeSafetensors(join(dir, "other.safetensors"), {
      x: { dtype: "F32", shape: [2], data: new Float32Array([1, 2]) },
    });
    const ck = openCheckpoint(join(dir, "other.safetensors"));
    expect(ck.fileOf("x")).toBe("other.safetensors");
    expect([...ck.read("x")]).toEqual([1, 2]);
    ck.close();
  });

  it("refuses a missing shard, a tensor absent from its shard, a bad index, and an empty folder", () => {
    const dir = fresh();
    const { files } = writeShardedSafetensors(dir, model(), { maxShardBytes: 1000 });
    const indexPath = join(dir, "model.safetensors.index.json");
    const index = JSON.parse(readFileSync(indexPath, "utf8"));

    rmSync(join(dir, files[1]));
    expect(() => openCheckpoint(dir)).toThrow(
      new RegExp(
        `index.json: shard ${files[1].replace(/\./g, "\\.")} \\(listed for tensor "model\\.layers\\.1\\.attn\\.weight"\\) is missing`,
      ),
    );

    writeShardedSafetensors(dir, model(), { maxShardBytes: 1000 });
    writeFileSync(
      indexPath,
      JSON.stringify({ ...index, weight_map: { ...index.weight_map, "ghost.weight": files[0] } }),
    );
    expect(() => openCheckpoint(dir)).toThrow(
      /tensor "ghost.weight" is listed in model-00001-of-00004.safetensors but that shard does not hold it/,
    );

    writeFileSync(indexPath, "{not json");
    expect(() => openCheckpoint(dir)).toThrow(/index.json: not valid JSON/);
    writeFileSync(indexPath, JSON.stringify({ weight_map: { a: "../etc/passwd" } }));
    expect(() => openCheckpoint(dir)).toThrow(/weight_map\["a"\] must be a file name in the folder/);
    writeFileSync(indexPath, JSON.stringify({ metadata: {} }));
    expect(() => openCheckpoint(dir)).toThrow(/"weight_map" must be an object/);

    expect(() => openCheckpoint(fresh())).toThrow(
      /no model.safetensors or model.safetensors.index.json there/,
    );
  });
});
