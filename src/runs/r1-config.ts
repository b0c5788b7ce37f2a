// The resolved configuration of an R1 pipeline run (`r1lab r1`). Names follow TRL: GRPOConfig for
// the RL stages (num_generations, max_completion_length, beta, epsilon, epsilon_high, loss_type,
// scale_rewards, learning_rate, temperature), SFTConfig for the SFT stages (learning_rate,
// max_steps, per_device_train_batch_size, gradient_accumulation_steps, max_seq_length, packing).
// The presets (R1_PRESETS): default, tiny (every stage in a few minutes), micro (tests, seconds).
import {
  evalGroup,
  grpoGroup,
  modelGroup,
  pretrainFields,
  runFields,
  sftGroup,
  taskFields,
} from "./config-groups.ts";
import type { GrpoSettings } from "./grpo-stage.ts";
import { type Infer, bool, defaults, group, merge, num, oneOf, str } from "./schema.ts";

export type R1Grpo = GrpoSettings;

/**
 * The pipeline's prompt: the problem and nothing else to read. The R1-Zero template's instruction
 * (tasks/template.ts) is not needed once cold start teaches the format, and at 28 fewer characters per
 * sequence it halves the cost of the terse corpus on a character-level model.
 */
export const R1_TEMPLATE = "Q: {problem}\nA:";

// lr 1e-4 with 16 prompts x 8: at zero's 5e-4 with 8 prompts, RL from the cold-start model lost
// accuracy step after step (docs/r1-pipeline.md, run e2); batch-std advantages as zero (a group whose
// answers are all wrong but one malformed gets no full-size format-only advantage). The default's
// reasoning RL runs at 2e-4 (runs x1-x3: as stable, a little ahead at 30 and 40 steps); tiny and
// micro keep 1e-4.
const RL = {
  max_completion_length: 112,
  learning_rate: 1e-4,
  prompts_per_step: 16,
  scale_rewards: "batch",
  reward_weights: { accuracy: 1.0, format: 0.1, consistency: 0.2 },
} as const;

export const R1_SCHEMA = group("r1lab r1", {
  ...runFields(),
  // 4 numbers from 1-4 with + and -: 874 training and 357 held-out problems. r1lab zero's task (1-3)
  // has only 264, all of them in the corpus and the RL prompts: reasoning RL fitted them and held-out
  // accuracy levelled off (docs/r1-pipeline.md, runs x1-x3 and n4).
  ...taskFields({ min_terms: 4, max_terms: 4, max_number: 4 }),
  train_problems: num(874, "distinct training problems", { int: true, min: 1 }),
  template: str(R1_TEMPLATE, "prompt template; {problem} is replaced by the problem"),
  model: modelGroup({
    hidden_size: 96,
    num_hidden_layers: 3,
    moe_intermediate_size: 64,
    intermediate_size: 256,
  }),
  /**
   * The base model: next-token + MTP pretraining on the noisy corpus of `r1lab zero`, where a share
   * `readable_fraction` of the traces (right or wrong) is rewritten in the readable format: the base
   * has seen that "language", as DeepSeek-V3-Base had seen prose, and cold start selects it.
   * 760 steps (was 380): at 380 seeds 2 and 3 gave weak bases (pass@1 0.12, 0.17) from which
   * reasoning RL gained nothing; at 760 seed 2's cold start went 0.30 -> 0.70 and RL +22 (runs p760).
   */
  pretrain: group("the base model", {
    ...pretrainFields({ steps: 760, batch_size: 24 }),
    max_length: num(144, "tokens per packed row (whole traces, terse and readable)", { int: true, min: 2 }),
    mix: oneOf(
      ["zero", "worked"],
      "zero",
      "corpus styles (tasks/corpus.ts): zero = r1lab zero's (60% bare-answer guesses), worked = worked traces only, 55% right",
    ),
    traces_per_problem: num(4, "corpus traces per training problem", { int: true, min: 1 }),
    readable_fraction: num(0.3, "share of corpus traces rewritten in the readable format", {
      min: 0,
      max: 1,
    }),
  }),
  cold_start: group("stage 1 data: long readable traces (tasks/cold-start.ts)", {
    n_examples: num(200, "cold-start examples", { int: true, min: 1 }),
  }),
  cold_start_sft: sftGroup("stage 1: SFT of the base on the cold-start traces", {
    max_steps: 60,
    per_device_train_batch_size: 16,
  }),
  reasoning_rl: grpoGroup(
    "stage 2: reasoning-oriented RL (runs/grpo-stage.ts); reward_weights include consistency (rl/consistency.ts)",
    { ...RL, steps: 40, learning_rate: 2e-4 },
  ),
  rejection_sampling: group(
    "stage 3: K = num_samples per training prompt; keep correct + well-formed (+ readable), deduplicated",
    {
      prompts: num(264, "training prompts sampled", { int: true, min: 1 }),
      num_samples: num(8, "samples per prompt (K)", { int: true, min: 1 }),
      temperature: num(1.0, "sampling temperature", { min: 0 }),
      top_p: num(1.0, "nucleus sampling", { min: 0, max: 1 }),
      require_readable: bool(true, "keep readable samples only"),
      mix_cold_start: bool(
        true,
        "the SFT data is the kept set plus the cold-start set (R1 mixed its reasoning samples with other SFT data)",
      ),
    },
  ),
  sft: sftGroup("stage 4: SFT of the base on what rejection sampling kept", {
    max_steps: 160,
    per_device_train_batch_size: 16,
  }),
  final_rl: grpoGroup("stage 5: the final RL stage from the SFT model", { ...RL, steps: 20 }),
  r1_zero_rl: group(
    "side by side (runs/r1-zero-rl.ts): R1-Zero-style RL from the base, no cold start, accuracy + format rewards, reasoning_rl's settings and steps",
    { enabled: bool(true, "run the comparison (on/off)", { aliases: ["zero-rl"] }) },
  ),
  /**
   * After the pipeline (runs/r1-distill.ts): a smaller dense student, pretrained for pretrain_steps on
   * the same corpus, distilled from final_rl's verified traces (`prompts` x `samples`) vs the same
   * student trained with GRPO for `rl_steps` (both arms' CPU time is reported).
   */
  distill: group("after the pipeline: distillation vs RL on a small dense student", {
    enabled: bool(true, "run the comparison (on/off)", { aliases: ["distill"] }),
    student: group("the student (Qwen2-style)", {
      hidden_size: num(64, "student width", { int: true, min: 8 }),
      num_hidden_layers: num(2, "student layers", { int: true, min: 1 }),
      intermediate_size: num(192, "student MLP size", { int: true, min: 1 }),
      num_attention_heads: num(2, "student attention heads", { int: true, min: 1 }),
    }),
    pretrain_steps: num(150, "student pretraining steps", { int: true, min: 1 }),
    prompts: num(264, "teacher prompts (training problems, in order)", { int: true, min: 1 }),
    rl_steps: num(40, "GRPO steps of the RL-only student (final_rl's settings)", { int: true, min: 1 }),
    samples: num(8, "teacher samples per prompt", { int: true, min: 1 }),
    sft: sftGroup("SFT of the student on the teacher's kept traces", {
      max_steps: 160,
      per_device_train_batch_size: 16,
    }),
  }),
  eval: evalGroup({ n_problems: 100 }),
  max_completion_length: num(
    112,
    "completion budget of the evaluations and of rejection sampling (RL stages: their own)",
    { int: true, min: 1 },
  ),
  checkpoint_every: num(5, "RL steps between partial checkpoints (pretraining: 5x)", { int: true, min: 1 }),
});

/** The resolved configuration of an R1 pipeline run (`r1lab r1`, config.json). */
export type R1Config = Infer<typeof R1_SCHEMA> & {
  name: string;
  /** ort or jax (engine/executor.ts), resolved from --executor and the device; absent in runs made before the ORT executor (then the default). */
  executor?: string;
};

const SMALL_RL = { prompts_per_step: 8 };
const MICRO_RL = { prompts_per_step: 2, num_generations: 2, max_completion_length: 40 };
const MICRO_SFT = { max_steps: 2, per_device_train_batch_size: 4, warmup_steps: 1 };

/**
 * Presets: overrides of the schema's defaults (docs/r1-pipeline.md has the runs that chose them).
 * default: zero's task and base recipe, every stage, the R1-Zero side by side and distillation.
 */
export const R1_PRESETS = {
  default: {},
  /** Every stage and the R1-Zero side by side with fewer steps, no distillation (same model and task). */
  tiny: {
    pretrain: { steps: 300 },
    cold_start_sft: { max_steps: 40 },
    reasoning_rl: { steps: 12, learning_rate: 1e-4, ...SMALL_RL },
    rejection_sampling: { prompts: 48, num_samples: 4 },
    sft: { max_steps: 40 },
    final_rl: { steps: 6, ...SMALL_RL },
    distill: { enabled: false },
    eval: { n_problems: 50 },
    checkpoint_every: 2,
  },
  /** The smallest run that still goes through every stage (tests; seconds). */
  micro: {
    task_options: { min_terms: 2, max_terms: 3, max_number: 6 },
    train_problems: 40,
    model: { hidden_size: 32, num_hidden_layers: 2, moe_intermediate_size: 16, intermediate_size: 64 },
    pretrain: { steps: 4, batch_size: 8, warmup_steps: 1, traces_per_problem: 1 },
    cold_start: { n_examples: 16 },
    cold_start_sft: { max_steps: 3, per_device_train_batch_size: 4, warmup_steps: 1 },
    reasoning_rl: { steps: 2, learning_rate: 1e-4, ...MICRO_RL },
    rejection_sampling: { prompts: 4, num_samples: 2, require_readable: false },
    sft: MICRO_SFT,
    final_rl: { steps: 2, ...MICRO_RL },
    distill: {
      enabled: false,
      student: { hidden_size: 32, num_hidden_layers: 1, intermediate_size: 64 },
      pretrain_steps: 2,
      prompts: 4,
      rl_steps: 2,
      samples: 2,
      sft: MICRO_SFT,
    },
    eval: { k: 2, n_problems: 4 },
    max_completion_length: 40,
    checkpoint_every: 1,
  },
} as const;

/** The config of a preset (defaults + the preset's overrides). */
export function r1Preset(name: keyof typeof R1_PRESETS): Omit<R1Config, "name"> {
  return merge(R1_SCHEMA, defaults(R1_SCHEMA), R1_PRESETS[name], `preset ${name}`);
}
