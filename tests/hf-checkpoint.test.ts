// Loading and saving whole models in Hugging Face format (src/hf/checkpoint.ts): bf16 and sharded
// round trips, `org/name` from a Hugging Face cache layout, FP8 block-scale dequantisation, the one
// error that lists every missing/unexpected/mis-shaped tensor, an unknown model_type, a random
// DeepSeek-style model with MTP saved and loaded back bit for bit, and the peak memory of a load.
import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initEngine } from "../src/engine/device.ts";
import { e4m3ToFloat } from "../src/engine/dtypes.ts";
import { fromArray } from "../src/engine/ops.ts";
import { fromHost, type Params, toHost } from "../src/engine/params.ts";
import { openSafetensors, type WriteTensor, writeSafetensors } from "../src/engine/safetensors.ts";
import { tidy } from "../src/engine/scope.ts";
import { type LoadedModel, loadModel, saveModel } from "../src/hf/checkpoint.ts";
import { toHfConfig } from "../src/hf/config.ts";
import { CheckpointMismatchError } from "../src/hf/tensor-set.ts";
import type { ModelConfig } from "../src/model/config.ts";
import { initParams, paramShapes } from "../src/model/init.ts";
import { causalInputs } from "../src/model/inputs.ts";
import { tinyDeepSeek, tinyDense } from "../src/model/presets.ts";
import { forward } from "../src/model/transformer.ts";

const ROOT = join(import.meta.dirname, "..");
const FIXTURES = join(ROOT, "tests/fixtures/hf-reference");
const IDS = [278, 275, 326, 279, 333, 33, 259, 266, 32];
let tmp: string;
let deepseek: LoadedModel;

async function allLogits(p: Params, c: ModelConfig, ids = IDS): Promise<Float32Array> {
  const y = tidy(
    () => forward(p, c, fromArray(ids, [1, ids.length], "int32"), causalInputs(c, 1, ids.length)).logits,
  );
  const host = (await toHost(y)) as Float32Array;
  y.dispose();
  return host;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** A copy of a fixture folder whose tensors went through `edit` (name -> tensor; delete to drop). */
function editedFixture(
  name: string,
  out: string,
  edit: (t: Record<string, WriteTensor>) => void,
  config?: (j: any) => void,
) {
  mkdirSync(out, { recursive: true });
  const src = join(FIXTURES, name);
  for (const f of readdirSync(src)) if (f !== "model.safetensors") copyFileSync(join(src, f), join(out, f));
  const f = openSafetensors(join(src, "model.safetensors"));
  const t: Record<string, WriteTensor> = {};
  for (const n of f.names()) t[n] = { dtype: "F32", shape: f.info(n).shape, data: f.read(n) };
  f.close();
  edit(t);
  writeSafetensors(join(out, "model.safetensors"), t, { format: "pt" });
  if (config) {
    const j = JSON.parse(readFileSync(join(out, "config.json"), "utf8"));
    config(j);
    writeFileSync(join(out, "config.json"), JSON.stringify(j));
  }
  return out;
}

beforeAll(async () => {
  await initEngine({ device: "cpu" });
  tmp = mkdtempSync(join(tmpdir(), "r1lab-hf-ckpt-"));
  deepseek = await loadModel(join(FIXTURES, "tiny-deepseek-v3"));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("round trips", () => {
  it("bf16: weights stored as BF16 (routing bias F32), logits within bf16 tolerance", async () => {
    const dir = join(tmp, "bf16");
    await saveModel(dir, deepseek, { dtype: "bfloat16" });
    const f = openSafetensors(join(dir, "model.safetensors"));
    expect(f.info("model.layers.0.self_attn.kv_a_proj_with_mqa.weight").dtype).toBe("BF16");
    expect(f.info("model.layers.1.mlp.gate.e_score_correction_bias").dtype).toBe("F32");
    f.close();
    expect(JSON.parse(readFileSync(join(dir, "config.json"), "utf8")).torch_dtype).toBe("bfloat16");
    const back = await loadModel(dir);
    const a = await allLogits(deepseek.params, deepseek.config);
    const b = await allLogits(back.params, back.config);
    const d = maxAbsDiff(a, b);
    // bf16 keeps 8 significant bits: weights move by up to 2^-9 relative, the logits by ~1e-3 here.
    expect(d).toBeGreaterThan(0);
    expect(d).toBeLessThan(2e-2);
    expect(back.tokenizer!.encode("What is 12 plus 30? <think>")).toEqual(IDS);
  });

  it("sharded: a small maxShardBytes writes shards + index, and loads with identical logits", async () => {
    const dir = join(tmp, "sharded");
    await saveModel(dir, deepseek, { maxShardBytes: 150_000 });
    const files = readdirSync(dir).filter((f) => f.endsWith(".safetensors"));
    expect(files.length).toBeGreaterThan(2);
    expect(files.every((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f))).toBe(true);
    const index = JSON.parse(readFileSync(join(dir, "model.safetensors.index.json"), "utf8"));
    expect(Object.keys(index.weight_map).length).toBe(Object.keys(deepseek.params).length);
    const back = await loadModel(dir);
    expect(
      maxAbsDiff(
        await allLogits(deepseek.params, deepseek.config),
        await allLogits(back.params, back.config),
      ),
    ).toBe(0);
  });

  it("loads org/name from a Hugging Face cache layout (blobs, snapshots, refs) by branch and by commit", async () => {
    const home = join(tmp, "hf-home");
    const repo = join(home, "hub", "models--r1lab-test--tiny-llama");
    const commit = "0123456789abcdef0123456789abcdef01234567";
    const snap = join(repo, "snapshots", commit);
    mkdirSync(join(repo, "blobs"), { recursive: true });
    mkdirSync(snap, { recursive: true });
    mkdirSync(join(repo, "refs"), { recursive: true });
    writeFileSync(join(repo, "refs", "main"), commit);
    for (const [i, f] of readdirSync(join(FIXTURES, "tiny-llama")).entries()) {
      const blob = join(repo, "blobs", `blob${i}`);
      copyFileSync(join(FIXTURES, "tiny-llama", f), blob);
      symlinkSync(`../../blobs/blob${i}`, join(snap, f));
    }
    const saved = { HF_HOME: process.env.HF_HOME, HF_HUB_CACHE: process.env.HF_HUB_CACHE };
    process.env.HF_HOME = home;
    delete process.env.HF_HUB_CACHE;
    try {
      const direct = await loadModel(join(FIXTURES, "tiny-llama"));
      const byId = await loadModel("r1lab-test/tiny-llama");
      expect(byId.dir).toBe(snap);
      const byCommit = await loadModel("r1lab-test/tiny-llama", { revision: commit });
      const want = await allLogits(direct.params, direct.config);
      expect(maxAbsDiff(want, await allLogits(byId.params, byId.config))).toBe(0);
      expect(maxAbsDiff(want, await allLogits(byCommit.params, byCommit.config))).toBe(0);
      await expect(loadModel("r1lab-test/not-there")).rejects.toThrow(/not found/);
    } finally {
      for (const [k, v] of Object.entries(saved))
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
    }
  });
});

describe("reading checkpoints", () => {
  it("dequantises F8_E4M3 weights with their 128x128 block scales", async () => {
    const w = "model.layers.0.mlp.down_proj.weight";
    let shape: number[] = [];
    const bytes = new Uint8Array(0);
    let raw = bytes;
    const dir = editedFixture("tiny-llama", join(tmp, "fp8"), (t) => {
      shape = t[w].shape;
      raw = new Uint8Array(shape[0] * shape[1]);
      for (let i = 0; i < raw.length; i++) raw[i] = (i * 37) % 0x7f; // below 0x7f: no NaN codes
      t[w] = { dtype: "F8_E4M3", shape, data: raw };
      t[`${w}_scale_inv`] = { dtype: "F32", shape: [1, 1], data: new Float32Array([0.003]) };
    });
    const m = await loadModel(dir);
    const got = await toHost(m.params[w]);
    expect(m.params[`${w}_scale_inv`]).toBeUndefined();
    for (const i of [0, 1, 5, 100, raw.length - 1])
      expect(got[i]).toBeCloseTo(e4m3ToFloat(raw[i]) * 0.003, 7);
  });

  it("one error lists every missing, unexpected and mis-shaped tensor with its file", async () => {
    const dir = editedFixture("tiny-llama", join(tmp, "broken"), (t) => {
      delete t["model.layers.0.mlp.up_proj.weight"];
      t["model.layers.0.mlp.extra.weight"] = { dtype: "F32", shape: [2, 2], data: new Float32Array(4) };
      const n = t["model.norm.weight"].shape[0];
      t["model.norm.weight"] = { dtype: "F32", shape: [n + 1], data: new Float32Array(n + 1) };
    });
    const err = await loadModel(dir).then(
      () => null,
      (e) => e,
    );
    expect(err).toBeInstanceOf(CheckpointMismatchError);
    expect(err.problems).toHaveLength(3);
    expect(err.message).toContain(dir);
    expect(err.message).toMatch(/missing: model\.layers\.0\.mlp\.up_proj\.weight \[\d+, \d+\]/);
    expect(err.message).toMatch(
      /unexpected: model\.layers\.0\.mlp\.extra\.weight \[2, 2\] F32 in model\.safetensors/,
    );
    expect(err.message).toMatch(
      /shape mismatch: model\.norm\.weight is \[\d+\] in model\.safetensors, config\.json needs \[\d+\]/,
    );
  });

  it("an unknown model_type names the file and the supported types", async () => {
    const dir = editedFixture(
      "tiny-llama",
      join(tmp, "gpt2"),
      () => {},
      (j) => {
        j.model_type = "gpt2";
      },
    );
    await expect(loadModel(dir)).rejects.toThrow(
      /config\.json: model_type "gpt2".*not supported; supported: qwen2, llama/,
    );
  });

  it("a missing e_score_correction_bias starts at zeros", async () => {
    const dir = editedFixture("tiny-deepseek-v3", join(tmp, "nobias"), (t) => {
      for (const n of Object.keys(t)) if (n.endsWith("e_score_correction_bias")) delete t[n];
    });
    const m = await loadModel(dir);
    const b = await toHost(m.params["model.layers.1.mlp.gate.e_score_correction_bias"]);
    expect(Array.from(b)).toEqual(new Array(8).fill(0));
  });
});

describe("a random DeepSeek-style model with MTP saved by r1lab", () => {
  const c = tinyDeepSeek(400, {
    hiddenSize: 64,
    numHiddenLayers: 2,
    intermediateSize: 128,
    moeIntermediateSize: 32,
    qLoraRank: 32,
    kvLoraRank: 16,
    qkNopeHeadDim: 16,
    qkRopeHeadDim: 8,
    // config.json's head_dim is qk_rope_head_dim for deepseek_v3 (DeepseekV3Config), so a config
    // that round-trips exactly says the same.
    headDim: 8,
    vHeadDim: 16,
  });

  it("loads back with identical tensors and logits, MTP under DeepSeek's names", async () => {
    const params = initParams(c, 7, { withMtp: true });
    // A trained routing bias is not zero: make sure it survives the trip.
    const bias = "model.layers.1.mlp.gate.e_score_correction_bias";
    params[bias].dispose();
    params[bias] = fromHost(
      Float32Array.from({ length: c.nRoutedExperts }, (_, i) => (i - 3) * 0.01),
      [c.nRoutedExperts],
    );
    const dir = join(tmp, "random-deepseek");
    await saveModel(dir, { config: c, params, tokenizer: deepseek.tokenizer });
    const f = openSafetensors(join(dir, "model.safetensors"));
    const L = c.numHiddenLayers;
    for (const n of [
      "eh_proj.weight",
      "enorm.weight",
      "hnorm.weight",
      "shared_head.norm.weight",
      "embed_tokens.weight",
      "shared_head.head.weight",
    ]) {
      expect(f.has(`model.layers.${L}.${n}`), n).toBe(true);
    }
    f.close();
    const cfg = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
    expect(cfg.model_type).toBe("deepseek_v3");
    expect(cfg.num_nextn_predict_layers).toBe(1);
    expect(JSON.parse(readFileSync(join(dir, "generation_config.json"), "utf8")).eos_token_id).toBe(
      c.eosTokenId,
    );

    const back = await loadModel(dir);
    expect(back.hasMtp).toBe(true);
    expect(back.config).toEqual(c);
    expect(Object.keys(back.params).sort()).toEqual(Object.keys(paramShapes(c, true)).sort());
    for (const [k, a] of Object.entries(params))
      expect(await toHost(back.params[k]), k).toEqual(await toHost(a));
    expect(maxAbsDiff(await allLogits(params, c), await allLogits(back.params, back.config))).toBe(0);
    expect(back.tokenizer!.encode("What is 12 plus 30? <think>")).toEqual(IDS);
  });

  it("refuses to replace a folder holding files that are not a model's", async () => {
    const dir = join(tmp, "not-a-model");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "notes.txt"), "keep me");
    await expect(saveModel(dir, deepseek)).rejects.toThrow(/notes\.txt.*refusing to replace/);
    expect(readFileSync(join(dir, "notes.txt"), "utf8")).toBe("keep me");
  });

  it("saveModel checks the params against the config with the same listing", async () => {
    const params = initParams(c, 1, { withMtp: false });
    delete params["model.norm.weight"];
    await expect(saveModel(join(tmp, "bad-save"), { config: c, params })).rejects.toThrow(
      /missing: model\.norm\.weight \[64\]/,
    );
  });
});

describe("memory", () => {
  it("loading a ~300 MB checkpoint holds about one copy of the weights (peak RSS)", () => {
    const dir = join(tmp, "big");
    const c: ModelConfig = {
      ...tinyDense(32000),
      modelType: "llama",
      attentionBias: false,
      hiddenSize: 768,
      numAttentionHeads: 12,
      numKeyValueHeads: 4,
      headDim: 64,
      intermediateSize: 2048,
      numHiddenLayers: 4,
      tieWordEmbeddings: false,
    };
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "config.json"), JSON.stringify(toHfConfig(c)));
    const tensors: Record<string, WriteTensor> = {};
    let bytes = 0;
    let largest = 0;
    let s = 12345;
    for (const [name, shape] of Object.entries(paramShapes(c, false))) {
      const d = new Float32Array(shape.reduce((a, b) => a * b, 1));
      for (let i = 0; i < d.length; i++) {
        s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
        d[i] = (s / 2 ** 32 - 0.5) * 0.04;
      }
      tensors[name] = { dtype: "F32", shape, data: d };
      bytes += d.byteLength;
      largest = Math.max(largest, d.byteLength);
    }
    writeSafetensors(join(dir, "model.safetensors"), tensors);
    expect(bytes).toBeGreaterThan(280e6);
    const script = join(tmp, "load-rss.mts");
    writeFileSync(
      script,
      [
        `import { initEngine } from ${JSON.stringify(join(ROOT, "src/engine/device.ts"))};`,
        `import { loadModel } from ${JSON.stringify(join(ROOT, "src/hf/checkpoint.ts"))};`,
        `await initEngine({ device: "cpu" });`,
        "const base = process.memoryUsage().rss;",
        `const m = await loadModel(${JSON.stringify(dir)});`,
        "const peak = process.resourceUsage().maxRSS * 1024;",
        "console.log(JSON.stringify({ base, peak, n: Object.keys(m.params).length }));",
        "process.exit(0);",
      ].join("\n"),
    );
    const r = spawnSync(process.execPath, ["--import", "tsx", script], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 120_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const { base, peak, n } = JSON.parse(r.stdout.trim().split("\n").pop()!);
    expect(n).toBe(Object.keys(tensors).length);
    const grew = peak - base;
    console.log(
      `[hf-checkpoint] load of ${(bytes / 1e6).toFixed(0)} MB (largest tensor ${(largest / 1e6).toFixed(0)} MB): ` +
        `RSS ${(base / 1e6).toFixed(0)} MB after engine start, peak ${(peak / 1e6).toFixed(0)} MB (+${(grew / 1e6).toFixed(0)} MB = ${(grew / bytes).toFixed(2)}x the weights)`,
    );
    // The weights once in engine memory, plus at most about one tensor's host buffer in flight.
    expect(grew).toBeGreaterThan(0.9 * bytes);
    expect(grew).toBeLessThan(bytes + 2 * largest);
  });
});
