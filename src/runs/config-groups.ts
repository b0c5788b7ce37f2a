// The option groups the run configs share (runs/schema.ts): the synthetic task, the tiny model,
// pretraining, GRPO (TRL's GRPOConfig names), SFT (TRL's SFTConfig names) and the held-out
// evaluation. Each default is written here once; a run passes only the defaults it changes.
import { LOSS_TYPES } from "../rl/grpo-loss.ts";
import { bool, group, num, oneOf, str, weights } from "./schema.ts";

export const SCALE_REWARDS = ["group", "batch", "none"] as const;

export const taskFields = (d: { min_terms: number; max_terms: number; max_number: number }) => ({
  task: oneOf(["arithmetic", "countdown"], "arithmetic", "synthetic task"),
  task_options: group(
    "problem generator",
    {
      min_terms: num(d.min_terms, "fewest operands per problem", { int: true, min: 1 }),
      max_terms: num(d.max_terms, "most operands per problem", { int: true, min: 1 }),
      max_number: num(d.max_number, "operands are 1..max_number", { int: true, min: 1 }),
      ops: str("+-", "operators to draw from (+, -, *)"),
      test_fraction: num(0.25, "share of problems held out for evaluation (by hash)", { min: 0, max: 1 }),
    },
    { flagPrefix: "" },
  ),
});

export const modelGroup = (d: {
  hidden_size: number;
  num_hidden_layers: number;
  moe_intermediate_size: number;
  intermediate_size: number;
}) =>
  group("the tiny DeepSeek-style model (Hugging Face config names)", {
    hidden_size: num(d.hidden_size, "model width", { int: true, min: 8 }),
    num_hidden_layers: num(d.num_hidden_layers, "decoder layers", { int: true, min: 1 }),
    n_routed_experts: num(4, "routed experts per MoE layer", { int: true, min: 1 }),
    moe_intermediate_size: num(d.moe_intermediate_size, "hidden size of each expert", { int: true, min: 1 }),
    intermediate_size: num(d.intermediate_size, "hidden size of the dense MLP layer", { int: true, min: 1 }),
  });

export const pretrainFields = (d: { steps: number; batch_size: number }) => ({
  steps: num(d.steps, "pretraining steps", { int: true, min: 1 }),
  batch_size: num(d.batch_size, "rows per step", { int: true, min: 1 }),
  learning_rate: num(5e-3, "peak learning rate (warmup, then cosine to 10%)", { above: 0 }),
  warmup_steps: num(30, "linear warmup steps", { int: true, min: 0 }),
  mtp_lambda: num(0.3, "weight of the multi-token-prediction loss", { min: 0 }),
  balance_alpha: num(1e-4, "weight of the sequence-wise balance loss", { min: 0 }),
  bias_update_gamma: num(1e-3, "auxiliary-loss-free balancing: routing-bias step", { min: 0 }),
});

export interface GrpoDefaults {
  steps: number;
  /** Default 8. */
  prompts_per_step?: number;
  max_completion_length: number;
  learning_rate: number;
  scale_rewards: (typeof SCALE_REWARDS)[number];
  reward_weights: Record<string, number>;
}

/**
 * The options of GRPO's objective and sampling under TRL's GRPOConfig names, shared by zero and r1's
 * GRPO groups and by `r1lab grpo` (which differ only in the defaults passed here).
 */
export const trlGrpoFields = (d: {
  max_completion_length: number;
  learning_rate: number;
  /** How the learning rate moves, for its help line. */
  lr_schedule: string;
  loss_type: (typeof LOSS_TYPES)[number];
  scale_rewards: (typeof SCALE_REWARDS)[number];
}) => ({
  num_generations: num(8, "completions per prompt (G)", { int: true, min: 2 }),
  max_completion_length: num(d.max_completion_length, "most tokens per completion", { int: true, min: 1 }),
  temperature: num(1.0, "sampling temperature of the rollouts (the loss divides the logits by it too)", {
    min: 0,
  }),
  top_p: num(1.0, "nucleus sampling of the rollouts", { min: 0, max: 1 }),
  learning_rate: num(d.learning_rate, `policy learning rate (AdamW; ${d.lr_schedule})`, { above: 0 }),
  beta: num(0.0, "KL penalty weight against the starting model (k3 estimator)", { min: 0 }),
  epsilon: num(0.2, "lower clip: ratio >= 1 - epsilon", { min: 0 }),
  loss_type: oneOf(
    LOSS_TYPES,
    d.loss_type,
    "how token losses are averaged, as in TRL: grpo (per sequence), bnpo, dr_grpo (constant), dapo (tokens of the batch), cispo",
  ),
  scale_rewards: oneOf(
    SCALE_REWARDS,
    d.scale_rewards,
    "advantages divided by the std of the group, the batch, or not at all (Dr. GRPO: none)",
  ),
  num_iterations: num(1, "updates per batch of rollouts (mu), against the sampling policy's log-probs", {
    int: true,
    min: 1,
  }),
});

/** GRPO's options in a run with synthetic tasks (zero, r1), TRL's names; `flags` is the flag prefix ("" = bare TRL names). */
export const grpoGroup = (help: string, d: GrpoDefaults, flags?: string) =>
  group(
    help,
    {
      steps: num(d.steps, "GRPO steps", {
        int: true,
        min: 1,
        ...(flags === "" ? { flag: "grpo-steps" } : {}),
      }),
      prompts_per_step: num(d.prompts_per_step ?? 8, "prompts per step", { int: true, min: 1 }),
      ...trlGrpoFields({ ...d, loss_type: "grpo", lr_schedule: "constant" }),
      epsilon_high: num(0.28, "upper clip range (DAPO's clip-higher)", { min: 0 }),
      dynamic_sampling: bool(
        false,
        "DAPO's dynamic sampling: replace groups whose rewards are all equal by fresh prompts",
      ),
      max_resample_rounds: num(1, "with dynamic sampling: extra rounds of fresh prompts per step", {
        int: true,
        min: 0,
      }),
      reward_weights: weights(d.reward_weights, "reward functions and their weights"),
      bias_update_gamma: num(0, "routing-bias step during RL (0 = frozen)", { min: 0 }),
    },
    flags === undefined ? {} : { flagPrefix: flags },
  );

export interface SftDefaults {
  max_steps: number;
  per_device_train_batch_size: number;
  learning_rate?: number;
  warmup_steps?: number;
}

/** SFT's options, TRL's SFTConfig names. */
export const sftGroup = (help: string, d: SftDefaults) =>
  group(help, {
    learning_rate: num(d.learning_rate ?? 2e-3, "peak learning rate", { above: 0 }),
    max_steps: num(d.max_steps, "optimizer steps", { int: true, min: 1 }),
    per_device_train_batch_size: num(d.per_device_train_batch_size, "sequences per micro-batch", {
      int: true,
      min: 1,
    }),
    gradient_accumulation_steps: num(1, "micro-batches per optimizer step", { int: true, min: 1 }),
    max_seq_length: num(192, "longest sequence in tokens", { int: true, min: 2 }),
    packing: bool(false, "pack several examples per row"),
    warmup_steps: num(d.warmup_steps ?? 5, "linear warmup steps", { int: true, min: 0 }),
    weight_decay: num(0.0, "AdamW weight decay", { min: 0 }),
  });

export const evalGroup = (d: { n_problems: number; k?: number }) =>
  group("held-out evaluation, R1's protocol", {
    k: num(d.k ?? 4, "samples per problem (pass@1 over them, pass@k / cons@k)", { int: true, min: 1 }),
    temperature: num(0.6, "sampling temperature", { min: 0 }),
    top_p: num(0.95, "nucleus sampling", { min: 0, max: 1 }),
    n_problems: num(d.n_problems, "held-out problems (0 = all)", {
      int: true,
      min: 0,
      aliases: ["eval-problems"],
    }),
  });

export const runFields = (seed = 1) => ({
  seed: num(seed, "random seed", { int: true, min: 0 }),
  device: oneOf(["cpu", "webgpu"], "cpu", "where to compute; without the flag, R1LAB_DEVICE when it is set"),
});
