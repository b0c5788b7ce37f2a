// The run configs' schemas (src/runs/schema.ts, zero-config.ts, r1-config.ts) and the flags built
// from them (src/cli/config-flags.ts): a bad key or value is an error naming it, both spellings of
// TRL's names work, loss_type changes nothing but the loss, presets resolve to the values the runs
// were measured with, and --help shows the real defaults.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { commandHelp } from "../src/cli/command.ts";
import { checkSavedConfig, flagOverrides, resolveConfig } from "../src/cli/config-flags.ts";
import r1Cmd from "../src/cli/r1.ts";
import zeroCmd from "../src/cli/zero.ts";
import { R1_PRESETS, R1_SCHEMA, type R1Config, r1Preset } from "../src/runs/r1-config.ts";
import { ZERO_PRESETS, ZERO_SCHEMA, type ZeroConfig, zeroPreset } from "../src/runs/zero-config.ts";

const dir = mkdtempSync(join(tmpdir(), "r1lab-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, json: unknown) => {
  const p = join(dir, name);
  writeFileSync(p, JSON.stringify(json));
  return p;
};
const zero = (values: Record<string, unknown>, preset: keyof typeof ZERO_PRESETS = "default") =>
  resolveConfig<ZeroConfig>(ZERO_SCHEMA, ZERO_PRESETS[preset], preset, values);

describe("run config schemas", () => {
  it("a --config file with a bad enum value or an unknown key is an error naming the field", () => {
    expect(() => zero({ config: file("a.json", { grpo: { loss_type: "dapoo" } }) })).toThrow(
      /grpo\.loss_type must be one of grpo, bnpo, dapo, dr_grpo, cispo, got "dapoo"/,
    );
    expect(() => zero({ config: file("b.json", { grpo: { num_generation: 8 } }) })).toThrow(
      /unknown field 'grpo\.num_generation' \(known: .*num_generations/,
    );
    expect(() => zero({ config: file("c.json", { pretrain: { steps: "10" } }) })).toThrow(
      /pretrain\.steps must be an integer >= 1, got "10"/,
    );
    expect(() => zero({ config: file("d.json", { eval: 3 }) })).toThrow(/eval must be an object/);
    expect(zero({ config: file("e.json", { grpo: { steps: 60 } }) }).grpo.steps).toBe(60);
  });

  it("flags take TRL's names with dashes or underscores; a bad value names the flag", () => {
    expect(zero({ "loss-type": "bnpo" }).grpo.loss_type).toBe("bnpo");
    expect(zero({ loss_type: "bnpo", num_generations: "4", "pretrain-learning-rate": "0.01" })).toMatchObject(
      { grpo: { loss_type: "bnpo", num_generations: 4 }, pretrain: { learning_rate: 0.01 } },
    );
    expect(() => zero({ "loss-type": "dapoo" })).toThrow(
      /--loss-type must be one of grpo, bnpo, dapo, dr_grpo, cispo, got 'dapoo'/,
    );
    expect(() => zero({ "num-generations": "1" })).toThrow(
      /--num-generations must be an integer >= 2, got 1$/,
    );
    expect(() => zero({ "learning-rate": "-0.01" })).toThrow(
      /--learning-rate must be a number > 0, got -0\.01$/,
    );
    expect(() => zero({ "num-generations": "x" })).toThrow(
      /--num-generations must be an integer >= 2, got 'x'$/,
    );
    expect(() => zero({ "loss-type": "grpo", loss_type: "dapo" })).toThrow(
      /set the same option \(grpo\.loss_type\)/,
    );
    expect(zero({ "reward-weights": "accuracy=1,format=0.5" }).grpo.reward_weights).toEqual({
      accuracy: 1,
      format: 0.5,
    });
    expect(zero({ "eval-problems": "7" }).eval.n_problems).toBe(7); // the old flag name still works
    expect(flagOverrides(ZERO_SCHEMA, { "grpo-steps": "3", "pretrain-steps": "2" })).toEqual({
      grpo: { steps: 3 },
      pretrain: { steps: 2 },
    });
  });

  it("loss_type means what it means in TRL: dapo does not switch on dynamic sampling, dr_grpo does not force scale_rewards", () => {
    const dapo = zero({ "loss-type": "dapo" });
    expect(dapo.grpo.dynamic_sampling).toBe(false);
    const drGrpo = zero({ "loss-type": "dr_grpo" });
    expect(drGrpo.grpo.scale_rewards).toBe("batch");
    expect(zero({ "dynamic-sampling": "on", "loss-type": "dapo" }).grpo).toMatchObject({
      dynamic_sampling: true,
      loss_type: "dapo",
    });
  });

  it("the presets resolve to the values the runs were measured with", () => {
    const d = zeroPreset("default");
    expect(d).toMatchObject({
      seed: 1,
      train_problems: 264,
      task_options: { min_terms: 4, max_terms: 4, max_number: 3, ops: "+-" },
    });
    expect(d.pretrain).toMatchObject({
      steps: 760,
      batch_size: 24,
      max_length: 96,
      learning_rate: 5e-3,
      warmup_steps: 30,
      traces_per_problem: 4,
    });
    expect(d.eval).toMatchObject({ k: 8, n_problems: 136, temperature: 0.6, top_p: 0.95 });
    expect(d.grpo).toMatchObject({
      steps: 100,
      prompts_per_step: 8,
      num_generations: 8,
      max_completion_length: 48,
      learning_rate: 5e-4,
      loss_type: "grpo",
      scale_rewards: "batch",
      reward_weights: { accuracy: 1, format: 0.1 },
    });
    expect(zeroPreset("tiny")).toMatchObject({
      train_problems: 40,
      pretrain: { steps: 6, batch_size: 8, learning_rate: 5e-3 },
      grpo: { steps: 4, num_generations: 4, epsilon_high: 0.28 },
      eval: { k: 2, n_problems: 4 },
    });
    const micro = r1Preset("micro");
    expect(micro).toMatchObject({
      train_problems: 40,
      reasoning_rl: { steps: 2, num_generations: 2, learning_rate: 1e-4, scale_rewards: "batch" },
      distill: { enabled: false, student: { num_attention_heads: 2 } },
      eval: { k: 2, temperature: 0.6 },
    });
    expect(r1Preset("default")).toMatchObject({
      train_problems: 874,
      task_options: { min_terms: 4, max_terms: 4, max_number: 4, ops: "+-" },
      pretrain: { steps: 760, batch_size: 24 },
    });
    expect(r1Preset("default").final_rl).toMatchObject({
      steps: 20,
      prompts_per_step: 16,
      reward_weights: { accuracy: 1, format: 0.1, consistency: 0.2 },
    });
  });

  it("r1: stage options carry the stage's name; --distill off still works", () => {
    const c = resolveConfig<R1Config>(R1_SCHEMA, R1_PRESETS.tiny, "tiny", {
      "final-rl-steps": "3",
      reasoning_rl_learning_rate: "0.001",
      distill: "off",
    });
    expect(c.final_rl.steps).toBe(3);
    expect(c.reasoning_rl.learning_rate).toBe(0.001);
    expect(c.distill.enabled).toBe(false);
    expect(() => resolveConfig(R1_SCHEMA, R1_PRESETS.micro, "micro", { "sft-packing": "maybe" })).toThrow(
      /--sft-packing must be true or false/,
    );
  });

  it("a resumed run's config.json is checked, and options added since get their defaults", () => {
    const old: Record<string, unknown> = { name: "x", ...zeroPreset("tiny") };
    delete (old.grpo as Record<string, unknown>).dynamic_sampling;
    expect(checkSavedConfig<ZeroConfig>(ZERO_SCHEMA, old, "runs/x/config.json")).toMatchObject({
      name: "x",
      grpo: { dynamic_sampling: false },
    });
    expect(() =>
      checkSavedConfig(ZERO_SCHEMA, { ...old, grpo: { loss_type: "nope" } }, "runs/x/config.json"),
    ).toThrow(/runs\/x\/config\.json: grpo\.loss_type must be one of/);
  });

  it("--help lists every option once, with the real default and the underscore spelling", () => {
    const help = commandHelp(zeroCmd);
    expect(help).toMatch(/--loss-type VALUE\s+.*\(default: grpo\); also --loss_type/);
    expect(help).toMatch(/--learning-rate VALUE\s+.*\(default: 0\.0005\)/);
    expect(help).not.toMatch(/--loss_type VALUE/);
    expect(commandHelp(r1Cmd)).toMatch(/--final-rl-steps VALUE\s+.*\(default: 20; tiny: 6; micro: 2\)/);
  });

  it("--help shows each preset's default where the preset changes it", () => {
    const help = commandHelp(zeroCmd);
    const tiny = zeroPreset("tiny");
    // A value every preset shares is shown once; one a preset changes is shown per preset.
    expect(help).toMatch(/--learning-rate VALUE\s+.*\(default: 0\.0005\);/);
    expect(help).toContain(`(default: ${zeroPreset("default").grpo.steps}; tiny: ${tiny.grpo.steps})`);
    expect(help).toContain(
      `(default: ${zeroPreset("default").pretrain.steps}; tiny: ${tiny.pretrain.steps})`,
    );
    const r1Help = commandHelp(r1Cmd);
    const [d, t, m] = (["default", "tiny", "micro"] as const).map((p) => r1Preset(p).pretrain.steps);
    expect(r1Help).toMatch(
      new RegExp(`--pretrain-steps VALUE\\s+.*\\(default: ${d}; tiny: ${t}; micro: ${m}\\)`),
    );
  });
});
