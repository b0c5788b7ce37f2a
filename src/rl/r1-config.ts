// The resolved configuration of an R1 pipeline run (`r1lab r1`). Names follow TRL: GRPOConfig for
// the RL stages (num_generations, max_completion_length, beta, epsilon, epsilon_high, loss_type,
// scale_rewards, learning_rate, temperature), SFTConfig for the SFT stages (learning_rate,
// max_steps, per_device_train_batch_size, gradient_accumulation_steps, max_seq_length, packing).
// The default runs every stage in about 16 CPU-minutes (32 min wall measured on a loaded 2-core machine); `tiny`
// runs every stage end to end in a few minutes; `micro` (tests) in well under a minute.
import type { SftConfig } from "../train/sft.ts";
import type { ZeroConfig } from "./zero-config.ts";

export type R1Grpo = Omit<ZeroConfig["grpo"], "bias_update_gamma" | "num_iterations" | "max_resample_rounds"> & {
  /** Updates per batch of rollouts (TRL's num_iterations); absent in configs of older runs: 1. */
  num_iterations?: number;
};

export interface R1Config {
  name: string;
  seed: number;
  device: string;
  /** ort or jax (engine/executor.ts); absent in runs made before the ORT executor (then the default). */
  executor?: string;
  task: "arithmetic" | "countdown";
  task_options: ZeroConfig["task_options"];
  train_problems: number;
  template: string;
  model: ZeroConfig["model"];
  /**
   * The base model: next-token + MTP pretraining on the noisy corpus of `r1lab zero`, where a share
   * `readable_fraction` of the traces (right or wrong) is rewritten in the readable format: the base
   * has seen that "language", as DeepSeek-V3-Base had seen prose, and cold start selects it.
   */
  pretrain: Omit<ZeroConfig["pretrain"], "max_length"> & { readable_fraction: number };
  /** Stage 1 data: how many long readable traces (tasks/cold-start.ts). */
  cold_start: { n_examples: number };
  cold_start_sft: Omit<SftConfig, "seed">;
  /** Stage 2: reasoning-oriented RL; reward_weights include `consistency` (rl/consistency.ts). */
  reasoning_rl: R1Grpo;
  /** Stage 3: K = num_samples per training prompt; keep correct + well-formed (+ readable), deduplicated. */
  /** mix_cold_start: the SFT data is the kept set plus the cold-start set (R1 mixed its reasoning samples with other SFT data). */
  rejection_sampling: { prompts: number; num_samples: number; temperature: number; top_p: number; require_readable: boolean; mix_cold_start: boolean };
  /** Stage 4: SFT of the base on what rejection sampling kept. */
  sft: Omit<SftConfig, "seed">;
  /** Stage 5: the final RL stage from the SFT model. */
  final_rl: R1Grpo;
  /**
   * After the pipeline (rl/r1-distill.ts): a smaller dense student, pretrained for pretrain_steps on
   * the same corpus, distilled from final_rl's verified traces (`prompts` x `samples`) vs the same
   * student trained with GRPO for as many steps as the distillation's SFT (sft.max_steps).
   */
  distill: {
    enabled: boolean;
    student: { hidden_size: number; num_hidden_layers: number; intermediate_size: number; num_attention_heads: number };
    pretrain_steps: number;
    prompts: number;
    samples: number;
    sft: Omit<SftConfig, "seed">;
  };
  /** Held-out evaluation after every stage: k samples per problem (pass@1, cons@k). */
  eval: { k: number; temperature: number; top_p: number; n_problems: number };
  /** Completion budget of the evaluations and of rejection sampling, in tokens (RL stages: their own). */
  max_completion_length: number;
  checkpoint_every: number;
}

/**
 * The pipeline's prompt: the problem and nothing else to read. The R1-Zero template's instruction
 * (rl/template.ts) is not needed once cold start teaches the format, and at 28 fewer characters per
 * sequence it halves the cost of the terse corpus on a character-level model.
 */
export const R1_TEMPLATE = "Q: {problem}\nA:";

const GRPO: R1Grpo = {
  steps: 20,
  prompts_per_step: 8,
  num_generations: 8,
  max_completion_length: 112,
  temperature: 1.0,
  top_p: 1.0,
  learning_rate: 3e-4,
  beta: 0.0,
  num_iterations: 1,
  epsilon: 0.2,
  epsilon_high: 0.28,
  loss_type: "grpo",
  scale_rewards: "group",
  reward_weights: { accuracy: 1.0, format: 0.1, consistency: 0.2 },
};

const SFT: Omit<SftConfig, "seed"> = {
  learning_rate: 2e-3,
  max_steps: 60,
  per_device_train_batch_size: 16,
  gradient_accumulation_steps: 1,
  max_seq_length: 192,
  packing: false,
  warmup_steps: 5,
  weight_decay: 0.0,
};

export const R1_DEFAULTS: Omit<R1Config, "name" | "template"> = {
  seed: 1,
  device: "cpu",
  task: "arithmetic",
  task_options: { min_terms: 2, max_terms: 3, max_number: 6, ops: "+-", test_fraction: 0.25 },
  train_problems: 400,
  model: { hidden_size: 96, num_hidden_layers: 3, n_routed_experts: 4, moe_intermediate_size: 64, intermediate_size: 256 },
  pretrain: { steps: 200, batch_size: 32, learning_rate: 5e-3, warmup_steps: 30, traces_per_problem: 1, mtp_lambda: 0.3, balance_alpha: 1e-4, bias_update_gamma: 1e-3, readable_fraction: 0.3 },
  cold_start: { n_examples: 200 },
  cold_start_sft: SFT,
  reasoning_rl: GRPO,
  rejection_sampling: { prompts: 96, num_samples: 4, temperature: 1.0, top_p: 1.0, require_readable: true, mix_cold_start: true },
  sft: { ...SFT, max_steps: 80 },
  final_rl: { ...GRPO, steps: 10 },
  distill: { enabled: true, student: { hidden_size: 64, num_hidden_layers: 2, intermediate_size: 192, num_attention_heads: 2 }, pretrain_steps: 150, prompts: 96, samples: 4, sft: { ...SFT, max_steps: 20 } },
  eval: { k: 4, temperature: 0.6, top_p: 0.95, n_problems: 64 },
  max_completion_length: 112,
  checkpoint_every: 5,
};

/** Every stage end to end in a few minutes on 2 cores (small model, few steps). */
export const R1_TINY: Partial<Omit<R1Config, "name" | "template">> = {
  task_options: { min_terms: 2, max_terms: 3, max_number: 6, ops: "+-", test_fraction: 0.25 },
  train_problems: 400,
  model: { hidden_size: 64, num_hidden_layers: 2, n_routed_experts: 4, moe_intermediate_size: 32, intermediate_size: 128 },
  pretrain: { ...R1_DEFAULTS.pretrain, steps: 200, batch_size: 16, warmup_steps: 10 },
  cold_start: { n_examples: 150 },
  cold_start_sft: { ...SFT, max_steps: 60, per_device_train_batch_size: 8 },
  reasoning_rl: { ...GRPO, steps: 8, prompts_per_step: 4, num_generations: 4, max_completion_length: 96 },
  rejection_sampling: { prompts: 32, num_samples: 4, temperature: 1.0, top_p: 1.0, require_readable: true, mix_cold_start: true },
  sft: { ...SFT, max_steps: 60, per_device_train_batch_size: 8 },
  final_rl: { ...GRPO, steps: 4, prompts_per_step: 4, num_generations: 4, max_completion_length: 96 },
  distill: { ...R1_DEFAULTS.distill, enabled: false },
  max_completion_length: 96,
  eval: { k: 4, temperature: 0.6, top_p: 0.95, n_problems: 32 },
  checkpoint_every: 2,
};

/** The smallest run that still goes through every stage (tests; seconds). */
export const R1_MICRO: Partial<Omit<R1Config, "name" | "template">> = {
  train_problems: 40,
  model: { hidden_size: 32, num_hidden_layers: 2, n_routed_experts: 4, moe_intermediate_size: 16, intermediate_size: 64 },
  pretrain: { ...R1_DEFAULTS.pretrain, steps: 4, batch_size: 8, warmup_steps: 1 },
  cold_start: { n_examples: 16 },
  cold_start_sft: { ...SFT, max_steps: 3, per_device_train_batch_size: 4, warmup_steps: 1 },
  reasoning_rl: { ...GRPO, steps: 2, prompts_per_step: 2, num_generations: 2, max_completion_length: 40 },
  rejection_sampling: { prompts: 4, num_samples: 2, temperature: 1.0, top_p: 1.0, require_readable: false, mix_cold_start: true },
  sft: { ...SFT, max_steps: 2, per_device_train_batch_size: 4, warmup_steps: 1 },
  final_rl: { ...GRPO, steps: 2, prompts_per_step: 2, num_generations: 2, max_completion_length: 40 },
  distill: { enabled: false, student: { hidden_size: 32, num_hidden_layers: 1, intermediate_size: 64, num_attention_heads: 2 }, pretrain_steps: 2, prompts: 4, samples: 2, sft: { ...SFT, max_steps: 2, per_device_train_batch_size: 4, warmup_steps: 1 } },
  eval: { k: 2, temperature: 0.6, top_p: 0.95, n_problems: 4 },
  max_completion_length: 40,
  checkpoint_every: 1,
};

export const R1_PRESETS = { default: {}, tiny: R1_TINY, micro: R1_MICRO } as const;
