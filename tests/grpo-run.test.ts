// `r1lab grpo` end to end on the reference fixtures with tiny settings: qwen2 full fine-tuning,
// llama LoRA through a chat template with beta > 0 and num_iterations 2 (+ --merge), deepseek_v3
// LoRA with cispo and GSPO, and a checkpoint of an r1lab run; each writes its run folder. Bad input
// gets one line. (Resuming after kill -9: grpo-resume.test.ts.)
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { initEngine } from "../src/engine/index.ts";
import { toHost } from "../src/engine/params.ts";
import { loadModel, saveModel } from "../src/hf/checkpoint.ts";
import { initParams } from "../src/model/init.ts";
import { runModelConfig } from "../src/runs/setup.ts";
import { applyTemplate, ZERO_TEMPLATE } from "../src/tasks/template.ts";
import { CharTokenizer } from "../src/tasks/char-tokenizer.ts";
import { loadAdapter } from "../src/hf/peft.ts";
import { resolveGrpoConfig } from "../src/cli/grpo.ts";
import { runGrpo } from "../src/runs/grpo.ts";
import { ROOT, runR1lab } from "./helpers/run-r1lab.ts";

const FIX = join(ROOT, "tests/fixtures/hf-reference");
const tmp = mkdtempSync(join(tmpdir(), "r1lab-grpo-run-"));
const data = join(tmp, "train.jsonl");
const quiet = () => {};
const rows = (f: string) =>
  readFileSync(f, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l));

beforeAll(async () => {
  await initEngine({ device: "cpu" });
  const qa = [
    ["Tom has 3 apples and buys 2 more. How many?", "5"],
    ["A box holds 4 pens. How many pens in 2 boxes?", "8"],
    ["Sam had 10 cards and gave 3 away. How many are left?", "7"],
    ["What is 6 plus 6?", "12"],
  ];
  writeFileSync(data, qa.map(([q, a]) => JSON.stringify({ question: q, answer: `#### ${a}` })).join("\n"));
  // tiny-llama with a chat template, so prompts go through it
  cpSync(join(FIX, "tiny-llama"), join(tmp, "llama-chat"), { recursive: true });
  const tc = JSON.parse(readFileSync(join(tmp, "llama-chat/tokenizer_config.json"), "utf8"));
  tc.chat_template =
    "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}\n{% endfor %}{% if add_generation_prompt %}<|assistant|><think>\n{% endif %}";
  writeFileSync(join(tmp, "llama-chat/tokenizer_config.json"), JSON.stringify(tc));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// Random tiny models never answer right: language_consistency varies over their word salad, so
// advantages are not all zero and the step really moves the weights.
const tiny = {
  data,
  task: "gsm8k",
  reward_funcs: "accuracy,language_consistency",
  max_steps: 2,
  per_device_train_batch_size: 4,
  gradient_accumulation_steps: 2,
  num_generations: 4,
  max_completion_length: 8,
  max_prompt_length: 24,
  learning_rate: 0.01,
  logging_steps: 1,
  eval_data: data,
  eval_split: "train",
  eval_limit: 2,
  eval_num_generations: 1,
};

describe("r1lab grpo on the fixtures", () => {
  it("qwen2, full fine-tuning: run folder, metrics with TRL's names, a changed model in final/", async () => {
    const out = join(tmp, "qwen2-full");
    // The held-out prompts are the first two training prompts: one warning line says so (src/data/overlap.ts).
    const stderr: string[] = [];
    const spy = vi.spyOn(process.stderr, "write").mockImplementation((c: string | Uint8Array) => {
      stderr.push(String(c));
      return true;
    });
    let s: Awaited<ReturnType<typeof runGrpo>>;
    try {
      s = await runGrpo(resolveGrpoConfig({ ...tiny, model: join(FIX, "tiny-qwen2"), out }), quiet);
    } finally {
      spy.mockRestore();
    }
    expect(stderr.join("")).toMatch(
      /warning: 2 of 4 training rows \(50\.0%\) of .*train\.jsonl share a 8-gram with/,
    );
    for (const f of [
      "config.json",
      "metrics.jsonl",
      "samples.jsonl",
      "eval.jsonl",
      "report.html",
      "summary.json",
      "checkpoint/trainer_state.json",
      "final/model.safetensors",
    ])
      expect(existsSync(join(out, f)), f).toBe(true);
    expect(JSON.parse(readFileSync(join(out, "config.json"), "utf8"))).toMatchObject({
      loss_type: "dapo",
      num_generations: 4,
      output_dir: out,
    });
    const m = rows(join(out, "metrics.jsonl"));
    expect(m.map((r) => r.step)).toEqual([1, 2]);
    expect(Object.keys(m[0])).toEqual(
      expect.arrayContaining([
        "loss",
        "grad_norm",
        "reward",
        "rewards/accuracy/mean",
        "rewards/language_consistency/mean",
        "completions/mean_length",
        "clip_ratio/region_mean",
        "kl",
        "entropy",
        "frac_reward_zero_std",
      ]),
    );
    expect(m[0].grad_norm).toBeGreaterThan(0);
    expect(rows(join(out, "eval.jsonl")).map((r) => r.step)).toEqual([0, 2]);
    expect(s.steps).toBe(2);
    const before = await loadModel(join(FIX, "tiny-qwen2"));
    const after = await loadModel(join(out, "final"));
    expect((await loadModel(join(out, "checkpoint"))).tokenizer).not.toBeNull(); // checkpoint/ is a model folder too
    const w = "model.layers.0.self_attn.q_proj.weight";
    const a = await toHost(before.params[w]);
    const b = await toHost(after.params[w]);
    expect(a.some((x, i) => x !== b[i])).toBe(true);
  }, 120_000);

  it("llama LoRA through the chat template, beta > 0, num_iterations 2, --merge", async () => {
    const out = join(tmp, "llama-lora");
    await runGrpo(
      resolveGrpoConfig({
        ...tiny,
        model: join(tmp, "llama-chat"),
        out,
        use_peft: true,
        lora_r: 4,
        lora_alpha: 8,
        beta: 0.1,
        num_iterations: 2,
        max_steps: 4,
        loss_type: "grpo",
        merge: true,
      }),
      quiet,
    );
    const samples = rows(join(out, "samples.jsonl"));
    expect(samples[0].prompt).toMatch(/^<\|user\|>.*\n<\|assistant\|><think>\n$/s);
    const ad = loadAdapter(join(out, "final"));
    expect(Object.keys(ad.lora)).toContain("model.layers.1.self_attn.v_proj.lora_B.weight");
    expect(Object.keys(ad.lora)).toHaveLength(2 * 2 * 2); // q_proj and v_proj (PEFT's llama default), 2 layers, A and B
    expect(existsSync(join(out, "final-merged/model.safetensors"))).toBe(true);
    const m = rows(join(out, "metrics.jsonl"));
    expect(m).toHaveLength(4);
    expect(m[0].kl).toBe(0); // the adapter starts at B = 0: policy = reference
    expect(m[1].kl).toBeGreaterThan(0);
    // two steps per generation round: the second sees the same rollouts
    expect(m[1].reward).toBe(m[0].reward);
    expect(m[2].reward).not.toBe(m[1].reward);
  }, 120_000);

  it("deepseek_v3 LoRA with cispo and sequence-level ratios (GSPO)", async () => {
    const out = join(tmp, "dsv3-lora");
    await runGrpo(
      resolveGrpoConfig({
        ...tiny,
        model: join(FIX, "tiny-deepseek-v3"),
        out,
        use_peft: true,
        lora_r: 2,
        loss_type: "cispo",
        epsilon_high: 5,
        importance_sampling_level: "sequence",
        eval_data: undefined,
      }),
      quiet,
    );
    const ad = loadAdapter(join(out, "final"));
    expect(Object.keys(ad.lora).some((k) => k.includes("q_b_proj.lora_A"))).toBe(true);
    expect(rows(join(out, "metrics.jsonl"))).toHaveLength(2);
  }, 120_000);

  it("a checkpoint of an r1lab run: its R1-Zero template after BOS, its task settings for gen:SPLIT:N", async () => {
    // A run folder as `r1lab zero` leaves it: config.json (template, task, task_options, seed) and checkpoints/base.
    const run = join(tmp, "runs", "z");
    const taskOptions = { min_terms: 4, max_terms: 4, max_number: 3, ops: "+-", test_fraction: 0.25 };
    mkdirSync(join(run, "checkpoints"), { recursive: true });
    writeFileSync(
      join(run, "config.json"),
      JSON.stringify({ template: ZERO_TEMPLATE, task: "arithmetic", task_options: taskOptions, seed: 1 }),
    );
    const tok = CharTokenizer.forTexts([
      applyTemplate("", ZERO_TEMPLATE),
      "calc 0123456789+-*/() =;<think></think><answer></answer>",
    ]);
    const mc = runModelConfig(
      {
        hidden_size: 32,
        num_hidden_layers: 2,
        n_routed_experts: 4,
        moe_intermediate_size: 16,
        intermediate_size: 64,
      },
      tok,
    );
    await saveModel(join(run, "checkpoints", "base"), {
      config: mc,
      params: initParams(mc, 1, { withMtp: false }),
      tokenizerJson: tok.toTokenizerJson(),
    });
    const out = join(tmp, "from-zero");
    await runGrpo(
      resolveGrpoConfig({
        ...tiny,
        model: join(run, "checkpoints", "base"),
        data: "gen:train:8",
        eval_data: "gen:test:2",
        task: "arithmetic",
        reward_funcs: "accuracy,format,length",
        out,
      }),
      quiet,
    );
    const s = rows(join(out, "samples.jsonl"))[0];
    expect(s.prompt.endsWith(applyTemplate("", ZERO_TEMPLATE))).toBe(true);
    // four numbers from 1 to 3 (the run's settings), not the task's defaults
    const nums = /^calc (.*?)\./.exec(s.prompt)![1].match(/\d+/g)!.map(Number);
    expect(nums).toHaveLength(4);
    expect(nums.every((n) => n >= 1 && n <= 3)).toBe(true);
    expect(rows(join(out, "eval.jsonl"))[0]).toMatchObject({ step: 0, n_problems: 2 });
  }, 120_000);

  it("bad input gets one line: missing dataset fields, a LoRA target the model lacks", async () => {
    const bad = join(tmp, "bad.jsonl");
    writeFileSync(bad, `${JSON.stringify({ prompt: "hi", solution: "4" })}\n`);
    const r = await runR1lab(
      [
        "grpo",
        "--model",
        join(FIX, "tiny-qwen2"),
        "--data",
        bad,
        "--task",
        "gsm8k",
        "--out",
        join(tmp, "bad-run"),
        "--reward-funcs",
        "accuracy",
      ],
      { timeoutMs: 60_000 },
    );
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/bad\.jsonl:1: .*question/);
    await expect(
      runGrpo(
        resolveGrpoConfig({
          ...tiny,
          model: join(FIX, "tiny-deepseek-v3"),
          out: join(tmp, "bad2"),
          use_peft: true,
          lora_target_modules: "q_proj",
        }),
        quiet,
      ),
    ).rejects.toThrow(/lora_target_modules: 'q_proj' is not a projection of this model/);
  }, 60_000);
});
