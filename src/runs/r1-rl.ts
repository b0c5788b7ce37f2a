// An RL stage of the R1 pipeline (reasoning_rl, final_rl, and the small student's RL-only arm): the
// shared GRPO stage (grpo-stage.ts) with R1's rule rewards, accuracy + format + the
// language-consistency reward (rl/consistency.ts), and two extra metrics per step: the mean
// consistency reward and the share of rollouts in the readable format.
import type { Params } from "../engine/params.ts";
import type { ModelConfig } from "../model/config.ts";
import { readableConsistencyReward } from "../rl/consistency.ts";
import { accuracyReward, formatReward, type RewardFn } from "../rl/rewards.ts";
import { charPolicy, type Rollout } from "../rl/rollout.ts";
import type { CharTokenizer } from "../tasks/char-tokenizer.ts";
import { isReadable } from "../tasks/cold-start.ts";
import type { TaskExample } from "../tasks/types.ts";
import { type GrpoSettings, grpoStage, namedRewards } from "./grpo-stage.ts";

/** The rewards an R1 RL stage may weight: `consistency` is the readable-vocabulary share. */
export const R1_REWARDS: Record<string, RewardFn> = {
  accuracy: accuracyReward,
  format: formatReward,
  consistency: readableConsistencyReward,
};

function rlMetrics(all: Rollout[]): Record<string, number> {
  const mean = (f: (r: Rollout) => number) => all.reduce((s, r) => s + f(r), 0) / all.length;
  return {
    consistency: mean(
      (r) => r.rewards.consistency ?? readableConsistencyReward(r.completion, r.example) ?? 0,
    ),
    readability: mean((r) => (isReadable(r.completion) ? 1 : 0)),
  };
}

export interface R1RlArgs {
  stage: string;
  g: GrpoSettings;
  seed: number;
  template: string;
  checkpointEvery: number;
  /** Parameters to start from (taken over). */
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

export function r1RlStage(a: R1RlArgs): Promise<Params> {
  return grpoStage({
    stage: a.stage,
    g: a.g,
    seed: a.seed,
    params: a.params,
    policy: charPolicy(
      a.mc,
      a.tok,
      a.template,
      namedRewards(a.g.reward_weights, R1_REWARDS, `${a.stage}.reward_weights`),
    ),
    prompts: a.prompts,
    seqLen: a.maxPromptTokens + a.g.max_completion_length,
    checkpointEvery: a.checkpointEvery,
    tokenizerJson: a.tokenizerJson,
    dir: a.dir,
    metricsFile: a.metricsFile,
    log: a.log,
    metrics: rlMetrics,
  });
}
