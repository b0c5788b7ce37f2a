// Rule-based rewards as in DeepSeek-R1-Zero: no reward model, just checks of the completion text.
// A RewardFn scores one completion for one example; null means "not applicable" (e.g. an accuracy
// check for an example whose task has no verifier), and combineRewards skips nulls.
// The completion is what the policy wrote after the prompt, starting with <think> (tasks/format.ts).
import { parseCompletion } from "../tasks/format.ts";
import { taskForExample } from "../tasks/registry.ts";
import type { TaskExample } from "../tasks/types.ts";

export type RewardFn = (completion: string, example: TaskExample) => number | null;

/** 1 when the last <answer>...</answer> verifies with the example's task, else 0; null for non-synthetic examples. */
export const accuracyReward: RewardFn = (completion, example) => {
  const task = taskForExample(example);
  if (!task) return null;
  const { answer } = parseCompletion(completion);
  return answer !== null && task.verify(answer, example) ? 1 : 0;
};

/** 1 when the completion is exactly <think>...</think><answer>...</answer> (whitespace allowed between), else 0. */
export const formatReward: RewardFn = (completion) => (parseCompletion(completion).wellFormed ? 1 : 0);

/**
 * R1's language-consistency reward, for the synthetic tasks: the share of the think text's characters
 * that are in the task's trace language, i.e. digits, operators, "=", ";", "(", ")", spaces, and the
 * fixed words the traces use (yes, no, chk, ok, wait, none) as whole words. A scratchpad written only
 * in that language scores 1; one drifting into other letters or symbols (unreadable or degenerate
 * text) scores lower. An empty or missing think scores 0. null for non-synthetic examples.
 * It rewards readability, not correctness: "5*4=17" is fully on-language.
 */
export const consistencyReward: RewardFn = (completion, example) => {
  const task = taskForExample(example);
  if (!task) return null;
  const think = parseCompletion(completion).think;
  if (think === null || think.length === 0) return 0;
  const { chars, words } = task.vocabulary;
  let inside = 0;
  for (const run of think.match(/[a-zA-Z]+|[^a-zA-Z]/g) ?? []) {
    if (run.length > 1 || /[a-zA-Z]/.test(run)) {
      if (words.includes(run)) inside += run.length;
    } else if (chars.includes(run)) {
      inside += 1;
    }
  }
  return inside / think.length;
};

/** Weighted sum of rewards; nulls are skipped, and the result is null only when every part is null. */
export function combineRewards(parts: { fn: RewardFn; weight: number }[]): RewardFn {
  for (const p of parts) {
    if (!Number.isFinite(p.weight))
      throw new Error(`combineRewards: weight must be a finite number, got ${p.weight}`);
  }
  return (completion, example) => {
    let total = 0;
    let any = false;
    for (const { fn, weight } of parts) {
      const r = fn(completion, example);
      if (r === null) continue;
      total += weight * r;
      any = true;
    }
    return any ? total : null;
  };
}

/** The rewards by the names used in configs and metrics (reward/accuracy, reward/format, ...). */
export const REWARD_FUNCTIONS: Record<string, RewardFn> = {
  accuracy: accuracyReward,
  format: formatReward,
  consistency: consistencyReward,
};
