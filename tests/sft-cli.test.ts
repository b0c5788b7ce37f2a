// `r1lab sft` as a child process on the tiny HF fixtures: the loss on assistant tokens goes down,
// the final folder reloads and gives the reported eval loss, a DeepSeek-V3 model trains its MTP
// module too, and a run killed with SIGKILL resumes (--resume) to the same metrics as an
// uninterrupted run. Usage errors exit 2.
import { spawn } from "node:child_process";
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
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initEngine } from "../src/engine/index.ts";
import { disposeParams } from "../src/engine/params.ts";
import { loadModel, saveModel } from "../src/hf/checkpoint.ts";
import { initParams } from "../src/model/init.ts";
import { tinyDeepSeek } from "../src/model/presets.ts";
import { readSftRecords, recordsToExamples } from "../src/train/sft-loader.ts";
import { sftEvalLoss } from "../src/train/sft.ts";
import { ROOT, runR1lab } from "./helpers/run-r1lab.ts";

const FIXTURES = join(import.meta.dirname, "fixtures", "hf-reference");
const CHATML =
  "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}" +
  "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";
let dir: string;

function modelWithTemplate(name: string): string {
  const d = join(dir, name);
  mkdirSync(d, { recursive: true });
  for (const f of readdirSync(join(FIXTURES, name)))
    if (f !== "reference.json") copyFileSync(join(FIXTURES, name, f), join(d, f));
  writeFileSync(join(d, "chat_template.jinja"), CHATML);
  return d;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "r1lab-sft-cli-"));
  const rows = Array.from({ length: 24 }, (_, i) => {
    const a = ((i * 7) % 9) + 1;
    const b = ((i * 5) % 9) + 1;
    return {
      messages: [
        { role: "user", content: `${a}+${b}?` },
        { role: "assistant", content: `<think>${a}+${b}=${a + b}</think> ${a + b}` },
      ],
    };
  });
  writeFileSync(join(dir, "data.jsonl"), `${rows.map((r) => JSON.stringify(r)).join("\n")}\n`);
  await initEngine({ device: "cpu" });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const metrics = (out: string) =>
  readFileSync(join(out, "sft_metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));

/** `r1lab sft` of `model` on the test's conversations into `out`, sequences of 64 tokens at most, and `flags`. */
const sftArgs = (model: string, out: string, flags: (string | number)[]) => [
  "sft",
  "--model",
  model,
  "--data",
  join(dir, "data.jsonl"),
  "--out",
  out,
  "--max-seq-length",
  "64",
  ...flags.map(String),
];

describe("r1lab sft", () => {
  it("fine-tunes tiny-qwen2 on conversations; the final folder reloads with the reported eval loss", async () => {
    const model = modelWithTemplate("tiny-qwen2");
    const data = join(dir, "data.jsonl");
    const out = join(dir, "qwen");
    const r = await runR1lab(
      sftArgs(model, out, [
        "--eval-data",
        data,
        "--max-steps",
        24,
        "--lr",
        "3e-3",
        "--batch-size",
        4,
        "--packing",
      ]),
      { timeoutMs: 120_000 },
    );
    expect(r.code, r.stderr).toBe(0);
    // --eval-data is the training file itself: the overlap check says so (src/data/overlap.ts).
    expect(r.stderr).toContain(
      `warning: 24 of 24 training rows (100.0%) of ${data} share a 8-gram with ${data}`,
    );
    const summary = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
    expect(summary.last_loss).toBeLessThan(summary.first_loss * 0.6);
    const cfg = JSON.parse(readFileSync(join(out, "config.json"), "utf8"));
    expect(cfg.sft).toMatchObject({
      max_steps: 24,
      learning_rate: 3e-3,
      packing: true,
      per_device_train_batch_size: 4,
    });
    const ms = metrics(out);
    expect(ms).toHaveLength(24);
    expect(ms.at(-1).eval_loss).toBeCloseTo(summary.eval_loss, 6);
    const m = await loadModel(join(out, "final"));
    expect(m.tokenizer!.chatTemplates.default).toBe(CHATML);
    const held = recordsToExamples(m.tokenizer!, await readSftRecords(data));
    const loss = await sftEvalLoss(m.config, m.params, held, { maxSeqLength: 64, batchSize: 4 });
    expect(loss).toBeCloseTo(summary.eval_loss, 3);
    disposeParams(m.params);
    // The same --out again without --resume is refused.
    const again = await runR1lab(["sft", "--model", model, "--data", data, "--out", out], {
      timeoutMs: 60_000,
    });
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already holds a run; pass --resume/);
  }, 180_000);

  it("trains a DeepSeek-V3 model's MTP module with the same masks", async () => {
    // The HF fixture has no MTP weights (transformers drops them): save a random tiny one that has.
    const tok = (await loadModel(modelWithTemplate("tiny-qwen2"))).tokenizer!;
    const c = tinyDeepSeek(400, {
      hiddenSize: 32,
      numHiddenLayers: 2,
      intermediateSize: 64,
      moeIntermediateSize: 16,
      qLoraRank: 16,
      kvLoraRank: 16,
      qkNopeHeadDim: 8,
      qkRopeHeadDim: 8,
      vHeadDim: 8,
      numAttentionHeads: 2,
      numKeyValueHeads: 2,
      padTokenId: null,
      bosTokenId: null,
      eosTokenId: 0,
    });
    const model = join(dir, "dsv3-mtp");
    const params = initParams(c, 1, { withMtp: true });
    await saveModel(model, { config: c, params, tokenizer: tok });
    disposeParams(params);
    const out = join(dir, "dsv3");
    const r = await runR1lab(sftArgs(model, out, ["--max-steps", 4, "--lr", "1e-3"]), { timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    const ms = metrics(out);
    expect(ms[0].mtp).toBeGreaterThan(1);
    expect(ms[0].loss).toBeCloseTo(ms[0].ce + 0.1 * ms[0].mtp, 4);
    const m = await loadModel(join(out, "final"));
    expect(m.hasMtp).toBe(true);
    disposeParams(m.params);
  }, 180_000);

  it("a run killed with SIGKILL resumes to the same metrics as an uninterrupted run", async () => {
    const model = modelWithTemplate("tiny-qwen2");
    const args = (out: string) =>
      sftArgs(model, out, [
        "--max-steps",
        16,
        "--lr",
        "2e-3",
        "--batch-size",
        2,
        "--grad-accum",
        2,
        "--save-steps",
        4,
        "--seed",
        3,
      ]);
    const full = join(dir, "full");
    expect((await runR1lab(args(full), { timeoutMs: 120_000 })).code).toBe(0);
    const killed = join(dir, "killed");
    await new Promise<void>((resolve) => {
      // Its own process group: bin/r1lab.js runs the CLI in a child process, and both must die.
      const child = spawn(process.execPath, [join(ROOT, "bin/r1lab.js"), ...args(killed)], {
        cwd: ROOT,
        stdio: "ignore",
        detached: true,
      });
      const poll = setInterval(() => {
        const st = join(killed, "checkpoint", "trainer_state.json");
        let step = 0;
        try {
          step = JSON.parse(readFileSync(st, "utf8")).step; // absent until the first checkpoint (and while one is renamed in)
        } catch {}
        if (step >= 4) {
          clearInterval(poll);
          process.kill(-child.pid!, "SIGKILL");
        }
      }, 20);
      child.on("close", () => {
        clearInterval(poll);
        resolve();
      });
    });
    const before = metrics(killed).length;
    expect(before).toBeLessThan(16);
    const r = await runR1lab(["sft", "--out", killed, "--resume"], { timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/resuming at step \d+/);
    const a = metrics(full);
    const b = metrics(killed);
    expect(b.map((m) => m.step)).toEqual(a.map((m) => m.step));
    expect(b.map((m) => [m.loss, m.grad_norm, m.lr])).toEqual(a.map((m) => [m.loss, m.grad_norm, m.lr]));
  }, 240_000);

  it("rejects bad flags and bad data with clear messages", async () => {
    const model = modelWithTemplate("tiny-qwen2");
    const bad = join(dir, "bad.jsonl");
    writeFileSync(
      bad,
      '{"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": 5}]}\n',
    );
    const r1 = await runR1lab(["sft", "--model", model, "--data", bad, "--out", join(dir, "bad")], {
      timeoutMs: 60_000,
    });
    expect(r1.code).not.toBe(0);
    expect(r1.stderr).toMatch(/bad\.jsonl:1: field 'messages\[1\]\.content' must be a string/);
    const r2 = await runR1lab(
      ["sft", "--model", model, "--data", bad, "--out", join(dir, "bad2"), "--grad-accum", "0"],
      { timeoutMs: 60_000 },
    );
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/--grad-accum must be an integer >= 1/);
  }, 120_000);
});
