// `r1lab r1`: DeepSeek-R1's multi-stage pipeline in miniature (base -> cold-start SFT -> reasoning
// RL -> rejection sampling -> SFT -> final RL). Resolves the config from a preset and flags, writes
// runs/<name>/config.json before any work, points runs/latest at the run, and runs it.
// `--resume runs/<name>` continues an interrupted run at the stage it was in, with its own config.
import { initEngine, resolveDevice } from "../engine/device.ts";
import { resolveExecutor } from "../engine/executor.ts";
import { R1_DEFAULTS, R1_PRESETS, R1_TEMPLATE, type R1Config } from "../rl/r1-config.ts";
import { checkRunName, newRun, pointLatest, resumeRun } from "./run-dir.ts";
import { type Command, UsageError, numberFlag } from "./command.ts";


const cmd: Command = {
  name: "r1",
  summary: "the R1 pipeline in miniature: cold-start SFT, reasoning RL, rejection sampling, SFT, final RL",
  usage: "r1 [--name NAME] [--preset default|tiny|micro] [--seed S] [--device cpu|webgpu] [--resume runs/NAME]",
  options: {
    name: { type: "string", help: "run name (folder under --runs-dir); default: r1-<date>-s<seed>" },
    "runs-dir": { type: "string", default: "runs", help: "where runs are written" },
    preset: { type: "string", default: "default", help: "default (~16 CPU-minutes), tiny (~3.5 CPU-minutes) or micro (seconds; tests)" },
    seed: { type: "string", help: "random seed (default 1)" },
    device: { type: "string", help: "cpu or webgpu (default: R1LAB_DEVICE or cpu)" },
    executor: { type: "string", help: "ort or jax: what runs compiled steps (default: R1LAB_EXECUTOR, else ort on cpu, jax on webgpu)" },
    resume: { type: "string", help: "continue the interrupted run in this folder" },
    "eval-problems": { type: "string", help: "held-out problems evaluated after each stage" },
    distill: { type: "string", help: "on|off: distillation vs RL on a small student after the pipeline (default: on for the default preset)" },
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
      let cfgPath: string;
      ({ runDir, cfg, cfgPath } = resumeRun<R1Config>(v.resume, v.device));
      if (!cfg.cold_start_sft || !cfg.final_rl) throw new UsageError(`${cfgPath}: not an r1 run config (no cold_start_sft / final_rl sections)`);
    } else {
      const preset = R1_PRESETS[v.preset as keyof typeof R1_PRESETS];
      if (!preset) throw new UsageError(`--preset must be default, tiny or micro, got '${v.preset}'`);
      const base = { ...R1_DEFAULTS, ...preset };
      const seed = v.seed !== undefined ? numberFlag(v, "seed", { int: true, min: 0 }) : base.seed;
      const name = v.name ?? `r1-${new Date().toISOString().slice(0, 19).replace(/[-:T]/g, "")}-s${seed}`;
      checkRunName(name);
      cfg = structuredClone({ ...base, name, seed, template: R1_TEMPLATE, device: v.device ?? process.env.R1LAB_DEVICE ?? "cpu" }) as R1Config;
      cfg.executor = resolveExecutor(v.executor, resolveDevice(cfg.device));
      if (v.distill !== undefined) {
        if (v.distill !== "on" && v.distill !== "off") throw new UsageError(`--distill must be on or off, got '${v.distill}'`);
        cfg.distill.enabled = v.distill === "on";
      }
      if (v["eval-problems"]) cfg.eval.n_problems = numberFlag(v, "eval-problems", { int: true, min: 1 });
      runDir = newRun(v["runs-dir"], name, cfg);
    }
    pointLatest(runDir);
    if (v.resume && v.executor) cfg.executor = resolveExecutor(v.executor, resolveDevice(cfg.device));
    await initEngine({ device: cfg.device, executor: cfg.executor });
    const { runR1 } = await import("../rl/r1.ts");
    await runR1(cfg, runDir);
  },
};

export default cmd;
