// The model commands as a user runs them: `node bin/r1lab.js logits|generate|doctor ...` in child
// processes, their stdout parsed as the one JSON object (or text) they promise, and wrong flags
// exiting with status 2 and a message that names the problem. All children start at once.
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliResult, runR1lab } from "./helpers/run-r1lab.ts";
import { initEngine } from "../src/engine/device.ts";
import { generate } from "../src/generate/generate.ts";
import { loadModel } from "../src/hf/checkpoint.ts";
import { loadTokenizer } from "../src/hf/tokenizer.ts";
import { cacheBytesPerToken } from "../src/model/kv-cache.ts";

const ROOT = join(import.meta.dirname, "..");
const FIX = join(ROOT, "tests/fixtures/hf-reference");
const ref = (name: string) => JSON.parse(readFileSync(join(FIX, name, "reference.json"), "utf8"));
const idsOf = (name: string) => ref(name).input_ids.join(",");

type Result = CliResult;

const r1lab = (args: string[], env: Record<string, string> = {}): Promise<Result> =>
  runR1lab(args, { env, timeoutMs: 110_000 });

/** stdout must be exactly one line of JSON. */
function json(r: Result): any {
  expect(r.code, r.stderr).toBe(0);
  const lines = r.stdout.trim().split("\n");
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0]);
}

/** tiny-llama with a chat template in tokenizer_config.json. */
function chatModel(): string {
  const dir = join(mkdtempSync(join(tmpdir(), "r1lab-cli-chat-")), "tiny-llama-chat");
  mkdirSync(dir);
  for (const f of readdirSync(join(FIX, "tiny-llama")))
    copyFileSync(join(FIX, "tiny-llama", f), join(dir, f));
  const cfg = JSON.parse(readFileSync(join(dir, "tokenizer_config.json"), "utf8"));
  cfg.chat_template =
    "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}\n{% endfor %}{% if add_generation_prompt %}<|assistant|><think>\n{% endif %}";
  writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify(cfg));
  return dir;
}
const CHAT = chatModel();
afterAll(() => rmSync(dirname(CHAT), { recursive: true, force: true }));

const SAMPLING = ["--temperature", "0.9", "--top-p", "0.95", "--top-k", "50", "--seed", "11"];
const runs: Record<string, Promise<Result>> = {};
beforeAll(() => {
  const llama = join(FIX, "tiny-llama");
  const ds = join(FIX, "tiny-deepseek-v3");
  Object.assign(runs, {
    logits: r1lab(["logits", "--model", join(FIX, "tiny-qwen2"), "--input-ids", idsOf("tiny-qwen2")]),
    greedyMla: r1lab([
      "generate",
      "--model",
      ds,
      "--input-ids",
      idsOf("tiny-deepseek-v3"),
      "--max-new-tokens",
      "16",
      "--greedy",
      "--json",
    ]),
    text: r1lab([
      "generate",
      "--model",
      llama,
      "--prompt",
      ref("tiny-llama").text,
      "--max-new-tokens",
      "16",
      "--greedy",
    ]),
    stop: r1lab([
      "generate",
      "--model",
      llama,
      "--prompt",
      ref("tiny-llama").text,
      "--max-new-tokens",
      "16",
      "--greedy",
      "--stop",
      "]",
      "--json",
    ]),
    sampled: r1lab([
      "generate",
      "--model",
      llama,
      "--input-ids",
      idsOf("tiny-llama"),
      "--max-new-tokens",
      "12",
      ...SAMPLING,
      "--json",
    ]),
    chat: r1lab([
      "generate",
      "--model",
      CHAT,
      "--prompt",
      "What is 12 plus 30?",
      "--chat",
      "--max-new-tokens",
      "8",
      "--greedy",
      "--json",
    ]),
    doctorJson: r1lab(["doctor", "--json"]),
    doctorText: r1lab(["doctor"], { R1LAB_THREADS: "1" }),
    badFlag: r1lab(["logits", "--model", llama, "--input-ids", "1,2", "--bogus"]),
    badIds: r1lab(["logits", "--model", llama, "--input-ids", "1,x"]),
    outOfVocab: r1lab(["logits", "--model", llama, "--input-ids", "1,400"]),
    badDevice: r1lab(["logits", "--model", llama, "--input-ids", "1,2", "--device", "tpu"]),
    bothPrompts: r1lab([
      "generate",
      "--model",
      llama,
      "--prompt",
      "a",
      "--input-ids",
      "1",
      "--max-new-tokens",
      "1",
    ]),
    greedyAndT: r1lab([
      "generate",
      "--model",
      llama,
      "--input-ids",
      "1",
      "--max-new-tokens",
      "1",
      "--greedy",
      "--temperature",
      "1",
    ]),
    noModel: r1lab(["logits", "--model", join(FIX, "no-such-model"), "--input-ids", "1"]),
  });
});

describe("r1lab logits", () => {
  it("prints exactly one JSON object with the reference's logits and argmax", async () => {
    const out = json(await runs.logits);
    const r = ref("tiny-qwen2");
    expect(Object.keys(out).sort()).toEqual(["argmax_all", "logits_first", "logits_last"]);
    expect(out.logits_first).toHaveLength(r.logits_first.length);
    for (const k of ["logits_first", "logits_last"]) {
      const diff = out[k].map((x: number, i: number) => Math.abs(x - r[k][i]));
      expect(Math.max(...diff), k).toBeLessThan(1e-4);
    }
    expect(out.argmax_all).toEqual(r.argmax_all);
  });
});

describe("r1lab generate", () => {
  it("--greedy --json on a DeepSeek-V3 model: transformers' ids, and the MLA cache size against MHA", async () => {
    const res = await runs.greedyMla;
    const out = json(res);
    expect(out.new_ids).toEqual(ref("tiny-deepseek-v3").greedy_new_ids);
    expect(typeof out.text).toBe("string");
    const m = await loadModel(join(FIX, "tiny-deepseek-v3"));
    const { actual, mhaEquivalent } = cacheBytesPerToken(m.config);
    expect(out.kv_cache).toMatchObject({
      kind: "mla",
      bytes_per_token: actual,
      mha_bytes_per_token: mhaEquivalent,
    });
    expect(out.kv_cache.reduction).toBeGreaterThan(1);
    expect(res.stderr).toContain(`kv cache: ${actual} bytes/token (MLA latent`);
  });

  it("--prompt prints the decoded text of the greedy tokens", async () => {
    const r = await runs.text;
    expect(r.code, r.stderr).toBe(0);
    const tok = await loadTokenizer(join(FIX, "tiny-llama"));
    expect(r.stdout).toBe(`${tok.decode(ref("tiny-llama").greedy_new_ids, { skipSpecialTokens: true })}\n`);
  });

  it("--stop ends generation at the stop string and cuts it from the text", async () => {
    const out = json(await runs.stop);
    // Greedy text of tiny-llama starts " 12 28]": the stop string arrives with the 3rd token.
    expect(out.new_ids).toEqual(ref("tiny-llama").greedy_new_ids.slice(0, 3));
    expect(out.text).toBe(" 12 28");
    expect(out.finish_reason).toBe("stop");
  });

  it("--chat encodes the prompt with the chat template and generation prompt", async () => {
    await initEngine({ device: "cpu" });
    const m = await loadModel(CHAT);
    const ids = m.tokenizer!.encodeChat([{ role: "user", content: "What is 12 plus 30?" }], {
      addGenerationPrompt: true,
    });
    expect(m.tokenizer!.decode(ids)).toBe("<|user|>What is 12 plus 30?\n<|assistant|><think>\n");
    const want = await generate(m.params, m.config, [ids], {
      temperature: 0,
      topP: 1,
      topK: 0,
      seed: 0,
      maxNewTokens: 8,
      eosTokenIds: [2],
    });
    expect(json(await runs.chat).new_ids).toEqual(want.ids[0]);
  });

  it("sampling flags and seed reproduce generate() in-process exactly", async () => {
    await initEngine({ device: "cpu" });
    const m = await loadModel(join(FIX, "tiny-llama"));
    const want = await generate(m.params, m.config, [ref("tiny-llama").input_ids], {
      temperature: 0.9,
      topP: 0.95,
      topK: 50,
      seed: 11,
      maxNewTokens: 12,
      eosTokenIds: [2],
    });
    const out = json(await runs.sampled);
    expect(out.new_ids).toEqual(want.ids[0]);
    expect(out.new_ids).not.toEqual(ref("tiny-llama").greedy_new_ids.slice(0, out.new_ids.length));
  });
});

describe("r1lab doctor", () => {
  it("--json reports node, versions, cpu threads and pool, webgpu adapter or reason, tools", async () => {
    const d = json(await runs.doctorJson);
    expect(d.node).toBe(process.version);
    expect(d.engine.name).toBe("@jax-js/jax");
    expect(d.engine.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(d.r1lab).toMatch(/^\d+\.\d+\.\d+/);
    expect(d.cpu.threads).toBeGreaterThan(0);
    expect(typeof d.cpu.multiThreaded).toBe("boolean");
    expect(d.cpu.matmulMs).toBeGreaterThan(0);
    if (d.webgpu.adapter === null) expect(d.webgpu.reason.length).toBeGreaterThan(10);
    else {
      // With an adapter, onnxruntime's WebGPU EP ran a device-resident matmul chain and counted its nodes.
      expect(d.webgpu.ortEp.error).toBeUndefined();
      expect(d.webgpu.ortEp.ok).toBe(true);
      expect(d.webgpu.ortEp.placement).toMatch(/^\d+ nodes on WebGPU, \d+ on the CPU/);
      expect(d.webgpu.software).toBe(/llvmpipe/i.test(d.webgpu.adapter));
    }
    // Dawn's own warnings (printed by the WebGPU probe) stay out of doctor's output.
    expect((await runs.doctorJson).stderr).not.toMatch(/artificially reduced/);
    // The sandbox's memory bound: a cgroup per run, or rlimits with the gap stated (docs/security.md).
    expect(d.sandbox.memory).toMatch(
      d.sandbox.cgroup ? /^per-run cgroup v[12] / : /^rlimits only .*not their sum/,
    );
    expect(typeof d.sandbox.ok).toBe("boolean");
    expect(d.executor.name).toBe(process.env.R1LAB_EXECUTOR ?? "ort");
    expect(d.executor.error).toBeUndefined();
    expect(d.executor.checkMs).toBeGreaterThan(0);
    expect(d.executor.onnxruntime).toMatch(/^\d+\.\d+\.\d+/);
    expect(d.tools.map((t: { name: string }) => t.name)).toEqual([
      "bwrap",
      "python3+torch",
      "jupyter",
      "podman",
      "deno",
    ]);
  });

  it("text output honours R1LAB_THREADS", async () => {
    const r = await runs.doctorText;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^node\s+v\d+/m);
    expect(r.stdout).toMatch(/^cpu\s+Wasm, 1 thread of \d+ cores \(R1LAB_THREADS/m);
    expect(r.stdout).toMatch(/^webgpu\s+\S/m);
    expect(r.stdout).toMatch(/^executor\s+(ort|jax) \(/m);
  });
});

describe("bad input exits 2 with a message naming the problem", () => {
  const cases: [string, RegExp][] = [
    ["badFlag", /Unknown option '--bogus'/],
    ["badIds", /--input-ids: 'x' is not a token id/],
    ["outOfVocab", /token id 400 is outside the model's vocabulary \(0\.\.399\)/],
    ["badDevice", /--device must be cpu or webgpu, got 'tpu'/],
    ["bothPrompts", /exactly one of --prompt and --input-ids/],
    ["greedyAndT", /--greedy cannot be combined with --temperature/],
  ];
  for (const [name, msg] of cases) {
    it(name, async () => {
      const r = await runs[name];
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(msg);
    });
  }

  it("a model that is not there exits 1 and says where it looked", async () => {
    const r = await runs.noModel;
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no-such-model.*not found/s);
  });
});
