// The GRPO stage shared by `r1lab zero`, the r1 pipeline's RL stages and its RL-only student: per
// step, draw prompts, sample G completions each from the policy, score them with the weighted reward
// functions, turn rewards into group-relative advantages, update the policy with the clipped
// surrogate (rl/grpo.ts, rl/grpo-loss.ts), and append one metrics row. Prompts and samples come from
// streams named by (seed, stage, step), so a stage killed mid-way resumes from its partial checkpoint
// (`${dir}.partial`) and draws what the uninterrupted run would have drawn; the finished stage is
// `dir`. beta > 0 adds the k3 KL term against the stage's starting policy; num_iterations > 1
// trains on each batch of rollouts that many times (rl/grpo-update.ts).
import { appendJsonl, truncateJsonl } from "../engine/jsonl.ts";
import { type Params, disposeParams } from "../engine/params.ts";
import { Rng, deriveSeed } from "../engine/rng.ts";
import { learningRate } from "../engine/schedule.ts";
import { Progress } from "../report/progress.ts";
import type { ScaleRewards } from "../rl/advantages.ts";
import { GRPO_ADAMW, type GrpoBatch, type LossType, grpoLoss } from "../rl/grpo-loss.ts";
import { grpoRollouts } from "../rl/grpo.ts";
import { frozenCopy, grpoUpdate } from "../rl/grpo-update.ts";
import type { RewardFn } from "../rl/rewards.ts";
import type { Rollout, RolloutPolicy } from "../rl/rollout.ts";
import type { TaskExample } from "../tasks/types.ts";
import { finishStage, isFinished, loadCheckpoint, resumeFrom, savePartial } from "../train/checkpoint.ts";
import { Trainer } from "../train/trainer.ts";

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

/** A reward function under the name its metric is logged as (`rewards/<name>/mean`). */
export interface NamedReward {
  name: string;
  fn: RewardFn;
  weight: number;
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
  policy: RolloutPolicy;
  rewards: NamedReward[];
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
  truncateJsonl(a.metricsFile, step0);
  if (a.samplesFile) truncateJsonl(a.samplesFile, step0);
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
  const bar = new Progress({ total: g.steps, label: a.stage });
  bar.tick(step0);
  for (let step = step0; step < g.steps; step++) {
    const ts = performance.now();
    const res = await grpoRollouts(
      tr.params,
      policy,
      (round) =>
        Rng.stream(a.seed, `${a.stage}-prompts`, step * 16 + round)
          .shuffle([...a.prompts])
          .slice(0, g.prompts_per_step),
      {
        numGenerations: g.num_generations,
        maxCompletionLength: g.max_completion_length,
        temperature: g.temperature,
        topP: g.top_p,
        topK: 0,
        seed: deriveSeed(a.seed, `${a.stage}-sample`, step),
        rewardFns: a.rewards,
        scaleRewards: g.scale_rewards,
        dynamicSampling: g.dynamic_sampling,
        maxResampleRounds: g.max_resample_rounds,
        seqLen: a.seqLen,
        // Leaving zero-advantage rows out is exact only when they carry no gradient: beta = 0, one update per batch.
        compact: g.beta === 0 && g.num_iterations === 1 ? { lossType: g.loss_type } : undefined,
      },
    );
    const tGen = (performance.now() - ts) / 1000;
    const lr = learningRate(
      { lr: g.learning_rate, warmupSteps: 0, totalSteps: g.steps, decay: "constant" },
      step,
    );
    const updates = await grpoUpdate(tr, mc, res.batch, {
      beta: g.beta,
      numIterations: g.num_iterations,
      temperature: g.temperature,
      lr,
      ref,
    });
    const m = updates[updates.length - 1];
    const all = res.all;
    const rewards = all.map((r) => r.reward);
    const rewardMean = mean(rewards);
    const dt = (performance.now() - ts) / 1000;
    const row = {
      step: step + 1,
      reward_mean: rewardMean,
      reward_std: Math.sqrt(mean(rewards.map((r) => (r - rewardMean) ** 2))),
      ...Object.fromEntries(
        a.rewards.map((f) => [`rewards/${f.name}/mean`, mean(all.map((r) => r.rewards[f.name] ?? 0))]),
      ),
      accuracy: mean(all.map((r) => (r.rewards.accuracy === 1 ? 1 : 0))),
      format_rate: mean(all.map((r) => (r.rewards.format === 1 ? 1 : 0))),
      completion_length: mean(all.map((r) => r.completionIds.length)),
      kl: m.kl,
      clip_fraction: m.clipFrac,
      entropy: m.entropy,
      zero_variance_fraction: res.zeroVarianceFraction,
      expert_imbalance: m.expert_imbalance ?? 1,
      loss: m.loss,
      grad_norm: m.grad_norm,
      lr,
      ...a.metrics?.(all),
      tokens_per_s: res.generatedTokens / dt,
      rollout_seconds: tGen,
      step_seconds: dt,
    };
    appendJsonl(a.metricsFile, row);
    if (a.samplesFile)
      for (const r of all.slice(0, 2))
        appendJsonl(a.samplesFile, {
          step: step + 1,
          prompt: r.example.prompt,
          completion: r.completion,
          reward: r.reward,
        });
    bar.tick(1, {
      reward: row.reward_mean,
      acc: row.accuracy,
      len: row.completion_length,
      kl: row.kl,
      "tok/s": Math.round(row.tokens_per_s),
    });
    await savePartial(ck, step + 1, tr);
  }
  bar.done();
  if (ref) disposeParams(ref);
  await finishStage(ck, tr);
  return tr.params;
}
