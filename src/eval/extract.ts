// Final-answer extraction from a model's completion, as R1-style evaluations do it: drop the
// reasoning inside <think>...</think>, then look for the answer in the usual places, most explicit
// first: the last \boxed{...} (or \fbox), a GSM8K "#### n" line, "the answer is ..." /
// "final answer: ...", an R1-Zero <answer>...</answer> tag, and last a multiple-choice letter.
// Used by the choice (GPQA) and synthetic tasks; math answers go through math-extract.ts, which
// follows Math-Verify (no letter fallback on math text). Nothing here judges correctness.

import { boxedGroups } from "./math-spans.ts";

export type ExtractMethod = "boxed" | "hash" | "answer_is" | "answer_tag" | "choice" | "none";

export interface Extracted {
  /** The answer text (trimmed, outer $...$ removed), or null when nothing answer-like was found. */
  answer: string | null;
  method: ExtractMethod;
}

/**
 * Remove reasoning: every complete <think>...</think>, an unterminated leading block (text up to the
 * first </think> when no <think> precedes it: the chat template already opened it), and an opened
 * but never closed <think> (a truncated completion has no final answer after it).
 */
export function stripThink(text: string): string {
  let out = text;
  const firstClose = out.indexOf("</think>");
  const firstOpen = out.indexOf("<think>");
  if (firstClose >= 0 && (firstOpen < 0 || firstClose < firstOpen)) out = out.slice(firstClose + 8);
  out = out.replace(/<think>[\s\S]*?<\/think>/g, "");
  const open = out.indexOf("<think>");
  if (open >= 0) out = out.slice(0, open);
  return out.replace(/<\/think>/g, "");
}

/** Content of the balanced {...} group starting at text[open] === "{", or null when unbalanced. */
export function braceGroup(text: string, open: number): { content: string; end: number } | null {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const ch = text[i];
    if (ch === "\\" && i + 1 < text.length) {
      i++; // \{ and \} are escaped braces, not grouping
      continue;
    }
    if (ch === "{") depth++;
    else if (ch === "}") {
      depth--;
      if (depth === 0) return { content: text.slice(open + 1, i), end: i + 1 };
    }
  }
  return null;
}

/** The content of the last complete \\boxed{...} / \\fbox{...} / `\\boxed 5`, or null. Linear time. */
export function lastBoxed(text: string): string | null {
  const boxes = boxedGroups(text);
  return boxes.length === 0 ? null : boxes[boxes.length - 1].content;
}

/** Trim, drop surrounding $...$, \(...\), \[...\], **...**, and a trailing sentence period. */
export function cleanAnswer(s: string): string {
  let a = s.trim();
  for (let changed = true; changed; ) {
    const before = a;
    a = a.replace(/^\*\*([\s\S]*)\*\*$/, "$1").trim();
    a = a.replace(/^\$\$([\s\S]*)\$\$$/, "$1").trim();
    a = a.replace(/^\$([\s\S]*)\$$/, "$1").trim();
    a = a.replace(/^\\\(([\s\S]*)\\\)$/, "$1").trim();
    a = a.replace(/^\\\[([\s\S]*)\\\]$/, "$1").trim();
    a = a
      .replace(/(?<!\d)\.$/, "")
      .replace(/(\d)\.$/, "$1")
      .trim();
    changed = a !== before;
  }
  return a;
}

function lastMatch(text: string, re: RegExp): RegExpExecArray | null {
  const g = new RegExp(re.source, re.flags.includes("g") ? re.flags : `${re.flags}g`);
  let last: RegExpExecArray | null = null;
  for (let m = g.exec(text); m !== null; m = g.exec(text)) {
    last = m;
    if (m[0].length === 0) g.lastIndex++;
  }
  return last;
}

/** Text after the last "the answer is" / "final answer:" up to the end of its sentence. */
function answerIs(text: string): string | null {
  const m = lastMatch(text, /(?:final\s+answer|the\s+answer|answer)\s*(?:is|:)(?:\s*[:=])?/i);
  if (!m) return null;
  const rest = text.slice(m.index + m[0].length).replace(/^\s+/, "");
  // Math right after the phrase is the answer, even when display math spans lines.
  const math = /^(\$\$|\$|\\\(|\\\[)([\s\S]*?)(\$\$|\$|\\\)|\\\])/.exec(rest);
  if (math) {
    const a = cleanAnswer(math[2]);
    return a.length > 0 ? a : null;
  }
  // Otherwise the first line, up to the end of its sentence (a decimal point has a digit after it).
  let line = rest.split("\n")[0];
  const stop = /\.(\s|$)/.exec(line);
  if (stop) line = line.slice(0, stop.index);
  const a = cleanAnswer(line);
  return a.length > 0 ? a : null;
}

/**
 * A choice letter written on its own: "Answer: C", "**C**", "(C)", or a line that is just "C".
 * `letters` is the set of valid letters (default ABCD).
 */
export function extractChoiceLetter(text: string, letters = "ABCD"): string | null {
  const L = `[${letters}]`;
  const patterns = [
    new RegExp(`[Aa][Nn][Ss][Ww][Ee][Rr]\\s*(?:is|IS|Is|:)?\\s*[:\\s]*\\**\\s*\\(?(${L})\\)?(?![A-Za-z0-9])`),
    new RegExp(`\\*\\*\\s*\\(?(${L})\\)?\\s*\\*\\*`),
    new RegExp(`\\((${L})\\)`),
    new RegExp(`^\\s*(${L})[.)]?\\s*$`, "m"),
  ];
  for (const re of patterns) {
    const m = lastMatch(text, re);
    if (m) return m[1];
  }
  return null;
}

/**
 * Reduce an extracted answer to a choice letter: "C", "(C)", "\text{C}", "C) 42", "Option C".
 * Returns null when the answer is not a letter of `letters`.
 */
export function toChoiceLetter(answer: string, letters = "ABCD"): string | null {
  let a = cleanAnswer(answer);
  a = a.replace(/\\(?:text|textbf|mathrm|mathbf)\{([^{}]*)\}/g, "$1").trim();
  a = a.replace(/^(?:option|choice)\s+/i, "");
  const m = new RegExp(`^\\(?\\s*([${letters}])\\s*\\)?(?:[.:)]|\\s|$)`).exec(a);
  return m ? m[1] : null;
}

export interface ExtractOptions {
  /** Valid choice letters for the last-resort letter pattern (default "ABCD"). */
  letters?: string;
}

/** The final answer of a completion, and how it was found. Never throws. */
export function extractAnswer(completion: string, opts: ExtractOptions = {}): Extracted {
  const text = stripThink(completion ?? "");
  const boxed = lastBoxed(text);
  if (boxed !== null && boxed.length > 0) return { answer: cleanAnswer(boxed), method: "boxed" };
  const hash = lastMatch(text, /####\s*([^\n]+)/);
  if (hash) {
    const a = cleanAnswer(hash[1]);
    if (a.length > 0) return { answer: a, method: "hash" };
  }
  const is = answerIs(text);
  if (is !== null) return { answer: is, method: "answer_is" };
  const tag = lastMatch(text, /<answer>([\s\S]*?)<\/answer>/);
  if (tag) {
    const a = cleanAnswer(tag[1]);
    if (a.length > 0) return { answer: a, method: "answer_tag" };
  }
  const letter = extractChoiceLetter(text, opts.letters);
  if (letter !== null) return { answer: letter, method: "choice" };
  return { answer: null, method: "none" };
}
