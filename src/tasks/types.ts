// The contract between the synthetic reasoning tasks and the rest of r1lab (corpus, rewards, GRPO,
// evaluation). A task makes problems, checks answers, writes R1-Zero-format reasoning traces in
// several styles for the base corpus, and judges whether a completion's scratchpad is faithful.

import type { TaskRng } from "../engine/rng.ts";

/** One problem. `prompt` is the problem statement only; the R1-Zero template is applied elsewhere. */
export interface TaskExample {
  /** Stable id, e.g. "countdown/test/3,5,2>13". */
  id: string;
  prompt: string;
  /** A reference answer (an integer, or one solution expression for Countdown). */
  answer: string;
  /** Task-specific fields; synthetic tasks always set `task` (their registry name). */
  meta: Record<string, unknown>;
}

export type Split = "train" | "test";

/**
 * How a corpus trace is written (what a noisy pretraining corpus contains):
 * - correct: faithful steps ending in the right answer.
 * - recheck: correct, plus a "chk" step that re-verifies the result before answering.
 * - wait: a slip caught by "wait" and redone correctly, then the right answer.
 * - slip: an arithmetic slip carried through to a wrong answer.
 * - wrongPick: correct steps, but the answer picks the wrong result.
 * - giveUp: some steps, then "none" as the answer.
 * - unfinished: cut off mid-thought: no </think>, no answer (fails the format reward).
 * - guess: no work at all (an empty think), just an answer drawn from the range answers take, so
 *   right only by chance: the bare, unreliable answers scraped text is full of.
 */
export type TraceStyle =
  | "correct"
  | "recheck"
  | "wait"
  | "slip"
  | "wrongPick"
  | "giveUp"
  | "unfinished"
  | "guess";

export const TRACE_STYLES: readonly TraceStyle[] = [
  "correct",
  "recheck",
  "wait",
  "slip",
  "wrongPick",
  "giveUp",
  "unfinished",
  "guess",
];

/** Whether a scratchpad's steps are correct and lead to its answer (see scratchpad.ts). */
export interface Faithfulness {
  /** Checkable steps: equation links (a=b), verdicts (yes/no), the link from the problem. */
  steps: number;
  correctSteps: number;
  /** The answer is the one the scratchpad arrived at (its last "yes" chain, its last value). */
  leadsToAnswer: boolean;
  /** steps > 0, every step correct, and leadsToAnswer. */
  faithful: boolean;
}

/** The text a task's traces are made of: what consistencyReward counts as "on-language". */
export interface TraceVocabulary {
  /** Single characters: digits, operators, punctuation, space. */
  chars: string;
  /** Fixed words the traces use ("yes", "no", "chk", ...). */
  words: readonly string[];
}

export interface SyntheticTask {
  name: string;
  /** n distinct problems of one split; train and test never share a problem, whatever the seeds. */
  generate(split: Split, n: number, seed: number): TaskExample[];
  /** How many distinct problems the split holds, when the space is small enough to count (else undefined). */
  countProblems?(split: Split): number | undefined;
  /** Whether `answerText` (the content of <answer>, untrimmed) solves `ex`. Never throws. */
  verify(answerText: string, ex: TaskExample): boolean;
  /** A full completion `<think>...</think><answer>...</answer>` in `style` (draws from `rng`). */
  trace(ex: TaskExample, rng: TaskRng, style: TraceStyle): string;
  faithfulness(completion: string, ex: TaskExample): Faithfulness;
  vocabulary: TraceVocabulary;
}
