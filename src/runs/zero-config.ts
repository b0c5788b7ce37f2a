// The resolved configuration of an R1-Zero run. Option names follow TRL's GRPOConfig where one
// exists (num_generations, beta, epsilon, epsilon_high, loss_type, scale_rewards,
// max_completion_length, num_iterations, learning_rate, temperature). The defaults are the embedded
// default that `pnpm start` runs: a tiny DeepSeek-style model on multi-step arithmetic, minutes on 2 CPU cores.
import { ZERO_TEMPLATE } from "../tasks/template.ts";
import { evalGroup, grpoGroup, modelGroup, pretrainFields, runFields, taskFields } from "./config-groups.ts";
import { type Infer, defaults, group, merge, num, str } from "./schema.ts";

export const ZERO_SCHEMA = group("r1lab zero", {
  ...runFields(),
  ...taskFields({ min_terms: 4, max_terms: 4, max_number: 3 }),
  // Every training problem there is: 4 numbers from 1-3 with + and - give 400 problems, 264 of them
  // on the train side of the split (the other 136 are held out).
  train_problems: num(264, "distinct training problems (corpus and GRPO prompts)", { int: true, min: 1 }),
  template: str(ZERO_TEMPLATE, "prompt template; {problem} is replaced by the problem"),
  model: modelGroup({
    hidden_size: 96,
    num_hidden_layers: 3,
    moe_intermediate_size: 64,
    intermediate_size: 256,
  }),
  // 760 steps (was 380): the base's skill at the steps decides what GRPO reaches; seeds 1-3 gained
  // +60.8, +57.9, +23.4 points at 760 against +46.7, +62.0, +9.3 at 380 (docs/r1-zero.md).
  pretrain: group("pretraining of the base model", {
    ...pretrainFields({ steps: 760, batch_size: 24 }),
    max_length: num(96, "tokens per packed row", { int: true, min: 2 }),
    traces_per_problem: num(4, "corpus traces per training problem", { int: true, min: 1 }),
  }),
  // 100 steps (was 36): on main 2eca551 they raised the held-out gain on seeds 1, 2 and 3 (+32 -> +47,
  // +51 -> +62, +6 -> +9 points) for ~35 CPU s; on the build before, not (docs/r1-zero.md).
  // scale_rewards "batch": one std for the whole batch. Per-group std ("group", R1's choice) turns a
  // group whose answers are all wrong but one of which is malformed into full-size advantages for
  // the format reward alone (docs/r1-zero.md).
  grpo: grpoGroup(
    "GRPO with rule rewards (TRL's GRPOConfig names)",
    {
      steps: 100,
      max_completion_length: 48,
      learning_rate: 5e-4,
      scale_rewards: "batch",
      reward_weights: { accuracy: 1.0, format: 0.1 },
    },
    "",
  ),
  // Every held-out problem (136 of the 400), 8 samples each: a 95% interval of about +-0.065 on
  // pass@1 instead of +-0.08 with 100 x 4, for ~5 s more per evaluation (docs/r1-zero.md).
  eval: evalGroup({ n_problems: 136, k: 8 }),
  checkpoint_every: num(20, "GRPO steps between partial checkpoints (pretraining: 5x)", {
    int: true,
    min: 1,
  }),
});

/** The resolved configuration of a run (config.json): the schema's fields and the run's name. */
export type ZeroConfig = Infer<typeof ZERO_SCHEMA> & {
  name: string;
  /** ort or jax (engine/executor.ts), resolved from --executor and the device; absent in runs made before the ORT executor (then the default). */
  executor?: string;
};

/** Presets: overrides of the schema's defaults, checked like a --config file. */
export const ZERO_PRESETS = {
  default: {},
  /** Smallest config that still runs every phase (tests). */
  tiny: {
    model: { hidden_size: 32, num_hidden_layers: 2, moe_intermediate_size: 16, intermediate_size: 64 },
    train_problems: 40,
    pretrain: { steps: 6, batch_size: 8, traces_per_problem: 1, warmup_steps: 2 },
    grpo: { steps: 4, prompts_per_step: 2, num_generations: 4, max_completion_length: 24 },
    eval: { k: 2, n_problems: 4 },
    checkpoint_every: 2,
  },
} as const;

/** The config of a preset (defaults + the preset's overrides). */
export function zeroPreset(name: keyof typeof ZERO_PRESETS): Omit<ZeroConfig, "name"> {
  return merge(ZERO_SCHEMA, defaults(ZERO_SCHEMA), ZERO_PRESETS[name], `preset ${name}`);
}

/** The default run's config (what `pnpm start` runs), for notebooks and other runs that start from it. */
export const ZERO_DEFAULTS: Omit<ZeroConfig, "name"> = zeroPreset("default");
