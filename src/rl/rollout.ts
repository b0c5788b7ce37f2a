// Rollouts for GRPO and evaluation on synthetic tasks: G completions per prompt from the policy,
// decoded and scored by the rule rewards. Token-level data is kept for the policy update.
import type { Params } from "../engine/params.ts";
import { generate } from "../generate/generate.ts";
import type { ModelConfig } from "../model/config.ts";
import type { CharTokenizer } from "../tasks/char-tokenizer.ts";
import type { TaskExample } from "../tasks/types.ts";
import type { RewardFn } from "./rewards.ts";
import { applyTemplate } from "../tasks/template.ts";

export interface Rollout {
  example: TaskExample;
  promptIds: number[];
  completionIds: number[];
  completion: string;
  /** Reward per reward function name, and the weighted total. */
  rewards: Record<string, number>;
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
  rewardFns: { name: string; fn: RewardFn; weight: number }[];
  onStep?: (step: number, finished: number) => void;
}

/** Options of a policy's sampler: rollouts() without the prompt template (the policy owns it). */
export type SampleOptions = Omit<RolloutOptions, "template">;

/**
 * Where GRPO's completions come from: G sampled and scored completions per example, in example order
 * (rows i*G .. i*G+G-1 belong to example i). `charPolicy` is r1lab's own models with their character
 * tokenizer; a Hugging Face model brings its tokenizer and chat template behind the same interface.
 */
export interface RolloutPolicy {
  /** The policy's model config (update batches are built for it). */
  config: ModelConfig;
  padId: number;
  rollouts(p: Params, examples: TaskExample[], o: SampleOptions): Promise<Rollout[]>;
}

/** An r1lab model with its character tokenizer, prompted with `template` after BOS. */
export function charPolicy(c: ModelConfig, tok: CharTokenizer, template: string): RolloutPolicy {
  return {
    config: c,
    padId: tok.padId,
    rollouts: (p, examples, o) => rollouts(p, c, tok, examples, { ...o, template }),
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
