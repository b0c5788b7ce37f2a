// The base-model pretraining corpus: for each training problem, reasoning traces in the R1-Zero format
// written in a realistic mix of styles (types.ts TraceStyle): right and faithful, re-checked, slips
// caught with "wait", slips carried to a wrong answer, wrong final picks, giving up, cut off, and
// bare guesses with no work shown. The mix sets what an imitating base model does (the default: mostly
// guess, sometimes work it out), so GRPO starts from a policy that succeeds sometimes and holds a
// better behaviour it seldom uses: the thing RL can find and sharpen. Also the two measures the
// main run reports beside the reward: faithfulness of the scratchpad and the number of re-checks.
import { parseCompletion } from "./format.ts";
import { taskForExample } from "./registry.ts";
import { taskSeed, TaskRng } from "../engine/rng.ts";
import type { Faithfulness, SyntheticTask, TaskExample, TraceStyle } from "./types.ts";
import { TRACE_STYLES } from "./types.ts";

export { countRechecks, showsWork } from "./scratchpad.ts";

/** Relative weights of the trace styles (normalised; 0 leaves a style out). */
export type CorpusMix = Record<TraceStyle, number>;

/**
 * Most traces (60%) are bare answers with no work shown and right only by chance: the unreliable
 * answers scraped text is full of. A third are worked solutions that end right (plain, re-checked,
 * or with a slip caught by "wait"), the rest worked but wrong. An imitating base model mostly answers
 * without working, at temperature 0.6 more so (the empty think is the single likeliest first token of
 * a completion): RL has a behaviour to discover that the corpus holds but seldom shows, working the
 * problem out, and the model's own skill at it decides how much that pays.
 */
export const DEFAULT_MIX: CorpusMix = {
  correct: 0.24,
  recheck: 0.05,
  wait: 0.04,
  slip: 0.03,
  wrongPick: 0.01,
  giveUp: 0.02,
  unfinished: 0.01,
  guess: 0.6,
};

/** Worked traces only (no bare answers), 55% ending right as in the PyTorch peer's corpus (r1zero-notes.md): the R1 pipeline's base. */
export const WORKED_MIX: CorpusMix = {
  correct: 0.35,
  recheck: 0.1,
  wait: 0.1,
  slip: 0.12,
  wrongPick: 0.12,
  giveUp: 0.11,
  unfinished: 0.1,
  guess: 0,
};

export interface CorpusItem {
  example: TaskExample;
  style: TraceStyle;
  /** `<think>...</think><answer>...</answer>` (unfinished ones stop inside <think>). */
  completion: string;
  /** Well-formed and the answer verifies. */
  correct: boolean;
}

export interface CorpusOptions {
  task: SyntheticTask;
  /** Training problems to draw (distinct, train split only). */
  problems: number;
  /** Traces per problem, each in an independently drawn style. Default 1. */
  tracesPerProblem?: number;
  seed: number;
  /** Overrides of DEFAULT_MIX, e.g. { unfinished: 0 }. */
  mix?: Partial<CorpusMix>;
}

/** Draw a style with probability proportional to its weight in `mix`. */
export function sampleStyle(rng: TaskRng, mix: CorpusMix): TraceStyle {
  for (const s of TRACE_STYLES) {
    const w = mix[s];
    if (!(w >= 0)) throw new Error(`corpus mix: weight of '${s}' must be a number >= 0, got ${w}`);
  }
  return TRACE_STYLES[rng.weighted(TRACE_STYLES.map((s) => mix[s]))];
}

export function buildCorpus(opts: CorpusOptions): CorpusItem[] {
  const { task, seed } = opts;
  const perProblem = opts.tracesPerProblem ?? 1;
  if (!Number.isInteger(perProblem) || perProblem < 1) {
    throw new Error(`corpus: tracesPerProblem must be a positive integer, got ${perProblem}`);
  }
  const mix = { ...DEFAULT_MIX, ...opts.mix };
  const rng = new TaskRng(taskSeed(seed, `corpus/${task.name}`));
  const items: CorpusItem[] = [];
  for (const example of task.generate("train", opts.problems, seed)) {
    for (let k = 0; k < perProblem; k++) {
      const style = sampleStyle(rng, mix);
      const completion = task.trace(example, rng, style);
      const parsed = parseCompletion(completion);
      const correct = parsed.wellFormed && parsed.answer !== null && task.verify(parsed.answer, example);
      items.push({ example, style, completion, correct });
    }
  }
  return items;
}

export interface CorpusStats {
  items: number;
  /** Share of traces that end with a verified answer: the ceiling of a perfect imitator's pass@1. */
  accuracy: number;
  faithful: number;
  wellFormed: number;
  byStyle: Record<TraceStyle, number>;
  meanCompletionChars: number;
  maxCompletionChars: number;
}

export function corpusStats(items: CorpusItem[]): CorpusStats {
  const byStyle = Object.fromEntries(TRACE_STYLES.map((s) => [s, 0])) as Record<TraceStyle, number>;
  let correct = 0;
  let faithful = 0;
  let wellFormed = 0;
  let chars = 0;
  let maxChars = 0;
  for (const it of items) {
    byStyle[it.style]++;
    if (it.correct) correct++;
    if (faithfulness(it.completion, it.example).faithful) faithful++;
    if (parseCompletion(it.completion).wellFormed) wellFormed++;
    chars += it.completion.length;
    maxChars = Math.max(maxChars, it.completion.length);
  }
  const n = Math.max(1, items.length);
  return {
    items: items.length,
    accuracy: correct / n,
    faithful: faithful / n,
    wellFormed: wellFormed / n,
    byStyle,
    meanCompletionChars: chars / n,
    maxCompletionChars: maxChars,
  };
}

/**
 * Whether a completion's scratchpad is faithful for a synthetic-task example: every arithmetic step
 * and verdict in it holds, and the answer is the one the steps arrived at. Throws for an example
 * that is not from a synthetic task (meta.task unknown).
 */
export function faithfulness(completion: string, ex: TaskExample): Faithfulness {
  const task = taskForExample(ex);
  if (!task)
    throw new Error(`faithfulness: example ${ex.id} has no known meta.task (${String(ex.meta?.task)})`);
  return task.faithfulness(completion, ex);
}
