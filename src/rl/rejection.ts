// Rejection sampling (R1's stage 3): sample K completions per training prompt from the RL
// checkpoint, keep only the ones that are correct (the answer verifies) and well-formed
// (<think>...</think><answer>...</answer>), optionally only readable ones (R1 also filtered out
// chains of thought with mixed languages and unreadable text), and drop duplicates: the same
// completion text for the same prompt is kept once. What is kept becomes the SFT data of the next
// stage. filterSamples is the pure part (unit-tested); rejectionSample draws the samples.
import type { Params } from "../engine/params.ts";
import { consAtK, consCorrect, stderrOfMean } from "../eval/metrics.ts";
import type { ModelConfig } from "../model/config.ts";
import type { CharTokenizer } from "../tasks/char-tokenizer.ts";
import { isReadable } from "../tasks/cold-start.ts";
import { parseCompletion } from "../tasks/format.ts";
import type { TaskExample } from "../tasks/types.ts";
import { accuracyReward } from "./rewards.ts";
import { rollouts } from "./rollout.ts";

export interface Sample {
  example: TaskExample;
  completion: string;
  /** Completion length in tokens. */
  length: number;
}

export interface RejectionStats {
  prompts: number;
  samples: number;
  correct: number;
  well_formed: number;
  readable: number;
  /** Correct, well-formed (and readable when required) before deduplication. */
  accepted: number;
  duplicates: number;
  kept: number;
  /** Prompts with at least one kept sample. */
  prompts_covered: number;
}

/** Keep correct + well-formed (+ readable when `requireReadable`) samples, each (prompt, text) once, in input order. */
export function filterSamples(
  samples: Sample[],
  o: { requireReadable: boolean },
): { kept: Sample[]; stats: RejectionStats } {
  const seen = new Set<string>();
  const kept: Sample[] = [];
  const stats: RejectionStats = {
    prompts: new Set(samples.map((s) => s.example.id)).size,
    samples: samples.length,
    correct: 0,
    well_formed: 0,
    readable: 0,
    accepted: 0,
    duplicates: 0,
    kept: 0,
    prompts_covered: 0,
  };
  for (const s of samples) {
    const correct = accuracyReward(s.completion, s.example) === 1;
    const wellFormed = parseCompletion(s.completion).wellFormed;
    const readable = isReadable(s.completion);
    if (correct) stats.correct++;
    if (wellFormed) stats.well_formed++;
    if (readable) stats.readable++;
    if (!correct || !wellFormed || (o.requireReadable && !readable)) continue;
    stats.accepted++;
    const key = `${s.example.id}\u0000${s.completion}`;
    if (seen.has(key)) {
      stats.duplicates++;
      continue;
    }
    seen.add(key);
    kept.push(s);
  }
  stats.kept = kept.length;
  stats.prompts_covered = new Set(kept.map((s) => s.example.id)).size;
  return { kept, stats };
}

export interface RejectionOptions {
  /** K: samples per prompt. */
  numSamples: number;
  maxCompletionLength: number;
  temperature: number;
  topP: number;
  seed: number;
  template: string;
  requireReadable: boolean;
  /** Prompts per generation batch (default 8). */
  promptsPerBatch?: number;
  onProgress?: (done: number) => void;
}

/** Sample K per prompt and filter. Also returns pass@1 and cons@K of the sampler on these prompts. */
export async function rejectionSample(
  p: Params,
  c: ModelConfig,
  tok: CharTokenizer,
  prompts: TaskExample[],
  o: RejectionOptions,
): Promise<{
  all: Sample[];
  kept: Sample[];
  stats: RejectionStats;
  pass1: number;
  consK: number;
  readability: number;
  mean_length: number;
  /** Standard errors over prompts of pass1, consK and readability. */
  pass1_se: number;
  consK_se: number;
  readability_se: number;
}> {
  const all: Sample[] = [];
  const groups: { extracted: string | null; correct: boolean }[][] = [];
  const per = o.promptsPerBatch ?? 8;
  for (let i = 0; i < prompts.length; i += per) {
    const chunk = prompts.slice(i, i + per);
    const r = await rollouts(p, c, tok, chunk, {
      numGenerations: o.numSamples,
      maxCompletionLength: o.maxCompletionLength,
      temperature: o.temperature,
      topP: o.topP,
      topK: 0,
      seed: o.seed + i,
      template: o.template,
      rewardFns: [{ name: "accuracy", fn: accuracyReward, weight: 1 }],
    });
    for (let j = 0; j < chunk.length; j++) {
      const g = r.slice(j * o.numSamples, (j + 1) * o.numSamples);
      groups.push(
        g.map((x) => ({
          extracted: parseCompletion(x.completion).answer?.trim() ?? null,
          correct: x.rewards.accuracy === 1,
        })),
      );
      for (const x of g)
        all.push({ example: x.example, completion: x.completion, length: x.completionIds.length });
    }
    o.onProgress?.(Math.min(prompts.length, i + per));
  }
  const { kept, stats } = filterSamples(all, o);
  const n = Math.max(1, all.length);
  const K = o.numSamples;
  const perPrompt = (f: (s: Sample) => boolean) =>
    groups.map((_, i) => all.slice(i * K, (i + 1) * K).filter(f).length / K);
  return {
    all,
    kept,
    stats,
    pass1: stats.correct / n,
    consK: consAtK(groups),
    readability: stats.readable / n,
    mean_length: all.reduce((a, s) => a + s.length, 0) / n,
    pass1_se: stderrOfMean(groups.map((g) => g.filter((x) => x.correct).length / K)),
    consK_se: stderrOfMean(groups.map((g) => (consCorrect(g) ? 1 : 0))),
    readability_se: stderrOfMean(perPrompt((s) => isReadable(s.completion))),
  };
}
