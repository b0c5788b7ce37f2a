// Cold-start data for the R1 pipeline: a small set of long, readable reasoning traces. DeepSeek-R1
// fine-tuned its base on a few thousand chains of thought written to be read by people (one step
// per line, a summary at the end) before any RL, because R1-Zero's raw traces were hard to read.
// The miniature: the terse R1-Zero traces of a synthetic task (tasks/corpus.ts)
//     <think>3+4-2+5=7-2+5=5+5=10</think><answer>10</answer>
// are rewritten as sentences, one equation each, in a small fixed vocabulary, closed by a summary:
//     <think>first 3+4-2+5=7-2+5. then 7-2+5=5+5. then 5+5=10. so the answer is 10.</think><answer>10</answer>
// Re-checks become "check 10-5=5 ok.", retracted slips "wait that is wrong.", Countdown's verdicts
// "that is (not) the target." Only traces that are right and faithful are kept.
import { parseCompletion } from "./format.ts";
import { taskSeed, TaskRng } from "../engine/rng.ts";
import { readChains } from "./scratchpad.ts";
import type { SyntheticTask, TaskExample, TraceStyle } from "./types.ts";

/** The words of the readable format: the "language" the consistency reward asks for (rl/consistency.ts). */
export const READABLE_WORDS = [
  "first",
  "then",
  "next",
  "check",
  "ok",
  "wait",
  "that",
  "is",
  "wrong",
  "not",
  "the",
  "target",
  "so",
  "answer",
] as const;
/** Characters of the equations and layout of readable traces. */
export const READABLE_CHARS = "0123456789+-*/()=. ";

/** Styles of terse trace a cold-start example is rewritten from (only ones that end right). */
export const COLD_START_STYLES: readonly TraceStyle[] = ["correct", "recheck", "wait"];

export interface ColdStartItem {
  example: TaskExample;
  style: TraceStyle;
  /** The readable `<think>...</think><answer>...</answer>`. */
  completion: string;
}

/** Rewrite a terse think text (equation chains + yes/no/chk/ok/wait) as readable sentences ending in a summary. */
export function readableThink(terseThink: string, answer: string): string {
  const sentences: string[] = [];
  let chainsSeen = 0;
  for (const c of readChains(terseThink)) {
    const p = c.parts;
    if (c.role === "chk") {
      sentences.push(`check ${p.join("=")} ok`);
      continue;
    }
    for (let i = 0; i + 1 < p.length; i++) {
      const word = i > 0 ? "then" : chainsSeen === 0 ? "first" : "next";
      sentences.push(`${word} ${p[i]}=${p[i + 1]}`);
    }
    chainsSeen++;
    if (c.role === "retracted") sentences.push("wait that is wrong");
    else if (c.verdict === "yes") sentences.push("that is the target");
    else if (c.verdict === "no") sentences.push("that is not the target");
  }
  sentences.push(`so the answer is ${answer}`);
  return `${sentences.join(". ")}.`;
}

/** The readable form of a terse R1-Zero completion; null when it has no closed think or no answer. */
export function readableCompletion(terse: string): string | null {
  const { think, answer, wellFormed } = parseCompletion(terse);
  if (!wellFormed || think === null || answer === null) return null;
  return `<think>${readableThink(think, answer.trim())}</think><answer>${answer.trim()}</answer>`;
}

const EQUATION = /^[0-9+\-*/()=]+$/;

/** Whether one word of a think text is in the readable vocabulary: a listed word or an equation/number. */
export function isReadableWord(word: string): boolean {
  return (READABLE_WORDS as readonly string[]).includes(word) || EQUATION.test(word);
}

/**
 * Readability of one completion (the pipeline's "readability" metric is the share of completions for
 * which this is true): well-formed; the think text is a sequence of sentences ending with "."; every
 * word is in the readable vocabulary; there are at least two sentences; and the last one is the
 * summary "so the answer is X" with X exactly the answer given in <answer>.
 */
export function isReadable(completion: string): boolean {
  const { think, answer, wellFormed } = parseCompletion(completion);
  if (!wellFormed || think === null || answer === null) return false;
  const text = think.trim();
  if (!text.endsWith(".")) return false;
  const sentences = text.slice(0, -1).split(/\.\s+/);
  if (sentences.length < 2) return false;
  for (const s of sentences) {
    const words = s.split(/\s+/);
    if (words.some((w) => w === "" || !isReadableWord(w))) return false;
  }
  const m = /^so the answer is (\S+)$/.exec(sentences[sentences.length - 1]);
  return m !== null && m[1] === answer.trim();
}

/** Whether a cold-start item is usable: readable, its answer verifies, and its terse source was faithful. */
export function verifyColdStart(
  task: SyntheticTask,
  terse: string,
  readable: string,
  ex: TaskExample,
): boolean {
  const { answer } = parseCompletion(readable);
  return (
    answer !== null &&
    task.verify(answer, ex) &&
    isReadable(readable) &&
    task.faithfulness(terse, ex).faithful
  );
}

export interface ColdStartOptions {
  task: SyntheticTask;
  /** Training problems to draw from (in order; one trace per problem). */
  problems: TaskExample[];
  /** How many traces to keep. */
  n: number;
  seed: number;
  /** Relative weights of the source styles (default correct 0.5, recheck 0.3, wait 0.2). */
  mix?: Partial<Record<"correct" | "recheck" | "wait", number>>;
}

/** Up to n verified readable traces, one per problem, styles drawn from the mix (seeded). */
export function buildColdStart(o: ColdStartOptions): ColdStartItem[] {
  const mix = { correct: 0.5, recheck: 0.3, wait: 0.2, ...o.mix };
  const styles = ["correct", "recheck", "wait"] as const;
  for (const s of styles)
    if (!(mix[s] >= 0)) throw new Error(`cold start mix: weight of '${s}' must be >= 0, got ${mix[s]}`);
  const rng = new TaskRng(taskSeed(o.seed, `cold-start/${o.task.name}`));
  const out: ColdStartItem[] = [];
  for (const example of o.problems) {
    if (out.length >= o.n) break;
    const style = styles[rng.weighted(styles.map((s) => mix[s]))];
    const terse = o.task.trace(example, rng, style);
    const completion = readableCompletion(terse);
    if (completion !== null && verifyColdStart(o.task, terse, completion, example))
      out.push({ example, style, completion });
  }
  return out;
}
