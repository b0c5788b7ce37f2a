// `r1lab grpo`: GRPO on a Hugging Face model with TRL's GRPOConfig names (src/runs/grpo.ts).
// Every option of src/runs/grpo-config.ts is a flag (--num-generations or --num_generations), and
// --config FILE (JSON or YAML) sets any of them; flags win over the file. docs/grpo.md.
import { resolve } from "node:path";
import {
  GRPO_OPTIONS,
  GrpoInputError,
  type GrpoRunConfig,
  readConfigFile,
  resolveGrpoConfig,
} from "../runs/grpo-config.ts";
import { type Command, type OptionSpec, UsageError } from "./command.ts";

const options: Record<string, OptionSpec> = {
  config: { type: "string", help: "options from a JSON or YAML file (TRL's GRPOConfig names)" },
};
for (const [name, o] of Object.entries(GRPO_OPTIONS)) {
  const flag = name === "output_dir" ? "out" : name.replace(/_/g, "-");
  const def =
    o.default === null || (Array.isArray(o.default) && o.default.length === 0) || o.default === false
      ? ""
      : ` (default: ${o.default})`;
  options[flag] = { type: o.kind === "bool" ? "boolean" : "string", help: `${o.help}${def}` };
}

const command: Command = {
  name: "grpo",
  summary: "GRPO on a Hugging Face model (full or LoRA) with TRL's GRPOConfig options; resumable",
  usage:
    "grpo --model DIR_OR_ID --data FILE|DIR --task NAME --out DIR --reward-funcs accuracy,format [options]",
  options,
  details: `
Prompts come from the task's dataset through the model's chat template (or as plain text); the
reward functions are named in --reward-funcs (accuracy is the task's own scorer). The run folder
gets config.json (resolved, first), metrics.jsonl, samples.jsonl, eval.jsonl, report.html,
checkpoint/ (rerun the same command to resume) and final/ (a model, or a PEFT adapter with
--use-peft; --merge also writes final-merged/). See docs/grpo.md.`,
  async run(v, positionals) {
    if (positionals.length > 0) throw new UsageError(`r1lab grpo: unexpected argument '${positionals[0]}'`);
    const flags: Record<string, unknown> = {};
    for (const [k, val] of Object.entries(v))
      if (k !== "config" && k !== "help" && val !== undefined) flags[k] = val;
    let cfg: GrpoRunConfig;
    try {
      const file = v.config ? readConfigFile(v.config) : null;
      cfg = resolveGrpoConfig(file, flags, v.config);
    } catch (e) {
      throw new UsageError((e as Error).message.replace(/^r1lab grpo: /, "grpo: "));
    }
    for (const k of ["data", "eval_data", "output_dir"] as const) {
      const p = cfg[k];
      if (p && !p.startsWith("gen:")) (cfg as unknown as Record<string, string>)[k] = resolve(p);
    }
    const { initEngine, resolveDevice } = await import("../engine/device.ts");
    const { resolveExecutor } = await import("../engine/executor.ts");
    cfg.executor = resolveExecutor(cfg.executor ?? undefined, resolveDevice(cfg.device));
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
