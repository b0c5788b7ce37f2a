// `r1lab zero`: the R1-Zero run (pnpm start). Resolves the config from the defaults and flags,
// writes it to runs/<name>/config.json before any work, points runs/latest at the run, and runs it.
// `--resume runs/<name>` continues an interrupted run with the config it was started with.
import { initEngine } from "../engine/device.ts";
import { resolveExecutor } from "../engine/executor.ts";
import { ZERO_PRESETS, ZERO_SCHEMA, type ZeroConfig } from "../runs/zero-config.ts";
import { type Command, UsageError } from "./command.ts";
import { checkSavedConfig, configOptions, presetConfigs, resolveConfig } from "./config-flags.ts";
import { checkRunName, newRun, pointLatest, resumeRun } from "./run-dir.ts";

const cmd: Command = {
  name: "zero",
  summary: "R1-Zero in miniature: pretrain a tiny DeepSeek-style model, then GRPO with rule rewards",
  usage:
    "zero [--name NAME] [--preset default|tiny] [--config FILE.json] [--OPTION VALUE ...] [--resume runs/NAME]",
  options: {
    name: { type: "string", help: "run name (folder under --runs-dir); default: zero-<date>-s<seed>" },
    "runs-dir": { type: "string", default: "runs", help: "where runs are written" },
    preset: {
      type: "string",
      default: "default",
      help: "default (minutes on 2 CPU cores) or tiny (seconds; for tests)",
    },
    config: {
      type: "string",
      help: 'JSON file of overrides merged over the preset, e.g. {"grpo": {"steps": 60}}',
    },
    resume: { type: "string", help: "continue the interrupted run in this folder, with its own config" },
    executor: {
      type: "string",
      help: "ort or jax: what runs compiled steps (default: R1LAB_EXECUTOR, else ort); recorded in config.json",
    },
    ...configOptions(ZERO_SCHEMA, [], presetConfigs(ZERO_SCHEMA, ZERO_PRESETS)),
  },
  details:
    "Writes runs/<name>/: config.json, pretrain.jsonl, metrics.jsonl, samples.jsonl, eval_base.json,\nsummary.json, report.html, plots/, checkpoints/ (Hugging Face format). See docs/r1-zero.md.",
  async run(v) {
    let cfg: ZeroConfig;
    let runDir: string;
    if (v.resume) {
      const saved = resumeRun<ZeroConfig>(v.resume, v.device);
      runDir = saved.runDir;
      cfg = checkSavedConfig<ZeroConfig>(ZERO_SCHEMA, saved.cfg, saved.cfgPath);
    } else {
      const preset = ZERO_PRESETS[v.preset as keyof typeof ZERO_PRESETS];
      if (!preset)
        throw new UsageError(`--preset must be ${Object.keys(ZERO_PRESETS).join(" or ")}, got '${v.preset}'`);
      const resolved = resolveConfig<Omit<ZeroConfig, "name">>(ZERO_SCHEMA, preset, v.preset, {
        ...v,
        device: v.device ?? process.env.R1LAB_DEVICE,
      });
      const name = checkRunName(
        v.name ?? `zero-${new Date().toISOString().slice(0, 19).replace(/[-:T]/g, "")}-s${resolved.seed}`,
      );
      cfg = { name, ...resolved, executor: resolveExecutor(v.executor) };
      runDir = newRun(v["runs-dir"], name, cfg);
    }
    pointLatest(runDir);
    if (v.resume && v.executor) cfg.executor = resolveExecutor(v.executor);
    await initEngine({ device: cfg.device, executor: cfg.executor });
    const { runZero } = await import("../runs/zero.ts");
    await runZero(cfg, runDir);
  },
};

export default cmd;
