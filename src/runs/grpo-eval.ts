// Held-out evaluation during `r1lab grpo`, with R1's protocol: k samples per problem at
// temperature 0.6 / top-p 0.95 (the run's eval_* options), scored by the task's own scorer (the
// same function as the accuracy reward); pass@1 is the mean correctness over the k samples.
// The sampling seed is the same at every evaluation, so the curve shows the policy moving, not
// the dice.
import type { Codec } from "../backends/token-rows.ts";
import type { EvalTask } from "../eval/tasks/types.ts";
import type { Params } from "../engine/params.ts";
import { generate } from "../generate/generate.ts";
import type { ModelConfig } from "../model/config.ts";
import { Progress } from "../report/progress.ts";
import { formatScore } from "../rl/reward-fns.ts";
import type { Prompt } from "./grpo-prompts.ts";

export interface HeldOutResult {
  step: number;
  n_problems: number;
  k: number;
  "pass@1": number;
  format_rate: number;
  mean_length: number;
  truncated_rate: number;
}

export interface HeldOutOptions {
  k: number;
  temperature: number;
  topP: number;
  maxNewTokens: number;
  seed: number;
  /** Rows decoded together. */
  batchRows: number;
}

export async function evaluateHeldOut(
  p: Params,
  c: ModelConfig,
  codec: Codec,
  task: EvalTask,
  prompts: Prompt[],
  step: number,
  o: HeldOutOptions,
): Promise<HeldOutResult> {
  const rows = prompts.flatMap((_, i) => Array.from({ length: o.k }, () => i));
  const bar = new Progress({ total: rows.length, label: `eval @${step}` });
  let correct = 0;
  let formatted = 0;
  let length = 0;
  let truncated = 0;
  for (let b = 0; b * o.batchRows < rows.length; b++) {
    const chunk = rows.slice(b * o.batchRows, (b + 1) * o.batchRows);
    const res = await generate(
      p,
      c,
      chunk.map((i) => prompts[i].ids),
      {
        maxNewTokens: o.maxNewTokens,
        eosTokenIds: codec.eosIds,
        seed: o.seed + b,
        temperature: o.temperature,
        topP: o.topP,
        topK: 0,
        padTokenId: codec.padId,
      },
    );
    for (let j = 0; j < chunk.length; j++) {
      const pr = prompts[chunk[j]];
      const ids = res.ids[j];
      const text = codec.decode(ids.filter((t) => !codec.eosIds.includes(t)));
      if ((await task.score(text, pr.problem)).correct) correct++;
      formatted += formatScore(pr.text, text);
      length += ids.length;
      if (res.finishReasons[j] === "length") truncated++;
    }
    bar.tick(chunk.length, { acc: correct / Math.min(rows.length, (b + 1) * o.batchRows) });
  }
  bar.done();
  const n = rows.length;
  return {
    step,
    n_problems: prompts.length,
    k: o.k,
    "pass@1": correct / n,
    format_rate: formatted / n,
    mean_length: length / n,
    truncated_rate: truncated / n,
  };
}
