// The resolved configuration of an R1-Zero run. Option names follow TRL's GRPOConfig where one
// exists (num_generations, beta, epsilon, epsilon_high, loss_type, scale_rewards,
// max_completion_length, num_iterations, learning_rate, temperature). The defaults are the embedded
// default that `pnpm start` runs: a tiny DeepSeek-style model on multi-step arithmetic, minutes on 2 CPU cores.
import type { LossType } from "./grpo-loss.ts";
import type { ScaleRewards } from "./advantages.ts";

export interface ZeroConfig {
  name: string;
  seed: number;
  device: string;
  /** ort or jax (engine/executor.ts); absent in runs made before the ORT executor (then the default). */
  executor?: string;
  task: "arithmetic" | "countdown";
  /** Problem generator settings: numbers from 1 to max_number, min_terms..max_terms operands, operators `ops`. */
  task_options: { min_terms: number; max_terms: number; max_number: number; ops: string; test_fraction: number };
  /** Distinct training problems (the corpus and the GRPO prompts draw from them). */
  train_problems: number;
  template: string;
  model: { hidden_size: number; num_hidden_layers: number; n_routed_experts: number; moe_intermediate_size: number; intermediate_size: number };
  pretrain: {
    steps: number;
    /** Rows per step; each row packs whole corpus sequences up to max_length tokens. */
    batch_size: number;
    max_length: number;
    learning_rate: number;
    warmup_steps: number;
    traces_per_problem: number;
    mtp_lambda: number;
    balance_alpha: number;
    bias_update_gamma: number;
  };
  grpo: {
    steps: number;
    prompts_per_step: number;
    num_generations: number;
    max_completion_length: number;
    temperature: number;
    top_p: number;
    learning_rate: number;
    beta: number;
    epsilon: number;
    epsilon_high: number;
    loss_type: LossType;
    scale_rewards: ScaleRewards;
    num_iterations: number;
    max_resample_rounds: number;
    reward_weights: Record<string, number>;
    bias_update_gamma: number;
  };
  eval: { k: number; temperature: number; top_p: number; n_problems: number };
  checkpoint_every: number;
}

export const ZERO_DEFAULTS: Omit<ZeroConfig, "name" | "template"> = {
  seed: 1,
  device: "cpu",
  task: "arithmetic",
  task_options: { min_terms: 4, max_terms: 4, max_number: 3, ops: "+-", test_fraction: 0.25 },
  // Every training problem there is: 4 numbers from 1-3 with + and - give 400 problems, 264 of them
  // on the train side of the split (the other 136 are held out).
  train_problems: 264,
  model: { hidden_size: 96, num_hidden_layers: 3, n_routed_experts: 4, moe_intermediate_size: 64, intermediate_size: 256 },
  pretrain: {
    steps: 380,
    batch_size: 24,
    max_length: 96,
    learning_rate: 5e-3,
    warmup_steps: 30,
    traces_per_problem: 4,
    mtp_lambda: 0.3,
    balance_alpha: 1e-4,
    bias_update_gamma: 1e-3,
  },
  grpo: {
    steps: 36,
    prompts_per_step: 8,
    num_generations: 8,
    max_completion_length: 48,
    temperature: 1.0,
    top_p: 1.0,
    learning_rate: 5e-4,
    beta: 0.0,
    epsilon: 0.2,
    epsilon_high: 0.28,
    loss_type: "grpo",
    // "batch": one std for the whole batch. Per-group std ("group", R1's choice) turns a group whose
    // answers are all wrong but one of which is malformed into full-size advantages for the format
    // reward alone (docs/r1-zero.md).
    scale_rewards: "batch",
    num_iterations: 1,
    max_resample_rounds: 1,
    reward_weights: { accuracy: 1.0, format: 0.1 },
    bias_update_gamma: 0,
  },
  eval: { k: 4, temperature: 0.6, top_p: 0.95, n_problems: 100 },
  checkpoint_every: 20,
};

/** Smallest config that still runs every phase (tests). */
export const ZERO_TINY: Partial<Omit<ZeroConfig, "name" | "template">> = {
  model: { hidden_size: 32, num_hidden_layers: 2, n_routed_experts: 4, moe_intermediate_size: 16, intermediate_size: 64 },
  train_problems: 40,
  pretrain: { ...ZERO_DEFAULTS.pretrain, steps: 6, batch_size: 8, traces_per_problem: 1, warmup_steps: 2 },
  grpo: { ...ZERO_DEFAULTS.grpo, steps: 4, prompts_per_step: 2, num_generations: 4, max_completion_length: 24 },
  eval: { k: 2, temperature: 0.6, top_p: 0.95, n_problems: 4 },
  checkpoint_every: 2,
};
