// The onnx generation backend: folders written by the exporter (transformers.js layout, with and
// without the Optimum past_key_values) and one written by torch.onnx (tests/fixtures/onnx-torch),
// run by onnxruntime. Greedy decoding must give transformers'
// 16 reference tokens; greedy and seeded sampling must give the native backend's completions for a
// batch of prompts of different lengths; `r1lab eval --backend onnx` must write results.json (and
// the samples of the native backend on the same checkpoint); missing or malformed files, and graphs
// with inputs r1lab cannot feed, must fail with errors naming the file.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NativeBackend } from "../src/backends/native.ts";
import { OnnxBackend, resolveOnnxModel } from "../src/backends/onnx.ts";
import type { SamplingOptions } from "../src/backends/types.ts";
import { evalCommand } from "../src/cli/eval.ts";
import { initEngine } from "../src/engine/device.ts";
import { loadModel } from "../src/hf/checkpoint.ts";
import { mergeTokenIds } from "../src/hf/generation-config.ts";
import { exportOnnx, writeChunks } from "../src/hf/onnx-export.ts";
import { GraphBuilder } from "../src/hf/onnx-graph.ts";
import { DType, modelProto } from "../src/engine/onnx-proto.ts";
import { OnnxDecoder } from "../src/hf/onnx-session.ts";
import { initParams } from "../src/model/init.ts";
import { CharTokenizer } from "../src/tasks/char-tokenizer.ts";
import { runR1lab } from "./helpers/run-r1lab.ts";
import { jsonLines, quiet, tinyCharDense, writeRunFolder } from "./helpers/run-folder.ts";

const FIXTURES = join(import.meta.dirname, "fixtures/hf-reference");
const tmp = mkdtempSync(join(tmpdir(), "r1lab-onnx-backend-"));
const MODES = ["past", "no-past"] as const;
const exported = (name: string, mode: string) => join(tmp, `${name}-${mode}`);
/** tiny-qwen2 exported by torch.onnx in the Optimum layout (tests/fixtures/onnx-torch/generate.py). */
const TORCH = join(import.meta.dirname, "fixtures/onnx-torch/tiny-qwen2-optimum");
const folderOf = (name: string, mode: string) => (mode === "torch" ? TORCH : exported(name, mode));
beforeAll(async () => {
  await initEngine({ device: "cpu" });
  for (const name of ["tiny-qwen2", "tiny-llama", "tiny-deepseek-v3"]) {
    const m = await loadModel(join(FIXTURES, name));
    for (const mode of MODES)
      await exportOnnx(
        exported(name, mode),
        { config: m.config, params: m.params, tokenizer: m.tokenizer },
        { withPast: mode === "past" },
      );
  }
}, 60_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.each([
  ["tiny-qwen2", [...MODES, "torch"]],
  ["tiny-llama", MODES],
  ["tiny-deepseek-v3", MODES],
] as const)("%s", (name, modes) => {
  it.each(modes as readonly string[])("greedy decoding (%s) gives transformers' 16 tokens", async (mode) => {
    const ref = JSON.parse(readFileSync(join(FIXTURES, name, "reference.json"), "utf8"));
    const cfg = JSON.parse(readFileSync(join(FIXTURES, name, "config.json"), "utf8"));
    const gen = JSON.parse(readFileSync(join(FIXTURES, name, "generation_config.json"), "utf8"));
    const dec = await OnnxDecoder.open(join(folderOf(name, mode), "onnx/model.onnx"), null);
    expect(dec.hasPast).toBe(mode !== "no-past");
    const res = await dec.generate([ref.input_ids], {
      temperature: 0,
      topP: 1,
      topK: 0,
      maxNewTokens: ref.greedy_new_ids.length,
      eosTokenIds: mergeTokenIds(gen.eos_token_id, cfg.eos_token_id),
      seed: 0,
    });
    expect(res.ids[0]).toEqual(ref.greedy_new_ids);
    await dec.close();
  });
});

describe("same completions as the native backend (tiny-qwen2, batch of mixed prompt lengths)", () => {
  const requests = [
    { prompt: "Hello there" },
    { prompt: "a much longer prompt, so the others are padded" },
    { prompt: "x" },
  ];
  const settings: [string, SamplingOptions][] = [
    ["greedy", { temperature: 0, topP: 1, maxTokens: 12, n: 2, seed: 0 }],
    ["sampled", { temperature: 1, topP: 0.9, topK: 50, maxTokens: 12, n: 2, seed: 3 }],
  ];
  let native: NativeBackend;
  beforeAll(async () => {
    native = await NativeBackend.load({ model: join(FIXTURES, "tiny-qwen2"), batchSize: 4 });
  });
  afterAll(() => native.close());

  it.each([...MODES, "torch"].flatMap((m) => settings.map(([l, s]) => [m, l, s] as const)))(
    "%s, %s",
    async (mode, _l, opts) => {
      const onnx = await OnnxBackend.load({ model: folderOf("tiny-qwen2", mode), batchSize: 4 });
      expect(onnx.usesKvCache).toBe(mode !== "no-past");
      try {
        const want = await native.generate(requests, opts);
        const got = await onnx.generate(requests, opts);
        expect(got).toEqual(want);
        expect(got[0].usage!.completionTokens).toBeGreaterThan(0);
      } finally {
        await onnx.close();
      }
    },
  );
});

describe("r1lab eval --backend onnx", () => {
  it("writes results.json for an exported r1lab checkpoint, with the native backend's samples", async () => {
    const c = tinyCharDense(new CharTokenizer());
    const { checkpoint: ckpt, model: m } = await writeRunFolder(join(tmp, "run"), {
      config: c,
      params: initParams(c, 0, { withMtp: false }),
      template: "P: {problem}\nA:",
      maxCompletionLength: 6,
    });
    const onnxDir = join(tmp, "run", "checkpoints", "onnx");
    await exportOnnx(onnxDir, m, { fileName: "alt.onnx" });
    const args = { task: "arithmetic", limit: "2", samples: "2", "batch-size": "3" };
    const out = join(tmp, "eval-onnx");
    await quiet(() =>
      evalCommand({ ...args, model: onnxDir, backend: "onnx", "onnx-file": "alt.onnx", out }),
    );
    const r = JSON.parse(readFileSync(join(out, "results.json"), "utf8"));
    expect(r).toMatchObject({ task: "arithmetic", n_problems: 2, samples_per_problem: 2 });
    expect(r.config).toMatchObject({
      backend: "onnx",
      model: join(onnxDir, "onnx", "alt.onnx"),
      batch_size: 3,
      max_tokens: 6,
      prompt_template: "P: {problem}\nA:",
    });
    const s = jsonLines(join(out, "samples.jsonl"));
    expect(s).toHaveLength(4);
    const nativeOut = join(tmp, "eval-native");
    await quiet(() => evalCommand({ ...args, model: ckpt, backend: "native", out: nativeOut }));
    expect(s.map((x) => x.completion)).toEqual(
      jsonLines(join(nativeOut, "samples.jsonl")).map((x) => x.completion),
    );
  }, 60_000);
});

it("an .onnx file as --model: its config and tokenizer are read from the folder above onnx/", () => {
  const dir = exported("tiny-llama", "past");
  expect(resolveOnnxModel(join(dir, "onnx", "model.onnx"))).toEqual({
    dir,
    onnxPath: join(dir, "onnx", "model.onnx"),
  });
  expect(resolveOnnxModel(dir)).toEqual({ dir, onnxPath: join(dir, "onnx", "model.onnx") });
  expect(() => resolveOnnxModel(join(dir, "onnx", "model.onnx"), "x.onnx")).toThrow(/is a file/);
});

describe("errors name the file", () => {
  it("a folder without the ONNX file", async () => {
    await expect(OnnxBackend.load({ model: join(FIXTURES, "tiny-qwen2") })).rejects.toThrow(
      /tiny-qwen2\/onnx\/model\.onnx: no such ONNX file/,
    );
    expect(() => resolveOnnxModel(exported("tiny-qwen2", "past"), "model_fp16.onnx")).toThrow(
      /model_fp16\.onnx: no such ONNX file \(onnx\/ holds model\.onnx\)/,
    );
    await expect(
      evalCommand({
        model: join(FIXTURES, "tiny-qwen2"),
        backend: "onnx",
        task: "arithmetic",
        out: join(tmp, "x"),
      }),
    ).rejects.toThrow(/onnx\/model\.onnx: no such ONNX file/);
  });

  it("a malformed ONNX file", async () => {
    const dir = join(tmp, "broken");
    cpSync(exported("tiny-llama", "no-past"), dir, { recursive: true });
    writeFileSync(join(dir, "onnx", "model.onnx"), "this is not a protobuf");
    await expect(OnnxBackend.load({ model: dir })).rejects.toThrow(
      /broken\/onnx\/model\.onnx: onnxruntime cannot load it/,
    );
  });

  it("a graph with an input r1lab cannot feed", async () => {
    const g = new GraphBuilder("odd");
    const ids = g.input("input_ids", DType.INT64, ["b", "t"]);
    const types = g.input("token_type_ids", DType.INT64, ["b", "t"]);
    const sum = g.op("Cast", [g.op("Add", [ids, types])], { to: DType.FLOAT });
    g.output(g.op("Unsqueeze", [sum, g.ints([2])]), "logits", DType.FLOAT, ["b", "t", 1]);
    const file = join(tmp, "odd.onnx");
    writeChunks(file, modelProto(g.spec()));
    await expect(OnnxDecoder.open(file, null)).rejects.toThrow(
      /odd\.onnx: input 'token_type_ids' is not one r1lab knows how to feed/,
    );
  });
});

describe("r1lab export-onnx (child process)", () => {
  it("exports a fixture; a missing model fails naming the path", async () => {
    const out = join(tmp, "cli-llama");
    const ok = await runR1lab(
      ["export-onnx", "--model", join(FIXTURES, "tiny-llama"), "--out", out, "--no-past"],
      { timeoutMs: 60_000 },
    );
    expect(ok.stderr).toBe("");
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/wrote .*cli-llama\/onnx\/model\.onnx \(no KV cache\)/);
    const onnx = await OnnxBackend.load({ model: out });
    expect(onnx.usesKvCache).toBe(false);
    await onnx.close();
    const bad = await runR1lab(
      ["export-onnx", "--model", join(tmp, "nowhere"), "--out", join(tmp, "cli-bad")],
      { timeoutMs: 60_000 },
    );
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/nowhere/);
  }, 120_000);
});
