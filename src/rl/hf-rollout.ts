// The rollout policy of a Hugging Face model (`r1lab grpo`): prompts arrive already in tokens (the
// model's chat template or a plain template, runs/grpo-prompts.ts), G completions each are sampled
// with the model's own EOS and pad tokens, decoded with its tokenizer, and scored in one call per
// reward function over the whole batch (reward-fns.ts: a remote reward is one request, and null
// means "not applicable", counted as 0 in the weighted total). The same RolloutPolicy interface as
// r1lab's character models (rollout.ts), so the one GRPO loop (runs/grpo-loop.ts) drives both.
// Left out: sampling with a separate engine (vLLM); the sampler is this model.
import type { Codec } from "../backends/token-rows.ts";
import type { Params } from "../engine/params.ts";
import type { EvalProblem } from "../eval/tasks/types.ts";
import { generate } from "../generate/generate.ts";
import type { ModelConfig } from "../model/config.ts";
import { type NamedReward, type Scored, scoreBatch } from "./reward-fns.ts";
import type { Rollout, RolloutPolicy } from "./rollout.ts";

/** A prompt of `r1lab grpo`: the problem, the text the policy sees (after the template) and its ids. */
export interface Prompt {
  problem: EvalProblem;
  text: string;
  ids: number[];
}

/** A Hugging Face model behind `codec`, scored by the batch reward functions `rewards`. */
export function hfPolicy(c: ModelConfig, codec: Codec, rewards: NamedReward[]): RolloutPolicy<Prompt> {
  return {
    config: c,
    padId: codec.padId,
    rewardNames: rewards.map((f) => f.name),
    async rollouts(p: Params, prompts, o): Promise<Rollout<Prompt>[]> {
      const G = o.numGenerations;
      const gen = await generate(
        p,
        c,
        prompts.flatMap((q) => Array.from({ length: G }, () => q.ids)),
        {
          maxNewTokens: o.maxCompletionLength,
          eosTokenIds: codec.eosIds,
          seed: o.seed,
          temperature: o.temperature,
          topP: o.topP,
          topK: o.topK,
          padTokenId: codec.padId,
          onStep: o.onStep,
        },
      );
      const pick = (r: number) => prompts[Math.floor(r / G)];
      const items: Scored[] = gen.ids.map((ids, r) => ({
        prompt: pick(r).text,
        problem: pick(r).problem,
        completion: codec.decode(ids.filter((t) => !codec.eosIds.includes(t))),
        completionTokens: ids.length,
        finishReason: gen.finishReasons[r],
      }));
      const { total, perFn } = await scoreBatch(rewards, items);
      return items.map((it, r) => ({
        example: pick(r),
        promptIds: pick(r).ids,
        completionIds: gen.ids[r],
        completion: it.completion,
        rewards: Object.fromEntries(rewards.map((f) => [f.name, perFn[f.name][r]])),
        reward: total[r],
        finishReason: it.finishReason,
      }));
    },
  };
}
