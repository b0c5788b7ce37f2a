// `r1lab eval` end to end: a tiny r1lab checkpoint on a synthetic task (native backend), an HF
// fixture on gsm8k-style items, and an OpenAI-compatible loopback server whose answers are known,
// so pass@1, cons@K and pass@k are known numbers; resume generates only the missing samples.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NativeBackend } from "../src/backends/native.ts";
import { evalCommand } from "../src/cli/eval.ts";
import { initEngine } from "../src/engine/device.ts";
import { initParams } from "../src/model/init.ts";
import { tinyDeepSeek } from "../src/model/presets.ts";
import { CharTokenizer, PRINTABLE_ASCII } from "../src/tasks/char-tokenizer.ts";
import { jsonLines, quiet, writeRunFolder } from "./helpers/run-folder.ts";

const tmp = mkdtempSync(join(tmpdir(), "r1lab-eval-run-"));
const read = (p: string) => JSON.parse(readFileSync(p, "utf8"));
// Three gsm8k-style items written for this test; the loopback server answers each by its choice index.
const ITEMS = [
  { question: "Ann has 3 pens and buys 4 more. How many pens?", answer: "3 + 4 = 7\n#### 7" },
  { question: "Bo has 9 cups and breaks 4. How many cups?", answer: "9 - 4 = 5\n#### 5" },
  { question: "Cy reads 2 pages a day for 3 days. How many pages?", answer: "2 * 3 = 6\n#### 6" },
];
const ANSWERS: Record<string, string[]> = {
  "Ann has": ["7", "7", "8", "7"], // 3 of 4 right, majority right
  "Bo has": ["5", "9", "9", "9"], // 1 of 4 right, majority wrong
  "Cy reads": ["6", "6", "6", "6"],
};
const gsm = join(tmp, "gsm.jsonl");
writeFileSync(gsm, `${ITEMS.map((x) => JSON.stringify(x)).join("\n")}\n`);

let server: Server;
let url = "";
/** Completions the server generated (sum of n over requests). */
let generated = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => {
      body += d;
    });
    req.on("end", () => {
      res.setHeader("content-type", "application/json");
      if (req.url === "/v1/models") return res.end(JSON.stringify({ data: [{ id: "m" }] }));
      const b = JSON.parse(body);
      const text: string = b.messages.at(-1).content;
      const key = Object.keys(ANSWERS).find((k) => text.includes(k))!;
      // Continue where the sample indices of this request start (a resumed problem asks for fewer).
      const offset = 4 - b.n;
      generated += b.n;
      const choices = Array.from({ length: b.n }, (_, i) => ({
        index: i,
        message: {
          role: "assistant",
          content: `<think>adding</think> so \\boxed{${ANSWERS[key][offset + i]}}`,
        },
        finish_reason: "stop",
      }));
      res.end(JSON.stringify({ choices }));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  await initEngine({ device: "cpu" });
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
  rmSync(tmp, { recursive: true, force: true });
});

const openaiArgs = (out: string, extra: Record<string, string> = {}) => ({
  model: url,
  backend: "openai",
  task: "gsm8k",
  data: gsm,
  out,
  samples: "4",
  concurrency: "2",
  ...extra,
});

describe("r1lab eval, openai backend", () => {
  it("pass@1, cons@K and pass@k from known answers", async () => {
    const out = join(tmp, "openai");
    generated = 0;
    const printed = await quiet(() => evalCommand(openaiArgs(out, { limit: "2" })));
    const r = read(join(out, "results.json"));
    expect(r.task).toBe("gsm8k");
    expect(r.n_problems).toBe(2);
    expect(r.samples_per_problem).toBe(4);
    expect(r["pass@1"]).toBeCloseTo((3 / 4 + 1 / 4) / 2, 12);
    expect(r["cons@4"]).toBe(0.5);
    // pass@2: 1 - C(n-c,2)/C(n,2): problem 1 gives 1, problem 2 gives 1 - 3/6.
    expect(r["pass@k"]["2"]).toBeCloseTo((1 + 0.5) / 2, 12);
    expect(r["pass@k"]["4"]).toBe(1);
    expect(r.config).toMatchObject({
      backend: "openai",
      temperature: 0.6,
      top_p: 0.95,
      samples_per_problem: 4,
      limit: 2,
    });
    expect(printed).toMatch(/pass@1/);
    const s = jsonLines(join(out, "samples.jsonl"));
    expect(s).toHaveLength(8);
    expect(s[0]).toMatchObject({ id: "0", sample_index: 0, extracted: "7", correct: true });
    expect(s.filter((x) => x.id === "1").map((x) => x.correct)).toEqual([true, false, false, false]);
    expect(generated).toBe(8);
  });

  it("with OPENAI_BASE_URL set, --model is the model name sent to that server", async () => {
    const out = join(tmp, "openai-env");
    const saved = process.env.OPENAI_BASE_URL;
    process.env.OPENAI_BASE_URL = url;
    try {
      await quiet(() => evalCommand(openaiArgs(out, { limit: "1", model: "served-model" })));
    } finally {
      if (saved === undefined) delete process.env.OPENAI_BASE_URL;
      else process.env.OPENAI_BASE_URL = saved;
    }
    const r = read(join(out, "results.json"));
    expect(r.config).toMatchObject({ backend: "openai", model_name: "served-model" });
    expect(r.config.model).toBe(url);
  });

  it("resumes: finished samples are not generated again", async () => {
    const out = join(tmp, "openai");
    generated = 0;
    await quiet(() => evalCommand(openaiArgs(out, { limit: "3" })));
    expect(generated).toBe(4); // only problem 2
    expect(read(join(out, "results.json")).n_problems).toBe(3);
    // Cut the last two samples (an interrupted run): only they are asked for again.
    const text = readFileSync(join(out, "samples.jsonl"), "utf8").split("\n").filter(Boolean);
    writeFileSync(
      join(out, "samples.jsonl"),
      `${text.slice(0, -2).join("\n")}\n${text.at(-2)!.slice(0, 10)}`,
    );
    generated = 0;
    await quiet(() => evalCommand(openaiArgs(out, { limit: "3" })));
    expect(generated).toBe(2);
    const r = read(join(out, "results.json"));
    expect(r["pass@1"]).toBeCloseTo((3 / 4 + 1 / 4 + 1) / 3, 12);
    expect(jsonLines(join(out, "samples.jsonl"))).toHaveLength(12);
    // Different sampling settings in the same folder are refused.
    await expect(quiet(() => evalCommand(openaiArgs(out, { temperature: "1" })))).rejects.toThrow(
      /temperature/,
    );
  });
});

describe("r1lab eval, native backend", () => {
  it("evaluates a tiny r1lab checkpoint on a synthetic task (R1-Zero template, BOS)", async () => {
    const tok = new CharTokenizer();
    const c = tinyDeepSeek(tok.vocabSize, {
      hiddenSize: 32,
      numHiddenLayers: 2,
      numAttentionHeads: 2,
      numKeyValueHeads: 2,
      intermediateSize: 48,
      nRoutedExperts: 4,
      nGroup: 2,
      topkGroup: 1,
      numExpertsPerTok: 2,
      moeIntermediateSize: 16,
      qLoraRank: 16,
      kvLoraRank: 8,
      qkNopeHeadDim: 8,
      qkRopeHeadDim: 4,
      vHeadDim: 8,
      numNextnPredictLayers: 0,
    });
    const { checkpoint: model } = await writeRunFolder(join(tmp, "run"), {
      config: c,
      params: initParams(c, 0),
      template: "P: {problem}\nA:",
      maxCompletionLength: 6,
    });
    const out = join(tmp, "native");
    const args = {
      model,
      backend: "native",
      task: "arithmetic",
      limit: "2",
      samples: "2",
      out,
      "batch-size": "3",
    };
    await quiet(() => evalCommand(args));
    const r = read(join(out, "results.json"));
    expect(Object.keys(r)).toEqual(
      expect.arrayContaining([
        "task",
        "n_problems",
        "samples_per_problem",
        "pass@1",
        "cons@2",
        "pass@k",
        "config",
      ]),
    );
    expect(r).toMatchObject({ task: "arithmetic", n_problems: 2, samples_per_problem: 2 });
    expect(r.config).toMatchObject({ prompt_template: "P: {problem}\nA:", max_tokens: 6, data: "gen:test" });
    const s = jsonLines(join(out, "samples.jsonl"));
    expect(s).toHaveLength(4);
    for (const x of s) expect(x.completion.length).toBeLessThanOrEqual(6 * 9); // <= 6 tokens ("</answer>" is one)
    // The same seed gives the same completions.
    const again = join(tmp, "native2");
    await quiet(() => evalCommand({ ...args, out: again }));
    expect(jsonLines(join(again, "samples.jsonl")).map((x) => x.completion)).toEqual(
      s.map((x) => x.completion),
    );

    // The backend itself: BOS first for r1lab checkpoints, and stop strings end the text.
    const backend = await NativeBackend.load({ model, bosPrefix: true, batchSize: 2 });
    try {
      expect(backend.encodeRequest({ prompt: "P: 1" })).toEqual([tok.bosId, ...tok.encode("P: 1")]);
      const stops = [...PRINTABLE_ASCII]; // every character: the text must end before its first one
      const [res] = await backend.generate([{ prompt: "P: 1" }], {
        temperature: 1,
        topP: 1,
        maxTokens: 8,
        n: 3,
        seed: 1,
        stop: stops,
      });
      expect(res.completions).toEqual(["", "", ""]);
      expect(res.finishReasons).toEqual(["stop", "stop", "stop"]);
    } finally {
      await backend.close();
    }
  }, 60_000);

  it("evaluates an HF folder on gsm8k-style items", async () => {
    const out = join(tmp, "qwen");
    const model = join(import.meta.dirname, "fixtures/hf-reference/tiny-qwen2");
    await quiet(() =>
      evalCommand({
        model,
        backend: "native",
        task: "gsm8k",
        data: gsm,
        limit: "1",
        samples: "2",
        "max-tokens": "4",
        out,
      }),
    );
    const r = read(join(out, "results.json"));
    expect(r).toMatchObject({ task: "gsm8k", n_problems: 1, samples_per_problem: 2 });
    expect(r.config.backend_name).toBe(`native:${model}`);
    expect(jsonLines(join(out, "samples.jsonl"))).toHaveLength(2);
  }, 60_000);
});

describe("r1lab eval, errors", () => {
  it("names what is wrong", async () => {
    const out = join(tmp, "err");
    await expect(evalCommand({ ...openaiArgs(out), task: "gsm9k" })).rejects.toThrow(
      /unknown --task 'gsm9k'; known: .*gsm8k/,
    );
    await expect(evalCommand({ ...openaiArgs(out), data: undefined })).rejects.toThrow(
      /--data is required for --task gsm8k/,
    );
    await expect(evalCommand({ ...openaiArgs(out), model: "http://127.0.0.1:1/v1" })).rejects.toThrow(
      /cannot reach the server/,
    );
    await expect(evalCommand({ ...openaiArgs(out), backend: "native", model: tmp })).rejects.toThrow(
      /no config.json/,
    );
    await expect(evalCommand({ ...openaiArgs(out), backend: "onnx" })).rejects.toThrow(
      /--backend onnx: --model must be an ONNX model folder or \.onnx file, got the URL/,
    );
  });
});
