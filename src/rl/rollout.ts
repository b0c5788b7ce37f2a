// Rollouts for GRPO and evaluation on synthetic tasks: G completions per prompt from the policy,
// decoded and scored by the rule rewards. Token-level data is kept for the policy update.
import type { Params } from "../engine/params.ts";
import { generate } from "../generate/generate.ts";
import type { ModelConfig } from "../model/config.ts";
import type { CharTokenizer } from "../tasks/char-tokenizer.ts";
import type { TaskExample } from "../tasks/types.ts";
import type { RewardFn } from "./rewards.ts";
import { applyTemplate } from "../tasks/template.ts";

export interface Rollout<E = TaskExample> {
  example: E;
  promptIds: number[];
  completionIds: number[];
  completion: string;
  /** Reward per reward function name (null: not applicable, counted as 0), and the weighted total. */
  rewards: Record<string, number | null>;
  reward: number;
  finishReason: "stop" | "length";
}

export interface RolloutOptions {
  numGenerations: number;
  maxCompletionLength: number;
  temperature: number;
  topP: number;
  topK: number;
  seed: number;
  template: string;
  rewardFns: NamedReward[];
  onStep?: (step: number, finished: number) => void;
}

/** A reward function under the name its metric is logged as (`rewards/<name>/mean`). */
export interface NamedReward {
  name: string;
  fn: RewardFn;
  weight: number;
}

/** Options of a policy's sampler: rollouts() without the prompt template and rewards (the policy owns them). */
export type SampleOptions = Omit<RolloutOptions, "template" | "rewardFns">;

/**
 * Where GRPO's completions come from: G sampled and scored completions per example, in example order
 * (rows i*G .. i*G+G-1 belong to example i). The policy owns its prompt format and its reward
 * functions (`rewardNames`, in the order their metrics are logged): `charPolicy` is r1lab's own
 * models with their character tokenizer and per-completion rule rewards; a Hugging Face model with
 * its tokenizer, chat template and batch rewards is `hfPolicy` (hf-rollout.ts).
 */
export interface RolloutPolicy<E = TaskExample> {
  /** The policy's model config (update batches are built for it). */
  config: ModelConfig;
  padId: number;
  rewardNames: string[];
  rollouts(p: Params, examples: E[], o: SampleOptions): Promise<Rollout<E>[]>;
}

/** An r1lab model with its character tokenizer, prompted with `template` after BOS, scored by `rewards`. */
export function charPolicy(
  c: ModelConfig,
  tok: CharTokenizer,
  template: string,
  rewards: NamedReward[],
): RolloutPolicy {
  return {
    config: c,
    padId: tok.padId,
    rewardNames: rewards.map((r) => r.name),
    rollouts: (p, examples, o) => rollouts(p, c, tok, examples, { ...o, template, rewardFns: rewards }),
  };
}

export async function rollouts(
  p: Params,
  c: ModelConfig,
  tok: CharTokenizer,
  examples: TaskExample[],
  o: RolloutOptions,
): Promise<Rollout[]> {
  const promptIds = examples.map((ex) => [tok.bosId, ...tok.encode(applyTemplate(ex.prompt, o.template))]);
  const rows = examples.flatMap((_, i) => Array.from({ length: o.numGenerations }, () => i));
  const res = await generate(
    p,
    c,
    rows.map((i) => promptIds[i]),
    {
      maxNewTokens: o.maxCompletionLength,
      eosTokenIds: [tok.eosId],
      seed: o.seed,
      temperature: o.temperature,
      topP: o.topP,
      topK: o.topK,
      padTokenId: tok.padId,
      onStep: o.onStep,
    },
  );
  return rows.map((i, r) => {
    const completionIds = res.ids[r];
    const completion = tok.decode(completionIds.filter((t) => t !== tok.eosId));
    const rewards: Record<string, number> = {};
    let reward = 0;
    for (const rf of o.rewardFns) {
      const v = rf.fn(completion, examples[i]) ?? 0;
      rewards[rf.name] = v;
      reward += rf.weight * v;
    }
    return {
      example: examples[i],
      promptIds: promptIds[i],
      completionIds,
      completion,
      rewards,
      reward,
      finishReason: res.finishReasons[r],
    };
  });
}
