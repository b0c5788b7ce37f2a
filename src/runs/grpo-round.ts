// One generation round of `r1lab grpo`: the round's prompts in an order drawn once per epoch, G
// sampled completions each from the current policy, every completion scored by the batch reward
// functions, group-relative advantages, the token rows the update trains on (rl/grpo.ts), and the
// round's rollout metrics under TRL's names (reward, rewards/<name>/mean, completions/...,
// frac_reward_zero_std). Everything random comes from (seed, round), so a resumed run redraws it.
import type { Codec } from "../backends/token-rows.ts";
import type { Params } from "../engine/params.ts";
import { Rng, deriveSeed } from "../engine/rng.ts";
import { generate } from "../generate/generate.ts";
import type { ModelConfig } from "../model/config.ts";
import { groupAdvantages, isZeroVariance } from "../rl/advantages.ts";
import type { TokenRow } from "../rl/grpo.ts";
import { type NamedReward, type Scored, scoreBatch } from "../rl/reward-fns.ts";
import type { GrpoRunConfig } from "./grpo-config.ts";
import type { Prompt } from "./grpo-prompts.ts";

export interface GrpoRound {
  items: Scored[];
  /** Weighted reward of each completion, and each function's (null: not applicable). */
  total: number[];
  perFn: Record<string, (number | null)[]>;
  advantages: number[];
  rows: TokenRow[];
  metrics: Record<string, number>;
  /** Completion tokens sampled, and the seconds sampling took (tokens/s). */
  generated: number;
  generateSeconds: number;
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
const std = (xs: number[]) =>
  Math.sqrt(mean(xs.map((x) => (x - mean(xs)) ** 2)) * (xs.length / Math.max(1, xs.length - 1)));

/** The prompts of round `round`: promptsPerRound at a time through a per-epoch shuffle of `prompts`. */
export function roundPrompts(
  prompts: Prompt[],
  round: number,
  promptsPerRound: number,
  seed: number,
): Prompt[] {
  return Array.from({ length: promptsPerRound }, (_, j) => {
    const idx = round * promptsPerRound + j;
    const epoch = Math.floor(idx / prompts.length);
    const order = Rng.stream(seed, "grpo-order", epoch).shuffle([...prompts.keys()]);
    return prompts[order[idx % prompts.length]];
  });
}

/** Sample, score and turn into update rows the completions of one round from the policy `p`. */
export async function grpoRound(
  p: Params,
  mc: ModelConfig,
  codec: Codec,
  picks: Prompt[],
  rewards: NamedReward[],
  cfg: GrpoRunConfig,
  round: number,
): Promise<GrpoRound> {
  const G = cfg.num_generations;
  const t0 = performance.now();
  const gen = await generate(
    p,
    mc,
    picks.flatMap((q) => Array.from({ length: G }, () => q.ids)),
    {
      maxNewTokens: cfg.max_completion_length,
      eosTokenIds: codec.eosIds,
      seed: deriveSeed(cfg.seed, "grpo-sample", round),
      temperature: cfg.temperature,
      topP: cfg.top_p,
      topK: cfg.top_k,
      padTokenId: codec.padId,
    },
  );
  const generateSeconds = (performance.now() - t0) / 1000;
  const pick = (r: number) => picks[Math.floor(r / G)];
  const items: Scored[] = gen.ids.map((ids, r) => ({
    prompt: pick(r).text,
    problem: pick(r).problem,
    completion: codec.decode(ids.filter((t) => !codec.eosIds.includes(t))),
    completionTokens: ids.length,
    finishReason: gen.finishReasons[r],
  }));
  const { total, perFn } = await scoreBatch(rewards, items);
  const groups = picks.map((_, i) => total.slice(i * G, (i + 1) * G));
  const advantages = groupAdvantages(groups, cfg.scale_rewards).flat();
  const rows = gen.ids.map((ids, r) => ({
    promptIds: pick(r).ids,
    completionIds: ids,
    advantage: advantages[r],
    live: !(cfg.mask_truncated_completions && gen.finishReasons[r] === "length"),
  }));
  const lengths = gen.ids.map((x) => x.length);
  const terminated = lengths.filter((_, r) => gen.finishReasons[r] === "stop");
  const metrics: Record<string, number> = {
    reward: mean(total),
    reward_std: std(total),
    ...Object.fromEntries(
      rewards.flatMap((f) => {
        const v = perFn[f.name].filter((x): x is number => x !== null);
        return [
          [`rewards/${f.name}/mean`, mean(v)],
          [`rewards/${f.name}/std`, std(v)],
        ];
      }),
    ),
    "completions/mean_length": mean(lengths),
    "completions/min_length": Math.min(...lengths),
    "completions/max_length": Math.max(...lengths),
    "completions/clipped_ratio": 1 - terminated.length / lengths.length,
    "completions/mean_terminated_length": mean(terminated),
    frac_reward_zero_std: groups.filter(isZeroVariance).length / groups.length,
  };
  return {
    items,
    total,
    perFn,
    advantages,
    rows,
    metrics,
    generated: lengths.reduce((a, b) => a + b, 0),
    generateSeconds,
  };
}
