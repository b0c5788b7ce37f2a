// The held-out evaluation every run does between its stages, with R1's protocol (rl/evaluate.ts:
// K samples per problem, temperature 0.6, top-p 0.95) and a progress bar. It returns two views of
// the same samples: `result`, the R1-Zero run's numbers (pass@1, pass@k, format, length,
// faithfulness, re-checks, shows-work), and `stage`, the R1 pipeline's stage row:
//   pass1        mean correctness over the K samples, averaged over problems
//   consK        majority vote over the K answers (identical answer text) is correct, averaged
//   mean_length  completion length in tokens, over all samples
//   readability  share of samples in the readable format (tasks/cold-start.ts isReadable)
// each with its standard error over problems (`*_se`: the per-problem values' sample std / sqrt(n),
// as lighteval reports it; a 95% interval is the mean +- 1.96 se),
// plus the format rate, the mean consistency reward (rl/consistency.ts) and two sample completions.
import type { Params } from "../engine/params.ts";
import { ci95, consAtK, consCorrect, stderrOfMean } from "../eval/metrics.ts";
import type { ModelConfig } from "../model/config.ts";
import { Progress } from "../report/progress.ts";
import { readableConsistencyReward } from "../rl/consistency.ts";
import { type SyntheticEval, evaluateSynthetic } from "../rl/evaluate.ts";
import type { Rollout } from "../rl/rollout.ts";
import type { CharTokenizer } from "../tasks/char-tokenizer.ts";
import { isReadable } from "../tasks/cold-start.ts";
import { parseCompletion } from "../tasks/format.ts";
import type { TaskExample } from "../tasks/types.ts";

export interface StageEval {
  pass1: number;
  consK: number;
  mean_length: number;
  readability: number;
  /** Standard errors over problems of pass1, consK and readability. */
  pass1_se: number;
  consK_se: number;
  readability_se: number;
  k: number;
  n_problems: number;
  format_rate: number;
  consistency: number;
  /** Two sample completions (first problems), for the report. */
  examples: { prompt: string; completion: string; correct: boolean }[];
}

/** The measured columns of a stage row (r1.ts StageRow, the distillation table), with intervals. */
export interface StageColumns {
  pass1: number;
  pass1_se: number;
  /** pass1 +- 1.96 se, clipped to [0, 1]. */
  pass1_ci95: [number, number];
  consK: number;
  consK_se: number;
  mean_length: number;
  readability: number;
  readability_se: number;
}

type Measured = Omit<StageColumns, "pass1_ci95">;

/** The stage-row columns of a held-out evaluation or of the rejection sampler. */
export function stageColumns(e: Measured): StageColumns {
  return {
    pass1: e.pass1,
    pass1_se: e.pass1_se,
    pass1_ci95: ci95(e.pass1, e.pass1_se),
    consK: e.consK,
    consK_se: e.consK_se,
    mean_length: e.mean_length,
    readability: e.readability,
    readability_se: e.readability_se,
  };
}

export interface EvalOptions {
  k: number;
  temperature: number;
  topP: number;
  maxCompletionLength: number;
  seed: number;
  template: string;
}

export async function evalStage(
  label: string,
  p: Params,
  c: ModelConfig,
  tok: CharTokenizer,
  test: TaskExample[],
  o: EvalOptions,
): Promise<{ result: SyntheticEval; stage: StageEval; samples: Rollout[] }> {
  const bar = new Progress({ total: test.length, label: `eval ${label}` });
  const { result, samples } = await evaluateSynthetic(p, c, tok, test, {
    ...o,
    onProgress: (d) => bar.tick(d - bar.current),
  });
  bar.done();
  const groups = test.map((_, i) =>
    samples.slice(i * o.k, (i + 1) * o.k).map((s) => ({
      extracted: parseCompletion(s.completion).answer?.trim() ?? null,
      correct: s.rewards.accuracy === 1,
    })),
  );
  const n = Math.max(1, samples.length);
  const perProblem = (f: (s: Rollout) => boolean) =>
    test.map((_, i) => {
      const g = samples.slice(i * o.k, (i + 1) * o.k);
      return g.filter(f).length / Math.max(1, g.length);
    });
  const stage: StageEval = {
    pass1: result.pass1,
    consK: consAtK(groups),
    mean_length: result.mean_length,
    readability: samples.filter((s) => isReadable(s.completion)).length / n,
    pass1_se: stderrOfMean(perProblem((s) => s.rewards.accuracy === 1)),
    consK_se: stderrOfMean(groups.map((g) => (consCorrect(g) ? 1 : 0))),
    readability_se: stderrOfMean(perProblem((s) => isReadable(s.completion))),
    k: o.k,
    n_problems: test.length,
    format_rate: result.format_rate,
    consistency:
      samples.reduce((a, s) => a + (readableConsistencyReward(s.completion, s.example) ?? 0), 0) / n,
    examples: samples
      .filter((_, i) => i % o.k === 0)
      .slice(0, 2)
      .map((s) => ({
        prompt: s.example.prompt,
        completion: s.completion,
        correct: s.rewards.accuracy === 1,
      })),
  };
  return { result, stage, samples };
}
