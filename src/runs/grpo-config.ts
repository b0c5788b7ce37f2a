// The options of `r1lab grpo`, as one schema (runs/schema.ts) like zero's and r1's: TRL's GRPOConfig
// names (and PEFT/TRL ModelConfig's LoRA names) with TRL's defaults where r1lab has the same thing.
// The objective's options are the ones zero and r1 use (config-groups.ts's trlGrpoFields). From the
// schema come the flags (--num-generations or --num_generations), the --config file's keys (JSON or
// YAML, as TRL recipes are written), --help, docs/cli.md's table, and the checks: an unknown key or
// a value outside an enum is an error naming it. The resolved config is the first file a run writes.
import { runFields, trlGrpoFields } from "./config-groups.ts";
import { ConfigError, type Infer, bool, group, names, num, numbers, oneOf, optional, str } from "./schema.ts";

const path = (help: string, required = false) => optional(str("", required ? `${help} (required)` : help));

export const GRPO_SCHEMA = group("r1lab grpo", {
  model: path("model folder (Hugging Face or r1lab checkpoint) or org/name in the HF cache", true),
  data: path("training data: a JSONL/JSON/Parquet file or a dataset folder", true),
  task: path(
    "the task whose fields, prompt and scorer the data uses (gsm8k, math500, arithmetic, ...)",
    true,
  ),
  output_dir: { ...path("run folder (TRL's output_dir)", true), flag: "out", aliases: ["output-dir"] },
  split: str("train", "dataset split of --data"),
  eval_data: path("held-out data, scored with R1's protocol"),
  eval_split: str("test", "split of --eval-data"),
  eval_steps: num(0, "evaluate every N optimizer steps (0: only before and after training)", {
    int: true,
    min: 0,
  }),
  eval_limit: num(100, "held-out problems evaluated", { int: true, min: 1 }),
  eval_num_generations: num(4, "samples per held-out problem (pass@1 is their mean)", { int: true, min: 1 }),
  eval_temperature: num(0.6, "held-out sampling temperature (R1: 0.6)", { min: 0 }),
  eval_top_p: num(0.95, "held-out top-p (R1: 0.95)", { min: 0, max: 1 }),
  prompt_format: oneOf(
    ["auto", "chat", "plain"],
    "auto",
    "chat: the model's chat template; plain: the text; auto: chat when the model has a template",
  ),
  system_prompt: path("system message for chat prompts (R1: none)"),
  prompt_template: path(
    "plain prompts: a template with {problem} (r1lab checkpoints: the template of their run)",
  ),
  ...trlGrpoFields({
    max_completion_length: 256,
    learning_rate: 1e-6,
    lr_schedule: "peak, see lr_scheduler_type",
    loss_type: "dapo",
    scale_rewards: "group",
  }),
  epsilon_high: optional(
    num(0, "upper clip 1 + epsilon_high (default: epsilon; DAPO 0.28; cispo: the weight cap, e.g. 5)", {
      min: 0,
    }),
  ),
  lr_scheduler_type: oneOf(
    ["linear", "cosine", "constant"],
    "linear",
    "decay after warmup (to 0 for linear, as transformers)",
  ),
  warmup_ratio: num(0, "share of max_steps spent warming up", { min: 0, max: 1 }),
  weight_decay: num(0, "AdamW weight decay", { min: 0 }),
  max_grad_norm: num(1, "gradient clipping (0: off)", { min: 0 }),
  adam_beta1: num(0.9, "AdamW beta1", { min: 0, max: 1 }),
  adam_beta2: num(0.999, "AdamW beta2", { min: 0, max: 1 }),
  per_device_train_batch_size: num(8, "completions per micro-batch", { int: true, min: 1 }),
  gradient_accumulation_steps: num(
    1,
    "micro-batches per optimizer step (a generation batch is their product)",
    {
      int: true,
      min: 1,
    },
  ),
  max_prompt_length: num(512, "prompts longer than this keep their last tokens", { int: true, min: 1 }),
  top_k: num(0, "rollout top-k (0: off)", { int: true, min: 0 }),
  importance_sampling_level: oneOf(
    ["token", "sequence"],
    "token",
    "token ratios, or one per sequence (GSPO)",
  ),
  mask_truncated_completions: bool(false, "leave completions cut at max_completion_length out of the loss"),
  reward_funcs: names([], "comma list: accuracy, format, language_consistency, length, remote:URL"),
  reward_weights: optional(numbers([], "comma list of weights, one per reward function (default: all 1)")),
  overlong_buffer_length: optional(
    num(0, "length reward: L_cache (default max_completion_length / 4)", { int: true, min: 1 }),
  ),
  language: oneOf(["en", "zh"], "en", "language_consistency's target script"),
  max_steps: num(-1, "optimizer steps (-1: num_train_epochs over the data)", { int: true, min: -1 }),
  num_train_epochs: num(1, "passes over the prompts when max_steps is -1", { min: 0 }),
  save_steps: num(500, "checkpoint every N steps (and at the end)", { int: true, min: 1 }),
  logging_steps: num(10, "progress line and samples.jsonl every N steps (metrics.jsonl gets every step)", {
    int: true,
    min: 1,
  }),
  ...runFields(42),
  use_peft: bool(false, "train LoRA adapters instead of all weights"),
  lora_r: num(16, "LoRA rank", { int: true, min: 1 }),
  lora_alpha: num(32, "LoRA alpha (scaling alpha / r)", { min: 0 }),
  lora_dropout: num(0, "LoRA dropout (only 0 is supported; TRL: 0.05)", { min: 0, max: 1 }),
  lora_target_modules: optional(
    names([], "projections to adapt, or all-linear (default: PEFT's for the model type)"),
  ),
  use_rslora: bool(false, "scaling alpha / sqrt(r)"),
  merge: bool(false, "with use_peft: also write final/ as a full model with the adapter merged"),
});

export type GrpoSchemaConfig = Infer<typeof GRPO_SCHEMA>;
/** A resolved `r1lab grpo` config: required paths given, epsilon_high and reward_weights filled in. */
export type GrpoRunConfig = Omit<
  GrpoSchemaConfig,
  "model" | "data" | "task" | "output_dir" | "epsilon_high" | "reward_weights"
> & {
  model: string;
  data: string;
  task: string;
  output_dir: string;
  epsilon_high: number;
  reward_weights: number[];
  /** ort or jax (engine/executor.ts); set by the command before config.json is written. */
  executor?: string | null;
};

/** Bad input found while setting a run up (data, model, LoRA targets): the CLI prints it as one line. */
export class GrpoInputError extends Error {
  override name = "GrpoInputError";
}

/** The checks that span options, on a config the schema resolved; fills in epsilon_high and reward_weights. */
export function checkGrpoConfig(c: GrpoSchemaConfig): GrpoRunConfig {
  const fail = (msg: string): never => {
    throw new ConfigError(`r1lab grpo: ${msg}`);
  };
  for (const req of ["model", "data", "task", "output_dir"] as const)
    if (c[req] === null || c[req] === "") fail(`--${req === "output_dir" ? "out" : req} is required`);
  if (c.reward_funcs.length === 0)
    fail("no reward function: pass --reward-funcs (e.g. accuracy,format) or reward_funcs in --config");
  const weights = c.reward_weights ?? c.reward_funcs.map(() => 1);
  if (weights.length !== c.reward_funcs.length)
    fail(
      `reward_weights has ${weights.length} values for ${c.reward_funcs.length} reward functions (${c.reward_funcs.join(", ")})`,
    );
  const gen = c.per_device_train_batch_size * c.gradient_accumulation_steps;
  if (gen % c.num_generations !== 0)
    fail(
      `num_generations ${c.num_generations} does not divide the generation batch per_device_train_batch_size x gradient_accumulation_steps = ${gen}; ` +
        `use a batch of ${Math.ceil(gen / c.num_generations) * c.num_generations} or num_generations dividing ${gen}`,
    );
  if (c.loss_type !== "cispo" && c.epsilon >= 1) fail(`epsilon must be below 1, got ${c.epsilon}`);
  if (c.merge && !c.use_peft) fail("--merge needs --use-peft (a full fine-tune already writes a full model)");
  if (c.lora_dropout !== 0)
    fail(
      `lora_dropout ${c.lora_dropout} is not supported (r1lab merges the adapter into the weights in the step); use 0`,
    );
  return { ...(c as GrpoRunConfig), epsilon_high: c.epsilon_high ?? c.epsilon, reward_weights: weights };
}
