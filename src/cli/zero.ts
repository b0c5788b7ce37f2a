// `r1lab zero`: the R1-Zero run (pnpm start). Resolves the config from the defaults and flags,
// writes it to runs/<name>/config.json before any work, points runs/latest at the run, and runs it.
// `--resume runs/<name>` continues an interrupted run with the config it was started with.
import { existsSync, readFileSync } from "node:fs";
import { initEngine, resolveDevice } from "../engine/device.ts";
import { resolveExecutor } from "../engine/executor.ts";
import { ZERO_TEMPLATE } from "../rl/template.ts";
import { ZERO_DEFAULTS, ZERO_TINY, type ZeroConfig } from "../rl/zero-config.ts";
import { checkRunName, newRun, pointLatest, resumeRun } from "./run-dir.ts";
import { type Command, UsageError, numberFlag } from "./command.ts";


function readOverrides(path: string): Record<string, unknown> {
  if (!existsSync(path)) throw new UsageError(`--config ${path}: no such file`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new UsageError(`--config ${path}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new UsageError(`--config ${path}: must hold a JSON object`);
  return json as Record<string, unknown>;
}

/** Merge `over` into `cfg` key by key; a key the config does not have, or a value of another type, is an error. */
function mergeOverrides(cfg: any, over: Record<string, unknown>, at: string): void {
  for (const [k, val] of Object.entries(over)) {
    const path = at ? `${at}.${k}` : k;
    if (!(k in cfg)) throw new UsageError(`--config: unknown field '${path}' (known: ${Object.keys(cfg).join(", ")})`);
    const cur = cfg[k];
    const isObj = (x: unknown) => typeof x === "object" && x !== null && !Array.isArray(x);
    if (isObj(cur) && k !== "reward_weights") {
      if (!isObj(val)) throw new UsageError(`--config: field '${path}' must be an object`);
      mergeOverrides(cur, val as Record<string, unknown>, path);
    } else {
      if (typeof val !== typeof cur) throw new UsageError(`--config: field '${path}' must be a ${typeof cur}, got ${JSON.stringify(val)}`);
      cfg[k] = val;
    }
  }
}

const cmd: Command = {
  name: "zero",
  summary: "R1-Zero in miniature: pretrain a tiny DeepSeek-style model, then GRPO with rule rewards",
  usage: "zero [--name NAME] [--preset default|tiny] [--config FILE.json] [--seed S] [--device cpu|webgpu] [--resume runs/NAME]",
  options: {
    name: { type: "string", help: "run name (folder under --runs-dir); default: zero-<date>-<seed>" },
    "runs-dir": { type: "string", default: "runs", help: "where runs are written" },
    preset: { type: "string", default: "default", help: "default (minutes on 2 CPU cores) or tiny (seconds; for tests)" },
    seed: { type: "string", help: "random seed (default 1)" },
    device: { type: "string", help: "cpu or webgpu (default: R1LAB_DEVICE or cpu)" },
    executor: { type: "string", help: "ort or jax: what runs compiled steps (default: R1LAB_EXECUTOR, else ort on cpu, jax on webgpu)" },
    resume: { type: "string", help: "continue the interrupted run in this folder" },
    "pretrain-steps": { type: "string", help: "override pretraining steps" },
    "grpo-steps": { type: "string", help: "override GRPO steps" },
    "loss-type": { type: "string", help: "grpo | dr_grpo | dapo | bnpo (default dapo)" },
    "num-generations": { type: "string", help: "completions per prompt G (default 8)" },
    "learning-rate": { type: "string", help: "GRPO learning rate" },
    epsilon: { type: "string", help: "lower clip range (default 0.2)" },
    "epsilon-high": { type: "string", help: "upper clip range (default 0.28)" },
    "eval-problems": { type: "string", help: "held-out problems to evaluate (0 = all)" },
    config: { type: "string", help: "JSON file of overrides merged over the preset, e.g. {\"grpo\": {\"steps\": 60}}" },
  },
  details: "Writes runs/<name>/: config.json, pretrain.jsonl, metrics.jsonl, samples.jsonl, eval_base.json,\nsummary.json, report.html, plots/, checkpoints/ (Hugging Face format). See docs/r1-zero.md.",
  async run(v) {
    let cfg: ZeroConfig;
    let runDir: string;
    if (v.resume) {
      ({ runDir, cfg } = resumeRun<ZeroConfig>(v.resume, v.device));
    } else {
      const base = { ...ZERO_DEFAULTS, ...(v.preset === "tiny" ? ZERO_TINY : {}) };
      if (v.preset !== "default" && v.preset !== "tiny") throw new UsageError(`--preset must be default or tiny, got '${v.preset}'`);
      const seed = v.seed !== undefined ? numberFlag(v, "seed", { int: true, min: 0 }) : base.seed;
      const name = v.name ?? `zero-${new Date().toISOString().slice(0, 19).replace(/[-:T]/g, "")}-s${seed}`;
      checkRunName(name);
      cfg = structuredClone({ ...base, name, seed, template: ZERO_TEMPLATE, device: v.device ?? process.env.R1LAB_DEVICE ?? "cpu" }) as ZeroConfig;
      cfg.executor = resolveExecutor(v.executor, resolveDevice(cfg.device));
      if (v.config) mergeOverrides(cfg, readOverrides(v.config), "");
      if (v["pretrain-steps"]) cfg.pretrain.steps = numberFlag(v, "pretrain-steps", { int: true, min: 1 });
      if (v["grpo-steps"]) cfg.grpo.steps = numberFlag(v, "grpo-steps", { int: true, min: 1 });
      if (v["num-generations"]) cfg.grpo.num_generations = numberFlag(v, "num-generations", { int: true, min: 2 });
      if (v["learning-rate"]) cfg.grpo.learning_rate = numberFlag(v, "learning-rate", { above: 0 });
      if (v.epsilon) cfg.grpo.epsilon = numberFlag(v, "epsilon", { min: 0 });
      if (v["epsilon-high"]) cfg.grpo.epsilon_high = numberFlag(v, "epsilon-high", { min: 0 });
      if (v["eval-problems"]) cfg.eval.n_problems = numberFlag(v, "eval-problems", { int: true, min: 0 });
      if (v["loss-type"]) {
        if (!["grpo", "dr_grpo", "dapo", "bnpo"].includes(v["loss-type"])) throw new UsageError(`--loss-type must be grpo, dr_grpo, dapo or bnpo, got '${v["loss-type"]}'`);
        cfg.grpo.loss_type = v["loss-type"];
        if (cfg.grpo.loss_type === "dr_grpo") cfg.grpo.scale_rewards = "none";
      }
      runDir = newRun(v["runs-dir"], name, cfg);
    }
    pointLatest(runDir);
    if (v.resume && v.executor) cfg.executor = resolveExecutor(v.executor, resolveDevice(cfg.device));
    await initEngine({ device: cfg.device, executor: cfg.executor });
    const { runZero } = await import("../rl/zero.ts");
    await runZero(cfg, runDir);
  },
};

export default cmd;
