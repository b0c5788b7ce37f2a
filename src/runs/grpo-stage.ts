// The GRPO stage of `r1lab zero`, the r1 pipeline's RL stages and its RL-only student: the one GRPO
// loop (grpo-loop.ts) with r1lab's choices. Each step draws prompts_per_step prompts afresh (streams
// named by seed, stage and step), samples G completions each from an r1lab model (charPolicy, rule
// rewards), updates the policy at a constant learning rate, and appends one metrics row under
// r1lab's names (reward_mean, accuracy, format_rate, ...) and two samples. Checkpoints follow the
// stage layout of train/checkpoint.ts: `${dir}.partial` every checkpoint_every steps, `dir` when
// done, so a stage killed mid-way resumes and draws what the uninterrupted run would have drawn.
// beta > 0 adds the k3 KL term against the stage's starting policy; num_iterations > 1 trains on
// each batch of rollouts that many times (one logged step). Left out: evaluation during the stage
// (the runs evaluate between stages), TRL's step counting and names (`r1lab grpo`: grpo.ts).
import { type Params, disposeParams } from "../engine/params.ts";
import { learningRate } from "../engine/schedule.ts";
import type { ScaleRewards } from "../rl/advantages.ts";
import { GRPO_ADAMW, type GrpoBatch, type LossType, grpoLoss } from "../rl/grpo-loss.ts";
import { frozenCopy } from "../rl/grpo-update.ts";
import type { RewardFn } from "../rl/rewards.ts";
import type { NamedReward, Rollout, RolloutPolicy } from "../rl/rollout.ts";
import type { TaskExample } from "../tasks/types.ts";
import { finishStage, isFinished, loadCheckpoint, resumeFrom, savePartial } from "../train/checkpoint.ts";
import { Trainer } from "../train/trainer.ts";
import { type StepReport, grpoLoop } from "./grpo-loop.ts";

export type { NamedReward };

/** A stage's GRPO settings, named after TRL's GRPOConfig. */
export interface GrpoSettings {
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
  /** DAPO's dynamic sampling: drop groups whose rewards are all equal and draw fresh prompts. */
  dynamic_sampling: boolean;
  num_iterations: number;
  max_resample_rounds: number;
  reward_weights: Record<string, number>;
  bias_update_gamma: number;
}

/** The config's reward_weights as named reward functions; an unknown name is an error naming `field`. */
export function namedRewards(
  weights: Record<string, number>,
  known: Record<string, RewardFn>,
  field: string,
): NamedReward[] {
  return Object.entries(weights).map(([name, weight]) => {
    const fn = known[name];
    if (!fn) throw new Error(`${field}: unknown reward '${name}' (known: ${Object.keys(known).join(", ")})`);
    return { name, fn, weight };
  });
}

export interface GrpoStageArgs {
  /** Names the prompt and sample streams (`<stage>-prompts`, `<stage>-sample`), the progress bar and checkpoint phase. */
  stage: string;
  g: GrpoSettings;
  seed: number;
  /** Parameters to start from (taken over): the policy, and pi_ref when beta > 0 (also on resume). */
  params: Params;
  /** The sampler and its reward functions (charPolicy with namedRewards). */
  policy: RolloutPolicy;
  /** The prompt pool; each step draws prompts_per_step of them. */
  prompts: TaskExample[];
  /** Fixed length of update batches: the longest prompt + max_completion_length. */
  seqLen: number;
  checkpointEvery: number;
  tokenizerJson: unknown;
  /** Final checkpoint folder; the partial one is `${dir}.partial`. */
  dir: string;
  metricsFile: string;
  /** Where the first two rollouts of each step go (optional). */
  samplesFile?: string;
  /** Extra fields of the metrics row, from all of the step's rollouts. */
  metrics?: (all: Rollout[]) => Record<string, number>;
  log: (s: string) => void;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

/** One metrics row under r1lab's names (the key order is the file's column order). */
function r1labRow(a: GrpoStageArgs, r: StepReport<TaskExample>): Record<string, number> {
  const { res, m } = r;
  const all = res.all;
  const rewards = all.map((x) => x.reward);
  const rewardMean = mean(rewards);
  return {
    step: r.step,
    reward_mean: rewardMean,
    reward_std: Math.sqrt(mean(rewards.map((x) => (x - rewardMean) ** 2))),
    ...Object.fromEntries(
      a.policy.rewardNames.map((n) => [`rewards/${n}/mean`, mean(all.map((x) => x.rewards[n] ?? 0))]),
    ),
    accuracy: mean(all.map((x) => (x.rewards.accuracy === 1 ? 1 : 0))),
    format_rate: mean(all.map((x) => (x.rewards.format === 1 ? 1 : 0))),
    completion_length: mean(all.map((x) => x.completionIds.length)),
    kl: m.kl,
    clip_fraction: m.clipFrac,
    entropy: m.entropy,
    zero_variance_fraction: res.zeroVarianceFraction,
    expert_imbalance: m.expert_imbalance ?? 1,
    loss: m.loss,
    grad_norm: m.grad_norm,
    lr: r.lr,
    ...a.metrics?.(all),
    tokens_per_s: res.generatedTokens / r.seconds,
    rollout_seconds: r.rolloutSeconds,
    step_seconds: r.seconds,
  };
}

/** Run (or resume, or load the finished) stage and return the policy's parameters. */
export async function grpoStage(a: GrpoStageArgs): Promise<Params> {
  const { g, policy } = a;
  const mc = policy.config;
  if (isFinished(a.dir)) {
    disposeParams(a.params);
    return loadCheckpoint(a.dir).params;
  }
  const from = resumeFrom(`${a.dir}.partial`);
  // pi_ref for beta > 0: the stage's starting policy, kept apart from the updates (also when resuming).
  const ref = g.beta > 0 ? (from ? a.params : frozenCopy(a.params)) : undefined;
  if (from) {
    if (!ref) disposeParams(a.params);
    a.log(`${a.stage}: resuming at step ${from.step}`);
  }
  const step0 = from?.step ?? 0;
  const lossCfg = {
    lossType: g.loss_type,
    beta: g.beta,
    epsilon: g.epsilon,
    epsilonHigh: g.epsilon_high,
    maxCompletionLength: g.max_completion_length,
    temperature: g.temperature,
  };
  const tr = new Trainer<GrpoBatch>({
    model: mc,
    params: from?.params ?? a.params,
    loss: (t, b, batch) => grpoLoss(t, b, mc, batch, lossCfg),
    optimizer: GRPO_ADAMW,
    optState: from?.opt,
    biasUpdateGamma: g.bias_update_gamma,
  });
  const ck = { ...a, config: mc, steps: g.steps };
  const schedule = { lr: g.learning_rate, warmupSteps: 0, totalSteps: g.steps, decay: "constant" as const };
  await grpoLoop({
    stage: a.stage,
    seed: a.seed,
    s: g,
    tr,
    policy,
    prompts: a.prompts,
    promptsPerRound: g.prompts_per_step,
    order: "drawn",
    seqLen: a.seqLen,
    countIterations: false,
    totalSteps: g.steps,
    start: { step: step0, round: step0 },
    lr: (step) => learningRate(schedule, step),
    ref,
    metricsFile: a.metricsFile,
    samplesFile: a.samplesFile,
    row: (r) => r1labRow(a, r),
    samples: (r) =>
      r.res.all.slice(0, 2).map((x) => ({
        step: r.step,
        prompt: x.example.prompt,
        completion: x.completion,
        reward: x.reward,
      })),
    bar: (row) => ({
      reward: row.reward_mean,
      acc: row.accuracy,
      len: row.completion_length,
      kl: row.kl,
      "tok/s": Math.round(row.tokens_per_s),
    }),
    checkpoint: (step) => savePartial(ck, step, tr),
  });
  if (ref) disposeParams(ref);
  await finishStage(ck, tr);
  return tr.params;
}
