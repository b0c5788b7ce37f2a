// `r1lab grpo`: GRPO on a Hugging Face model with TRL's GRPOConfig names (src/runs/grpo.ts).
// Every option of the schema in src/runs/grpo-config.ts is a flag (--num-generations or
// --num_generations), and --config FILE (JSON or YAML) sets any of them; flags win over the file.
// docs/grpo.md.
import { resolve } from "node:path";
import { GRPO_SCHEMA, GrpoInputError, type GrpoRunConfig, checkGrpoConfig } from "../runs/grpo-config.ts";
import type { GrpoSchemaConfig } from "../runs/grpo-config.ts";
import { ConfigError } from "../runs/schema.ts";
import { type Command, UsageError } from "./command.ts";
import { configOptions, resolveConfig } from "./config-flags.ts";

/** The config of `values` (flags, and values.config: a JSON or YAML file), checked; errors are UsageErrors. */
export function resolveGrpoConfig(values: Record<string, unknown>): GrpoRunConfig {
  try {
    return checkGrpoConfig(resolveConfig<GrpoSchemaConfig>(GRPO_SCHEMA, {}, "defaults", values));
  } catch (e) {
    throw e instanceof ConfigError ? new UsageError(e.message) : e;
  }
}

const command: Command = {
  name: "grpo",
  summary: "GRPO on a Hugging Face model (full or LoRA) with TRL's GRPOConfig options; resumable",
  usage:
    "grpo --model DIR_OR_ID --data FILE|DIR --task NAME --out DIR --reward-funcs accuracy,format [options]",
  options: {
    config: { type: "string", help: "options from a JSON or YAML file (TRL's GRPOConfig names)" },
    executor: {
      type: "string",
      help: "ort or jax: what runs compiled steps (default: R1LAB_EXECUTOR, else ort); recorded in config.json",
    },
    ...configOptions(GRPO_SCHEMA),
  },
  details: `
Prompts come from the task's dataset through the model's chat template (or as plain text); the
reward functions are named in --reward-funcs (accuracy is the task's own scorer). The run folder
gets config.json (resolved, first), metrics.jsonl, samples.jsonl, eval.jsonl, report.html,
checkpoint/ (rerun the same command to resume) and final/ (a model, or a PEFT adapter with
--use-peft; --merge also writes final-merged/). See docs/grpo.md.`,
  async run(v, positionals) {
    if (positionals.length > 0) throw new UsageError(`r1lab grpo: unexpected argument '${positionals[0]}'`);
    const cfg = resolveGrpoConfig({ ...v, device: v.device ?? process.env.R1LAB_DEVICE });
    for (const k of ["data", "eval_data", "output_dir"] as const) {
      const p = cfg[k];
      if (p && !p.startsWith("gen:")) cfg[k] = resolve(p);
    }
    const { initEngine } = await import("../engine/device.ts");
    const { resolveExecutor } = await import("../engine/executor.ts");
    cfg.executor = resolveExecutor(v.executor);
    await initEngine({ device: cfg.device, executor: cfg.executor });
    const { runGrpo } = await import("../runs/grpo.ts");
    try {
      await runGrpo(cfg);
    } catch (e) {
      if (e instanceof GrpoInputError) throw new UsageError(e.message);
      throw e;
    }
  },
};

export default command;
