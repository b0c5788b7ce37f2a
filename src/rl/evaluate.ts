// Held-out evaluation of a policy on a synthetic task with R1's protocol: k samples per problem at
// temperature 0.6, top-p 0.95; pass@1 = mean correctness over the k samples, averaged over problems;
// pass@k unbiased (1 - C(n-c, k) / C(n, k)). Also the format rate, mean completion length, the share
// of faithful scratchpads among correct answers, re-checking steps per completion, and the share of
// completions that work the problem out instead of guessing.
import type { Params } from "../engine/params.ts";
import { passAtK } from "../eval/metrics.ts";
import type { ModelConfig } from "../model/config.ts";
import type { CharTokenizer } from "../tasks/char-tokenizer.ts";
import { countRechecks, faithfulness, showsWork } from "../tasks/corpus.ts";
import type { TaskExample } from "../tasks/types.ts";
import { accuracyReward, formatReward } from "./rewards.ts";
import { type Rollout, rollouts } from "./rollout.ts";

export interface SyntheticEval {
  pass1: number;
  passk: number;
  k: number;
  n_problems: number;
  format_rate: number;
  mean_length: number;
  /** Among correct completions, the share whose scratchpad is faithful. */
  faithful_rate: number;
  rechecks_per_completion: number;
  /** Share of completions whose think text holds at least one worked step (an "="): not a bare guess. */
  shows_work_rate: number;
}

export async function evaluateSynthetic(
  p: Params,
  c: ModelConfig,
  tok: CharTokenizer,
  examples: TaskExample[],
  o: {
    k: number;
    temperature: number;
    topP: number;
    maxCompletionLength: number;
    seed: number;
    template: string;
    batchSize?: number;
    onProgress?: (done: number) => void;
  },
): Promise<{ result: SyntheticEval; samples: Rollout[] }> {
  const samples: Rollout[] = [];
  const per = Math.max(1, Math.floor((o.batchSize ?? 256) / o.k));
  for (let i = 0; i < examples.length; i += per) {
    const chunk = examples.slice(i, i + per);
    const r = await rollouts(p, c, tok, chunk, {
      numGenerations: o.k,
      maxCompletionLength: o.maxCompletionLength,
      temperature: o.temperature,
      topP: o.topP,
      topK: 0,
      seed: o.seed + i,
      template: o.template,
      rewardFns: [
        { name: "accuracy", fn: accuracyReward, weight: 1 },
        { name: "format", fn: formatReward, weight: 0 },
      ],
    });
    samples.push(...r);
    o.onProgress?.(Math.min(examples.length, i + per));
  }
  let pass1 = 0;
  let passk = 0;
  for (let i = 0; i < examples.length; i++) {
    const group = samples.slice(i * o.k, (i + 1) * o.k);
    const correct = group.filter((s) => s.rewards.accuracy === 1).length;
    pass1 += correct / o.k;
    passk += passAtK(o.k, correct, o.k);
  }
  const correctOnes = samples.filter((s) => s.rewards.accuracy === 1);
  const result: SyntheticEval = {
    pass1: pass1 / examples.length,
    passk: passk / examples.length,
    k: o.k,
    n_problems: examples.length,
    format_rate: samples.filter((s) => s.rewards.format === 1).length / samples.length,
    mean_length: samples.reduce((a, s) => a + s.completionIds.length, 0) / samples.length,
    faithful_rate: correctOnes.length
      ? correctOnes.filter((s) => faithfulness(s.completion, s.example).faithful).length / correctOnes.length
      : 0,
    rechecks_per_completion: samples.reduce((a, s) => a + countRechecks(s.completion), 0) / samples.length,
    shows_work_rate: samples.filter((s) => showsWork(s.completion)).length / samples.length,
  };
  return { result, samples };
}
