// The R1-Zero output format: `<think> reasoning </think> <answer> answer </answer>`.
// One place for the tags and for pulling the two parts out of a completion, so the rewards, the
// faithfulness check and the tokenizer agree on what a well-formed completion is.
// The completion is expected to start with <think> (the template ends before it, as in R1-Zero).

export const THINK_OPEN = "<think>";
export const THINK_CLOSE = "</think>";
export const ANSWER_OPEN = "<answer>";
export const ANSWER_CLOSE = "</answer>";
export const TAGS = [THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE] as const;

export interface ParsedCompletion {
  /** Text after the first <think> up to </think> (or the next tag, or the end when unclosed); null without <think>. */
  think: string | null;
  /** Text inside the last <answer>...</answer>; null when there is none. */
  answer: string | null;
  /** Exactly `<think>X</think><answer>Y</answer>` with optional whitespace around the four parts, no tags in X or Y. */
  wellFormed: boolean;
}

const WELL_FORMED = /^\s*<think>([\s\S]*?)<\/think>\s*<answer>([\s\S]*?)<\/answer>\s*$/;
const ANSWER = /<answer>([\s\S]*?)<\/answer>/g;

function hasTag(text: string): boolean {
  return TAGS.some((t) => text.includes(t));
}

export function parseCompletion(completion: string): ParsedCompletion {
  const m = WELL_FORMED.exec(completion);
  const wellFormed = m !== null && !hasTag(m[1]) && !hasTag(m[2]);
  let think: string | null = null;
  const open = completion.indexOf(THINK_OPEN);
  if (open >= 0) {
    const start = open + THINK_OPEN.length;
    const ends = TAGS.map((t) => completion.indexOf(t, start)).filter((i) => i >= 0);
    think = completion.slice(start, ends.length > 0 ? Math.min(...ends) : undefined);
  }
  let answer: string | null = null;
  for (const a of completion.matchAll(ANSWER)) answer = a[1];
  return { think, answer, wellFormed };
}
