// The options of `r1lab grpo`, in one table: TRL's GRPOConfig names (and PEFT/TRL ModelConfig's
// LoRA names) with TRL's defaults where r1lab has the same thing, each with its type and one line
// of help. The CLI builds its flags from this table (--num-generations or --num_generations), a
// --config file (JSON or YAML, as TRL recipes are written) uses the same names, and the resolved
// config is what the run writes first to config.json. docs/grpo.md lists every option.
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { LOSS_TYPES } from "../rl/grpo-loss.ts";

type Kind = "int" | "number" | "string" | "bool" | "list" | "numbers";
interface Opt {
  kind: Kind;
  default: unknown;
  help: string;
  /** Allowed values for a string. */
  choices?: readonly string[];
  /** Smallest allowed value for numbers. */
  min?: number;
  /** TRL's default when it differs from r1lab's (documented). */
  trl?: string;
}

export const GRPO_OPTIONS = {
  model: {
    kind: "string",
    default: null,
    help: "model folder (Hugging Face or r1lab checkpoint) or org/name in the HF cache",
  },
  data: {
    kind: "string",
    default: null,
    help: "training data: a JSONL/JSON/Parquet file or a dataset folder",
  },
  task: {
    kind: "string",
    default: null,
    help: "the task whose fields, prompt and scorer the data uses (gsm8k, math500, arithmetic, ...)",
  },
  output_dir: { kind: "string", default: null, help: "run folder (TRL's output_dir)" },
  split: { kind: "string", default: "train", help: "dataset split of --data" },
  eval_data: { kind: "string", default: null, help: "held-out data, scored with R1's protocol" },
  eval_split: { kind: "string", default: "test", help: "split of --eval-data" },
  eval_steps: {
    kind: "int",
    default: 0,
    min: 0,
    help: "evaluate every N optimizer steps (0: only before and after training)",
  },
  eval_limit: { kind: "int", default: 100, min: 1, help: "held-out problems evaluated" },
  eval_num_generations: {
    kind: "int",
    default: 4,
    min: 1,
    help: "samples per held-out problem (pass@1 is their mean)",
  },
  eval_temperature: { kind: "number", default: 0.6, min: 0, help: "held-out sampling temperature (R1: 0.6)" },
  eval_top_p: { kind: "number", default: 0.95, min: 0, help: "held-out top-p (R1: 0.95)" },
  prompt_format: {
    kind: "string",
    default: "auto",
    choices: ["auto", "chat", "plain"],
    help: "chat: the model's chat template; plain: the text; auto: chat when the model has a template",
  },
  system_prompt: { kind: "string", default: null, help: "system message for chat prompts (R1: none)" },
  prompt_template: {
    kind: "string",
    default: null,
    help: "plain prompts: a template with {problem} (r1lab checkpoints: the template of their run)",
  },
  learning_rate: { kind: "number", default: 1e-6, min: 0, help: "AdamW learning rate" },
  lr_scheduler_type: {
    kind: "string",
    default: "linear",
    choices: ["linear", "cosine", "constant"],
    help: "decay after warmup (to 0 for linear, as transformers)",
  },
  warmup_ratio: { kind: "number", default: 0, min: 0, help: "share of max_steps spent warming up" },
  weight_decay: { kind: "number", default: 0, min: 0, help: "AdamW weight decay" },
  max_grad_norm: { kind: "number", default: 1, min: 0, help: "gradient clipping (0: off)" },
  adam_beta1: { kind: "number", default: 0.9, min: 0, help: "AdamW beta1" },
  adam_beta2: { kind: "number", default: 0.999, min: 0, help: "AdamW beta2" },
  per_device_train_batch_size: { kind: "int", default: 8, min: 1, help: "completions per micro-batch" },
  gradient_accumulation_steps: {
    kind: "int",
    default: 1,
    min: 1,
    help: "micro-batches per optimizer step (a generation batch is their product)",
  },
  num_generations: {
    kind: "int",
    default: 8,
    min: 2,
    help: "completions per prompt (G); must divide the generation batch",
  },
  num_iterations: {
    kind: "int",
    default: 1,
    min: 1,
    help: "optimizer passes per generation batch (mu), with old log-probs",
  },
  max_prompt_length: {
    kind: "int",
    default: 512,
    min: 1,
    help: "prompts longer than this keep their last tokens",
    trl: "512 (removed in recent TRL)",
  },
  max_completion_length: {
    kind: "int",
    default: 256,
    min: 1,
    help: "tokens generated per completion",
    trl: "512",
  },
  temperature: {
    kind: "number",
    default: 1,
    min: 0,
    help: "rollout sampling temperature (also divides the logits in the loss)",
  },
  top_p: { kind: "number", default: 1, min: 0, help: "rollout top-p" },
  top_k: { kind: "int", default: 0, min: 0, help: "rollout top-k (0: off)" },
  beta: {
    kind: "number",
    default: 0,
    min: 0,
    help: "KL coefficient against the frozen reference model (k3)",
  },
  epsilon: { kind: "number", default: 0.2, min: 0, help: "lower clip: ratio >= 1 - epsilon" },
  epsilon_high: {
    kind: "number",
    default: null,
    min: 0,
    help: "upper clip 1 + epsilon_high (default: epsilon; DAPO 0.28; cispo: the weight cap, e.g. 5)",
  },
  loss_type: {
    kind: "string",
    default: "dapo",
    choices: LOSS_TYPES,
    help: "grpo | bnpo | dr_grpo | dapo | cispo (aggregation, see docs/grpo.md)",
  },
  scale_rewards: {
    kind: "string",
    default: "group",
    choices: ["group", "batch", "none"],
    help: "advantage scaling: group std, batch std, or none (Dr. GRPO)",
  },
  importance_sampling_level: {
    kind: "string",
    default: "token",
    choices: ["token", "sequence"],
    help: "token ratios, or one per sequence (GSPO)",
  },
  mask_truncated_completions: {
    kind: "bool",
    default: false,
    help: "leave completions cut at max_completion_length out of the loss",
  },
  reward_funcs: {
    kind: "list",
    default: [],
    help: "comma list: accuracy, format, language_consistency, length, remote:URL",
  },
  reward_weights: {
    kind: "numbers",
    default: null,
    help: "comma list of weights, one per reward function (default: all 1)",
  },
  overlong_buffer_length: {
    kind: "int",
    default: null,
    min: 1,
    help: "length reward: L_cache (default max_completion_length / 4)",
  },
  language: {
    kind: "string",
    default: "en",
    choices: ["en", "zh"],
    help: "language_consistency's target script",
  },
  max_steps: {
    kind: "int",
    default: -1,
    min: -1,
    help: "optimizer steps (-1: num_train_epochs over the data)",
  },
  num_train_epochs: {
    kind: "number",
    default: 1,
    min: 0,
    help: "passes over the prompts when max_steps is -1",
  },
  save_steps: { kind: "int", default: 500, min: 1, help: "checkpoint every N steps (and at the end)" },
  logging_steps: {
    kind: "int",
    default: 10,
    min: 1,
    help: "progress line and samples.jsonl every N steps (metrics.jsonl gets every step)",
  },
  seed: { kind: "int", default: 42, min: 0, help: "seed of prompt order, sampling and LoRA init" },
  use_peft: { kind: "bool", default: false, help: "train LoRA adapters instead of all weights" },
  lora_r: { kind: "int", default: 16, min: 1, help: "LoRA rank" },
  lora_alpha: { kind: "number", default: 32, min: 0, help: "LoRA alpha (scaling alpha / r)" },
  lora_dropout: {
    kind: "number",
    default: 0,
    min: 0,
    help: "LoRA dropout (only 0 is supported)",
    trl: "0.05",
  },
  lora_target_modules: {
    kind: "list",
    default: null,
    help: "projections to adapt, or all-linear (default: PEFT's for the model type)",
  },
  use_rslora: { kind: "bool", default: false, help: "scaling alpha / sqrt(r)" },
  merge: {
    kind: "bool",
    default: false,
    help: "with use_peft: also write final/ as a full model with the adapter merged",
  },
  device: { kind: "string", default: "cpu", help: "cpu or webgpu" },
  executor: {
    kind: "string",
    default: null,
    help: "ort or jax: what runs compiled steps (default: R1LAB_EXECUTOR, else ort on cpu, jax on webgpu)",
  },
} satisfies Record<string, Opt>;

export type GrpoOptionName = keyof typeof GRPO_OPTIONS;

export interface GrpoRunConfig {
  model: string;
  data: string;
  task: string;
  output_dir: string;
  split: string;
  eval_data: string | null;
  eval_split: string;
  eval_steps: number;
  eval_limit: number;
  eval_num_generations: number;
  eval_temperature: number;
  eval_top_p: number;
  prompt_format: "auto" | "chat" | "plain";
  system_prompt: string | null;
  prompt_template: string | null;
  learning_rate: number;
  lr_scheduler_type: "linear" | "cosine" | "constant";
  warmup_ratio: number;
  weight_decay: number;
  max_grad_norm: number;
  adam_beta1: number;
  adam_beta2: number;
  per_device_train_batch_size: number;
  gradient_accumulation_steps: number;
  num_generations: number;
  num_iterations: number;
  max_prompt_length: number;
  max_completion_length: number;
  temperature: number;
  top_p: number;
  top_k: number;
  beta: number;
  epsilon: number;
  epsilon_high: number;
  loss_type: (typeof LOSS_TYPES)[number];
  scale_rewards: "group" | "batch" | "none";
  importance_sampling_level: "token" | "sequence";
  mask_truncated_completions: boolean;
  reward_funcs: string[];
  reward_weights: number[];
  overlong_buffer_length: number | null;
  language: string;
  max_steps: number;
  num_train_epochs: number;
  save_steps: number;
  logging_steps: number;
  seed: number;
  use_peft: boolean;
  lora_r: number;
  lora_alpha: number;
  lora_dropout: number;
  lora_target_modules: string[] | null;
  use_rslora: boolean;
  merge: boolean;
  device: string;
  /** ort or jax (engine/executor.ts); resolved before config.json is written. */
  executor: string | null;
}

/** Bad input found while setting a run up (data, model, LoRA targets): the CLI prints it as one line. */
export class GrpoInputError extends Error {
  override name = "GrpoInputError";
}

/** Read a --config file (JSON, or YAML by extension) into an object of options. */
export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new Error(`${path}: cannot read (${(e as Error).message})`);
  }
  let v: unknown;
  try {
    v = /\.ya?ml$/i.test(path) ? parseYaml(text) : JSON.parse(text);
  } catch (e) {
    throw new Error(
      `${path}: not valid ${/\.ya?ml$/i.test(path) ? "YAML" : "JSON"} (${(e as Error).message.split("\n")[0]})`,
    );
  }
  if (v === null || typeof v !== "object" || Array.isArray(v))
    throw new Error(`${path}: must hold a mapping of option names to values`);
  return v as Record<string, unknown>;
}

/** An option name as typed (--num-generations, num_generations, out) to its table name. */
export function optionName(raw: string): GrpoOptionName | null {
  const n = raw.replace(/^--/, "").replace(/-/g, "_");
  const name = n === "out" ? "output_dir" : n;
  return Object.hasOwn(GRPO_OPTIONS, name) ? (name as GrpoOptionName) : null;
}

function coerce(name: string, o: Opt, v: unknown, where: string): unknown {
  const bad = (what: string) => new Error(`${where}: ${name} must be ${what}, got ${JSON.stringify(v)}`);
  if (v === null) return null;
  if (o.kind === "bool") {
    if (typeof v === "boolean") return v;
    if (v === "true" || v === "1") return true;
    if (v === "false" || v === "0") return false;
    throw bad("true or false");
  }
  if (o.kind === "int" || o.kind === "number") {
    const x = typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : Number.NaN;
    if (!Number.isFinite(x) || (o.kind === "int" && !Number.isInteger(x)))
      throw bad(o.kind === "int" ? "an integer" : "a number");
    if (o.min !== undefined && x < o.min) throw bad(`>= ${o.min}`);
    return x;
  }
  if (o.kind === "list" || o.kind === "numbers") {
    const items = Array.isArray(v)
      ? v
      : typeof v === "string"
        ? v
            .split(",")
            .map((s) => s.trim())
            .filter((s) => s)
        : null;
    if (!items) throw bad("a list");
    if (o.kind === "list") {
      if (!items.every((s) => typeof s === "string")) throw bad("a list of names");
      return items.length === 1 && name === "lora_target_modules" && items[0] === "all-linear"
        ? ["all-linear"]
        : items;
    }
    const nums = items.map((s) => (typeof s === "number" ? s : Number(s)));
    if (!nums.every((x) => Number.isFinite(x))) throw bad("a list of numbers");
    return nums;
  }
  if (typeof v !== "string") throw bad("a string");
  if (o.choices && !o.choices.includes(v)) throw bad(`one of ${o.choices.join(", ")}`);
  return v;
}

/**
 * The resolved config: defaults, then the --config file, then flags (both as {name: value} with
 * names in any spelling). Every problem names the option and where it came from.
 */
export function resolveGrpoConfig(
  file: Record<string, unknown> | null,
  flags: Record<string, unknown>,
  filePath = "--config",
): GrpoRunConfig {
  const out: Record<string, unknown> = {};
  for (const [k, o] of Object.entries(GRPO_OPTIONS)) out[k] = structuredClone(o.default);
  const apply = (src: Record<string, unknown>, where: string, flag: boolean) => {
    for (const [raw, v] of Object.entries(src)) {
      if (v === undefined) continue;
      const name = optionName(raw);
      if (!name) throw new Error(`${where}: unknown option '${raw}' (see r1lab grpo --help or docs/grpo.md)`);
      out[name] = coerce(flag ? `--${name.replace(/_/g, "-")}` : name, GRPO_OPTIONS[name] as Opt, v, where);
    }
  };
  if (file) apply(file, filePath, false);
  apply(flags, "r1lab grpo", true);
  for (const req of ["model", "data", "task", "output_dir"] as const)
    if (out[req] === null || out[req] === "")
      throw new Error(`r1lab grpo: --${req === "output_dir" ? "out" : req} is required`);
  const c = out as unknown as GrpoRunConfig;
  c.epsilon_high ??= c.epsilon;
  if (c.reward_funcs.length === 0)
    throw new Error(
      "r1lab grpo: no reward function: pass --reward-funcs (e.g. accuracy,format) or reward_funcs in --config",
    );
  if (c.reward_weights === null) c.reward_weights = c.reward_funcs.map(() => 1);
  if (c.reward_weights.length !== c.reward_funcs.length)
    throw new Error(
      `r1lab grpo: reward_weights has ${c.reward_weights.length} values for ${c.reward_funcs.length} reward functions (${c.reward_funcs.join(", ")})`,
    );
  const gen = c.per_device_train_batch_size * c.gradient_accumulation_steps;
  if (gen % c.num_generations !== 0)
    throw new Error(
      `r1lab grpo: num_generations ${c.num_generations} does not divide the generation batch per_device_train_batch_size x gradient_accumulation_steps = ${gen}; ` +
        `use a batch of ${Math.ceil(gen / c.num_generations) * c.num_generations} or num_generations dividing ${gen}`,
    );
  if (c.loss_type !== "cispo" && c.epsilon >= 1)
    throw new Error(`r1lab grpo: epsilon must be below 1, got ${c.epsilon}`);
  if (c.merge && !c.use_peft)
    throw new Error("r1lab grpo: --merge needs --use-peft (a full fine-tune already writes a full model)");
  if (c.lora_dropout !== 0)
    throw new Error(
      `r1lab grpo: lora_dropout ${c.lora_dropout} is not supported (r1lab merges the adapter into the weights in the step); use 0`,
    );
  return c;
}
