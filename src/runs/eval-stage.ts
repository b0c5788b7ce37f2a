// The R1 pipeline's per-stage measurement on held-out problems, R1's protocol (evaluate.ts: K
// samples per problem, temperature 0.6, top-p 0.95):
//   pass1        mean correctness over the K samples, averaged over problems
//   consK        majority vote over the K answers (identical answer text) is correct, averaged
//   mean_length  completion length in tokens, over all samples
//   readability  share of samples in the readable format (tasks/cold-start.ts isReadable: well-formed,
//                sentences in the readable vocabulary, ending with the summary "so the answer is X")
// plus the format rate and the mean consistency reward (rl/consistency.ts) for the details.
import type { Params } from "../engine/params.ts";
import { consAtK } from "../eval/metrics.ts";
import type { ModelConfig } from "../model/config.ts";
import type { CharTokenizer } from "../tasks/char-tokenizer.ts";
import { isReadable } from "../tasks/cold-start.ts";
import { parseCompletion } from "../tasks/format.ts";
import type { TaskExample } from "../tasks/types.ts";
import { readableConsistencyReward } from "../rl/consistency.ts";
import { evaluateSynthetic } from "../rl/evaluate.ts";

export interface StageEval {
  pass1: number;
  consK: number;
  mean_length: number;
  readability: number;
  k: number;
  n_problems: number;
  format_rate: number;
  consistency: number;
  /** Two sample completions (first problems), for the report. */
  examples: { prompt: string; completion: string; correct: boolean }[];
}

export interface StageEvalOptions {
  k: number;
  temperature: number;
  topP: number;
  maxCompletionLength: number;
  seed: number;
  template: string;
  onProgress?: (done: number) => void;
}

export async function evaluateStage(p: Params, c: ModelConfig, tok: CharTokenizer, test: TaskExample[], o: StageEvalOptions): Promise<StageEval> {
  const { result, samples } = await evaluateSynthetic(p, c, tok, test, o);
  const groups = test.map((_, i) =>
    samples.slice(i * o.k, (i + 1) * o.k).map((s) => ({ extracted: parseCompletion(s.completion).answer?.trim() ?? null, correct: s.rewards.accuracy === 1 })),
  );
  const n = Math.max(1, samples.length);
  return {
    pass1: result.pass1,
    consK: consAtK(groups),
    mean_length: result.mean_length,
    readability: samples.filter((s) => isReadable(s.completion)).length / n,
    k: o.k,
    n_problems: test.length,
    format_rate: result.format_rate,
    consistency: samples.reduce((a, s) => a + (readableConsistencyReward(s.completion, s.example) ?? 0), 0) / n,
    examples: samples.filter((_, i) => i % o.k === 0).slice(0, 2).map((s) => ({ prompt: s.example.prompt, completion: s.completion, correct: s.rewards.accuracy === 1 })),
  };
}
