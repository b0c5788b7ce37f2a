// `r1lab grpo`'s options: TRL's names with dashes or underscores, a YAML/JSON --config under the
// flags, TRL's defaults, and one clear line for each kind of bad input.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseCommandArgs } from "../src/cli/command.ts";
import { readConfigFile } from "../src/cli/config-flags.ts";
import grpoCommand, { resolveGrpoConfig } from "../src/cli/grpo.ts";
import { runGrpo } from "../src/runs/grpo.ts";

const tmp = mkdtempSync(join(tmpdir(), "r1lab-grpo-config-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const need = { model: "m", data: "d", task: "gsm8k", out: "o", reward_funcs: "accuracy" };

describe("r1lab grpo options", () => {
  it("has TRL's defaults where r1lab has the same thing", () => {
    const c = resolveGrpoConfig(need);
    expect(c).toMatchObject({
      learning_rate: 1e-6,
      num_generations: 8,
      per_device_train_batch_size: 8,
      gradient_accumulation_steps: 1,
      beta: 0,
      epsilon: 0.2,
      epsilon_high: 0.2,
      loss_type: "dapo",
      scale_rewards: "group",
      importance_sampling_level: "token",
      num_iterations: 1,
      temperature: 1,
      top_p: 1,
      mask_truncated_completions: false,
      max_steps: -1,
      logging_steps: 10,
      save_steps: 500,
      seed: 42,
      use_peft: false,
      lora_r: 16,
      lora_alpha: 32,
      reward_weights: [1],
      output_dir: "o",
    });
  });

  it("reads a YAML config with underscores; flags with dashes or underscores win over it", () => {
    const file = join(tmp, "recipe.yaml");
    writeFileSync(
      file,
      "model: Qwen/Qwen2.5-0.5B-Instruct\ndata: gsm8k\ntask: gsm8k\noutput_dir: runs/x\nreward_funcs: [accuracy, format]\nreward_weights: [1.0, 0.2]\nnum_generations: 4\nlearning_rate: 1.0e-5\nuse_peft: true\nlora_target_modules: all-linear\nbeta: 0.04\n",
    );
    const parsed = parseCommandArgs(grpoCommand, [
      "--config",
      file,
      "--learning_rate",
      "3e-6",
      "--loss-type",
      "dr_grpo",
      "--use_peft",
    ])!;
    expect(parsed.values).toMatchObject({
      "learning-rate": "3e-6",
      "loss-type": "dr_grpo",
      "use-peft": "true",
    });
    const c = resolveGrpoConfig(parsed.values);
    expect(c).toMatchObject({
      model: "Qwen/Qwen2.5-0.5B-Instruct",
      reward_funcs: ["accuracy", "format"],
      reward_weights: [1, 0.2],
      num_generations: 4,
      learning_rate: 3e-6,
      loss_type: "dr_grpo",
      use_peft: true,
      lora_target_modules: ["all-linear"],
      beta: 0.04,
    });
    const json = join(tmp, "recipe.json");
    writeFileSync(json, JSON.stringify({ ...need, "num-iterations": 2 }));
    expect(resolveGrpoConfig({ config: json }).num_iterations).toBe(2);
  });

  it("bad input gets one line naming the option", () => {
    const bad = (flags: Record<string, unknown>) => () => resolveGrpoConfig({ ...need, ...flags });
    expect(bad({ reward_funcs: undefined, "reward-funcs": "" })).toThrow(
      /^r1lab grpo: no reward function: pass --reward-funcs/,
    );
    expect(bad({ num_generations: 3 })).toThrow(
      /num_generations 3 does not divide the generation batch per_device_train_batch_size x gradient_accumulation_steps = 8/,
    );
    expect(bad({ "loss-type": "ppo" })).toThrow(
      /--loss-type must be one of grpo, bnpo, dapo, dr_grpo, cispo, got 'ppo'/,
    );
    expect(bad({ "max-steps": "ten" })).toThrow(/--max-steps must be an integer >= -1, got 'ten'/);
    expect(bad({ reward_weights: "1,2" })).toThrow(/reward_weights has 2 values for 1 reward functions/);
    expect(bad({ lora_dropout: 0.05 })).toThrow(/lora_dropout 0.05 is not supported/);
    expect(bad({ merge: true })).toThrow(/--merge needs --use-peft/);
    const typo = join(tmp, "r.yaml");
    writeFileSync(typo, "num_generation: 4\n");
    expect(() => resolveGrpoConfig({ ...need, config: typo })).toThrow(
      /r.yaml: unknown field 'num_generation' \(known: .*num_generations/,
    );
    writeFileSync(typo, "loss_type: dapoo\n");
    expect(() => resolveGrpoConfig({ ...need, config: typo })).toThrow(
      /r.yaml: loss_type must be one of grpo, bnpo, dapo, dr_grpo, cispo, got "dapoo"/,
    );
    expect(() => resolveGrpoConfig({ ...need, task: undefined })).toThrow(/--task is required/);
    const broken = join(tmp, "broken.yaml");
    writeFileSync(broken, "a: [1, 2\n");
    expect(() => readConfigFile(broken)).toThrow(/broken.yaml: not valid YAML/);
    expect(() => parseCommandArgs(grpoCommand, ["--num_generation", "4"])).toThrow(
      /Unknown option '--num_generation'/,
    );
  });

  it("a model that is not found leaves no run folder behind", async () => {
    const out = join(tmp, "never-started");
    const cfg = resolveGrpoConfig({ ...need, model: join(tmp, "no-such-model"), out });
    await expect(runGrpo(cfg, () => {})).rejects.toThrow(/no-such-model/);
    // A corrected command with other settings must not meet "this run folder was started with ...".
    expect(existsSync(out)).toBe(false);
  });
});
