// Conformance with Hugging Face transformers: every checkpoint in tests/fixtures/hf-reference/ (written
// by transformers 5.17 with generate.py there) must give the reference logits within 1e-4 at the
// first and last position, the same argmax at every position, the same 16 greedy tokens with the KV
// cache, and the same input_ids from the tokenizer. On CPU in this process; on WebGPU in child
// processes running `r1lab logits --device webgpu` (one process can start only one device), only
// where an adapter exists.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runR1lab } from "./helpers/run-r1lab.ts";
import { logitsSummary } from "../src/cli/logits.ts";
import { initEngine } from "../src/engine/device.ts";
import { generate } from "../src/generate/generate.ts";
import { type LoadedModel, loadModel } from "../src/hf/checkpoint.ts";
import { mergeTokenIds } from "../src/hf/generation-config.ts";

const ROOT = join(import.meta.dirname, "..");
const FIXTURES = join(ROOT, "tests/fixtures/hf-reference");
const NAMES = readdirSync(FIXTURES, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();
const TOL = 1e-4;

interface Reference {
  text: string;
  input_ids: number[];
  logits_first: number[];
  logits_last: number[];
  argmax_all: number[];
  greedy_new_ids: number[];
}
const ref = (name: string): Reference =>
  JSON.parse(readFileSync(join(FIXTURES, name, "reference.json"), "utf8"));

function maxAbsDiff(a: number[], b: number[]): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

it("finds the three reference checkpoints", () => {
  expect(NAMES).toEqual(["tiny-deepseek-v3", "tiny-llama", "tiny-qwen2"]);
});

describe("cpu", () => {
  const models = new Map<string, LoadedModel>();
  beforeAll(async () => {
    await initEngine({ device: "cpu" });
    for (const n of NAMES) models.set(n, await loadModel(join(FIXTURES, n)));
  });

  describe.each(NAMES)("%s", (name) => {
    it("logits within 1e-4 of transformers, argmax equal at every position", async () => {
      const r = ref(name);
      const m = models.get(name)!;
      const out = await logitsSummary(m.params, m.config, r.input_ids);
      expect(maxAbsDiff(out.logits_first, r.logits_first)).toBeLessThan(TOL);
      expect(maxAbsDiff(out.logits_last, r.logits_last)).toBeLessThan(TOL);
      expect(out.argmax_all).toEqual(r.argmax_all);
    });

    it("greedy decoding with the KV cache gives transformers' 16 tokens", async () => {
      const r = ref(name);
      const m = models.get(name)!;
      const res = await generate(m.params, m.config, [r.input_ids], {
        temperature: 0,
        topP: 1,
        topK: 0,
        maxNewTokens: r.greedy_new_ids.length,
        eosTokenIds: mergeTokenIds(m.generation.eosTokenIds, m.config.eosTokenId),
        seed: 0,
      });
      expect(res.ids[0]).toEqual(r.greedy_new_ids);
    });

    it("the tokenizer reproduces input_ids from the text", () => {
      const r = ref(name);
      const tok = models.get(name)!.tokenizer;
      expect(tok).not.toBeNull();
      expect(tok!.encode(r.text)).toEqual(r.input_ids);
    });
  });
});

// ---- WebGPU, in child processes ----
const R1LAB = join(ROOT, "bin/r1lab.js");

/** The WebGPU adapter as `r1lab doctor` sees it, or the reason there is none. */
function probeAdapter(): { adapter: string | null; reason: string } {
  const r = spawnSync(process.execPath, [R1LAB, "doctor", "--json"], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 90_000,
  });
  if (r.status !== 0)
    return { adapter: null, reason: `r1lab doctor failed (${r.status}): ${r.stderr.slice(-500)}` };
  return JSON.parse(r.stdout).webgpu;
}

const runCli = (args: string[]) => runR1lab(args, { timeoutMs: 280_000 });

/** The one JSON line a command printed on stdout. */
function jsonLine(res: { code: number | null; stdout: string; stderr: string }): any {
  expect(res.code, res.stderr).toBe(0);
  const lines = res.stdout.trim().split("\n");
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0]);
}

const probe = probeAdapter();
const software = probe.adapter !== null && /llvmpipe|lavapipe|swiftshader|software/i.test(probe.adapter);
if (!probe.adapter) console.warn(`[hf-conformance] WebGPU tests skipped: ${probe.reason}`);
else console.warn(`[hf-conformance] WebGPU adapter: ${probe.adapter}`);

describe.skipIf(!probe.adapter)("webgpu (r1lab logits/generate --device webgpu in child processes)", () => {
  // On a software rasteriser (llvmpipe) every new kernel is an LLVM compile: the MoE model's forward
  // takes 1-2 minutes and KV-cached generation over a minute per model, so those run there only
  // when asked (R1LAB_WEBGPU_SLOW=1); the dense models' logits always run.
  const slowOk = !software || process.env.R1LAB_WEBGPU_SLOW === "1";
  // logits / greedy run jax-js's own WebGPU backend (--executor jax). greedy-ort: the same
  // generation on onnxruntime's WebGPU EP (--executor ort, the default), seconds per model even on
  // llvmpipe, so it always runs. logits-ort: `r1lab logits --executor ort`, one compiled forward
  // on that EP (the MoE model's only when slow runs are allowed, like its eager logits).
  const checks = NAMES.flatMap((name) => [
    { name, kind: "logits", run: slowOk || !name.includes("deepseek") },
    { name, kind: "logits-ort", run: slowOk || !name.includes("deepseek") },
    { name, kind: "greedy", run: slowOk },
    { name, kind: "greedy-ort", run: true },
  ]);
  const runs = new Map<string, ReturnType<typeof runCli>>();
  beforeAll(() => {
    // Start every child at once; each test awaits its own.
    for (const c of checks) {
      if (!c.run) continue;
      const ids = ref(c.name).input_ids.join(",");
      const common = ["--model", join(FIXTURES, c.name), "--input-ids", ids, "--device", "webgpu"];
      const gen = ["generate", ...common, "--greedy", "--json", "--max-new-tokens", "16"];
      const args =
        c.kind === "logits"
          ? ["logits", ...common, "--executor", "jax"]
          : c.kind === "logits-ort"
            ? ["logits", ...common, "--executor", "ort"]
            : c.kind === "greedy"
              ? [...gen, "--executor", "jax"]
              : [...gen, "--executor", "ort"];
      runs.set(`${c.name}/${c.kind}`, runCli(args));
    }
  });

  for (const c of checks) {
    if (!c.run) {
      console.warn(
        `[hf-conformance] webgpu ${c.name} ${c.kind} skipped: software adapter; set R1LAB_WEBGPU_SLOW=1 to run it`,
      );
    }
    const title =
      c.kind === "logits"
        ? `${c.name}: logits on jax-js's WebGPU backend (--executor jax) within 1e-4, argmax equal`
        : c.kind === "logits-ort"
          ? `${c.name}: logits on onnxruntime's WebGPU EP (--executor ort) within 1e-4, argmax equal`
          : c.kind === "greedy"
            ? `${c.name}: greedy ids with the KV cache on jax-js's WebGPU backend (--executor jax)`
            : `${c.name}: greedy ids on onnxruntime's WebGPU EP (--executor ort)`;
    it.skipIf(!c.run)(title, { timeout: 300_000 }, async () => {
      const r = ref(c.name);
      const out = jsonLine(await runs.get(`${c.name}/${c.kind}`)!);
      if (!c.kind.startsWith("logits")) {
        expect(out.new_ids).toEqual(r.greedy_new_ids);
        return;
      }
      expect(maxAbsDiff(out.logits_first, r.logits_first)).toBeLessThan(TOL);
      expect(maxAbsDiff(out.logits_last, r.logits_last)).toBeLessThan(TOL);
      expect(out.argmax_all).toEqual(r.argmax_all);
    });
  }
});
