// One RL stage of the R1 pipeline (reasoning-oriented RL, and the final RL stage): GRPO with rule
// rewards (accuracy + format + the language-consistency reward of rl/consistency.ts), built from
// the same parts as `r1lab zero` (grpo.ts rollouts, grpo-loss.ts, Trainer). Prompts and samples
// come from streams named by (seed, stage, step), so a stage killed mid-way resumes from its
// partial checkpoint (`${dir}.partial`) and draws what the uninterrupted run would have drawn.
// beta > 0 adds the KL term against the stage's starting policy; num_iterations > 1 trains on each
// batch of rollouts that many times (rl/grpo-update.ts).
import { appendFileSync, existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { AdamWState } from "../engine/optim.ts";
import { type Params, disposeParams } from "../engine/params.ts";
import { Rng, deriveSeed } from "../engine/rng.ts";
import type { ModelConfig } from "../model/config.ts";
import { Progress } from "../report/progress.ts";
import type { CharTokenizer } from "../tasks/char-tokenizer.ts";
import type { TaskExample } from "../tasks/types.ts";
import { loadCheckpoint, saveCheckpoint } from "../train/checkpoint.ts";
import { Trainer } from "../train/trainer.ts";
import { readableConsistencyReward } from "./consistency.ts";
import { type GrpoBatch, grpoLoss } from "./grpo-loss.ts";
import { grpoRollouts } from "./grpo.ts";
import { frozenCopy, grpoUpdate } from "./grpo-update.ts";
import { truncateJsonl } from "../engine/jsonl.ts";
import type { R1Grpo } from "./r1-config.ts";
import { accuracyReward, formatReward, type RewardFn } from "./rewards.ts";
import { isReadable } from "../tasks/cold-start.ts";

/** The rewards an R1 RL stage may weight: `consistency` is the readable-vocabulary share. */
export const R1_REWARDS: Record<string, RewardFn> = { accuracy: accuracyReward, format: formatReward, consistency: readableConsistencyReward };

export interface GrpoStageArgs {
  stage: string;
  g: R1Grpo;
  seed: number;
  template: string;
  checkpointEvery: number;
  /** Parameters to start from (taken over); ignored when a partial checkpoint exists. */
  params: Params;
  mc: ModelConfig;
  tok: CharTokenizer;
  tokenizerJson: unknown;
  prompts: TaskExample[];
  maxPromptTokens: number;
  /** Final checkpoint folder (checkpoints/<stage>). */
  dir: string;
  metricsFile: string;
  log: (s: string) => void;
}

export async function grpoStage(a: GrpoStageArgs): Promise<Params> {
  const { g, mc, tok } = a;
  const rewardFns = Object.entries(g.reward_weights).map(([name, weight]) => {
    const fn = R1_REWARDS[name];
    if (!fn) throw new Error(`${a.stage}.reward_weights: unknown reward '${name}' (known: ${Object.keys(R1_REWARDS).join(", ")})`);
    return { name, fn, weight };
  });
  let params = a.params;
  let optState: AdamWState | undefined;
  let step0 = 0;
  const partial = `${a.dir}.partial`;
  const resumed = existsSync(join(partial, "trainer_state.json"));
  // pi_ref for beta > 0: the stage's starting policy (a.params, also when the stage resumes).
  const ref = g.beta > 0 ? (resumed ? a.params : frozenCopy(a.params)) : undefined;
  if (resumed) {
    if (!ref) disposeParams(params);
    const c = loadCheckpoint(partial);
    params = c.params;
    optState = c.opt ?? undefined;
    step0 = c.state.step;
    a.log(`${a.stage}: resuming at step ${step0}`);
  }
  truncateJsonl(a.metricsFile, step0);
  const lossCfg = { lossType: g.loss_type, beta: g.beta, epsilon: g.epsilon, epsilonHigh: g.epsilon_high, maxCompletionLength: g.max_completion_length, temperature: g.temperature };
  const tr = new Trainer<GrpoBatch>(mc, params, (t, b, batch) => grpoLoss(t, b, mc, batch, lossCfg) as any, { weightDecay: 0.0, beta2: 0.99 }, optState, 0);
  const bar = new Progress({ total: g.steps, label: a.stage });
  bar.tick(step0);
  for (let step = step0; step < g.steps; step++) {
    const ts = performance.now();
    const res = await grpoRollouts(tr.params, mc, tok, (round) => Rng.stream(a.seed, `${a.stage}-prompts`, step * 16 + round).shuffle([...a.prompts]).slice(0, g.prompts_per_step), {
      numGenerations: g.num_generations, maxCompletionLength: g.max_completion_length, temperature: g.temperature, topP: g.top_p, topK: 0,
      seed: deriveSeed(a.seed, `${a.stage}-sample`, step), template: a.template, rewardFns,
      scaleRewards: g.scale_rewards, dynamicSampling: g.loss_type === "dapo", maxResampleRounds: 1, seqLen: a.maxPromptTokens + g.max_completion_length,
    });
    const updates = await grpoUpdate(tr, mc, res.batch, { beta: g.beta, numIterations: g.num_iterations ?? 1, temperature: g.temperature, lr: g.learning_rate, ref });
    const m = updates[updates.length - 1];
    const all = res.all;
    const mean = (f: (r: (typeof all)[number]) => number) => all.reduce((s, r) => s + f(r), 0) / all.length;
    const reward = mean((r) => r.reward);
    const row = {
      step: step + 1,
      reward_mean: reward,
      reward_std: Math.sqrt(mean((r) => (r.reward - reward) ** 2)),
      accuracy: mean((r) => r.rewards.accuracy ?? 0),
      format_rate: mean((r) => r.rewards.format ?? (formatReward(r.completion, r.example) ?? 0)),
      consistency: mean((r) => r.rewards.consistency ?? (readableConsistencyReward(r.completion, r.example) ?? 0)),
      readability: mean((r) => (isReadable(r.completion) ? 1 : 0)),
      completion_length: mean((r) => r.completionIds.length),
      kl: m.kl, clip_fraction: m.clipFrac, entropy: m.entropy, zero_variance_fraction: res.zeroVarianceFraction, loss: m.loss, grad_norm: m.grad_norm,
      tokens_per_s: res.generatedTokens / ((performance.now() - ts) / 1000), step_seconds: (performance.now() - ts) / 1000,
    };
    appendFileSync(a.metricsFile, `${JSON.stringify(row)}\n`);
    bar.tick(1, { reward: row.reward_mean, acc: row.accuracy, len: row.completion_length, read: row.readability });
    if ((step + 1) % a.checkpointEvery === 0 && step + 1 < g.steps) {
      await saveCheckpoint(partial, { config: mc, params: tr.params, opt: tr.optState, state: { phase: a.stage, step: step + 1 }, tokenizerJson: a.tokenizerJson });
    }
  }
  bar.done();
  disposeParams({ m: tr.optState.m, v: tr.optState.v });
  if (ref) disposeParams(ref);
  await saveCheckpoint(a.dir, { config: mc, params: tr.params, state: { phase: a.stage, step: g.steps, done: true }, tokenizerJson: a.tokenizerJson });
  rmSync(partial, { recursive: true, force: true }); // the finished checkpoint supersedes it
  return tr.params;
}
