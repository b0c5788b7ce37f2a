// `r1lab r1`: DeepSeek-R1's multi-stage pipeline in miniature (base -> cold-start SFT -> reasoning
// RL -> rejection sampling -> SFT -> final RL). Resolves the config from a preset and flags, writes
// runs/<name>/config.json before any work, points runs/latest at the run, and runs it.
// `--resume runs/<name>` continues an interrupted run at the stage it was in, with its own config.
import { initEngine } from "../engine/device.ts";
import { resolveExecutor } from "../engine/executor.ts";
import { R1_PRESETS, R1_SCHEMA, type R1Config } from "../runs/r1-config.ts";
import { type Command, UsageError } from "./command.ts";
import { checkSavedConfig, configOptions, presetConfigs, resolveConfig } from "./config-flags.ts";
import { checkRunName, newRun, pointLatest, resumeRun } from "./run-dir.ts";

const cmd: Command = {
  name: "r1",
  summary: "the R1 pipeline in miniature: cold-start SFT, reasoning RL, rejection sampling, SFT, final RL",
  usage:
    "r1 [--name NAME] [--preset default|tiny|micro] [--config FILE.json] [--OPTION VALUE ...] [--resume runs/NAME]",
  options: {
    name: { type: "string", help: "run name (folder under --runs-dir); default: r1-<date>-s<seed>" },
    "runs-dir": { type: "string", default: "runs", help: "where runs are written" },
    preset: {
      type: "string",
      default: "default",
      help: "default (every stage + both comparisons), tiny (fewer steps, no distillation) or micro (seconds; tests)",
    },
    config: {
      type: "string",
      help: 'JSON file of overrides merged over the preset, e.g. {"final_rl": {"steps": 20}}',
    },
    resume: { type: "string", help: "continue the interrupted run in this folder, with its own config" },
    executor: {
      type: "string",
      help: "ort or jax: what runs compiled steps (default: R1LAB_EXECUTOR, else ort); recorded in config.json",
    },
    ...configOptions(R1_SCHEMA, [], presetConfigs(R1_SCHEMA, R1_PRESETS)),
  },
  details:
    "Writes runs/<name>/: config.json, summary.json ({stages: [{name, pass1, consK, mean_length, readability,\n" +
    "wall_seconds}], ...}), stages/<stage>.json, report.html, plots/, pretrain.jsonl, reasoning_rl.jsonl,\n" +
    "final_rl.jsonl, sft/<stage>/sft_metrics.jsonl, cold_start.jsonl, checkpoints/<stage> (Hugging Face\n" +
    "format; rejection_sampling holds kept.jsonl + stats.json). See docs/r1-pipeline.md.",
  async run(v) {
    let cfg: R1Config;
    let runDir: string;
    if (v.resume) {
      const saved = resumeRun<R1Config>(v.resume, v.device);
      if (!saved.cfg.cold_start_sft || !saved.cfg.final_rl)
        throw new UsageError(
          `${saved.cfgPath}: not an r1 run config (no cold_start_sft / final_rl sections)`,
        );
      runDir = saved.runDir;
      cfg = checkSavedConfig<R1Config>(R1_SCHEMA, saved.cfg, saved.cfgPath);
    } else {
      const preset = R1_PRESETS[v.preset as keyof typeof R1_PRESETS];
      if (!preset) throw new UsageError(`--preset must be default, tiny or micro, got '${v.preset}'`);
      const resolved = resolveConfig<Omit<R1Config, "name">>(R1_SCHEMA, preset, v.preset, {
        ...v,
        device: v.device ?? process.env.R1LAB_DEVICE,
      });
      const name = checkRunName(
        v.name ?? `r1-${new Date().toISOString().slice(0, 19).replace(/[-:T]/g, "")}-s${resolved.seed}`,
      );
      cfg = { name, ...resolved, executor: resolveExecutor(v.executor) };
      runDir = newRun(v["runs-dir"], name, cfg);
    }
    pointLatest(runDir);
    if (v.resume && v.executor) cfg.executor = resolveExecutor(v.executor);
    await initEngine({ device: cfg.device, executor: cfg.executor });
    const { runR1 } = await import("../runs/r1.ts");
    await runR1(cfg, runDir);
  },
};

export default cmd;
