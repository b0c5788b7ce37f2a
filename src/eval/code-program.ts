// Building the Python program that checks a code completion (HumanEval, MBPP), without running it:
// take the last fenced code block of the answer (or the whole answer when it has none), then append
// the benchmark's tests. The sandbox (sandbox.ts) runs the program; exit status 0 means passed.

import { stripThink } from "./extract.ts";

/** The last complete ```...``` block (any language tag), or an unclosed final block; null when none. */
export function lastCodeBlock(text: string): string | null {
  const blocks = [...text.matchAll(/```[^\n`]*\n([\s\S]*?)```/g)];
  if (blocks.length > 0) return blocks[blocks.length - 1][1];
  const open = /```[^\n`]*\n([\s\S]*)$/.exec(text);
  return open ? open[1] : null;
}

/** The code of a completion: its last code block after the reasoning, else the whole answer. */
export function completionCode(completion: string): string {
  const answer = stripThink(completion);
  return (lastCodeBlock(answer) ?? answer).replace(/\s+$/, "");
}

/** Whether `code` defines a top-level function `name`. */
export function definesFunction(code: string, name: string): boolean {
  const esc = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`^(?:async\\s+)?def\\s+${esc}\\s*\\(`, "m").test(code);
}

export interface HumanEvalFields {
  prompt: string;
  test: string;
  entry_point: string;
}

/**
 * HumanEval: the prompt, then the completion's code. When the code does not define the entry point
 * it is the body that continues the prompt's signature and docstring; when it does, it redefines the
 * prompt's stub (a def with only a docstring is valid Python) and still sees the prompt's imports and
 * helper functions. Then the test code (which defines check) and `check(entry_point)`.
 */
export function humanevalProgram(completion: string, p: HumanEvalFields): string {
  const code = completionCode(completion);
  const nl = p.prompt.endsWith("\n") ? "" : "\n";
  const solution = definesFunction(code, p.entry_point)
    ? `${p.prompt}${nl}\n${code}`
    : `${p.prompt}${nl}${code}`;
  return `${solution}\n\n\n${p.test.trim()}\n\n\ncheck(${p.entry_point})\n`;
}

export interface MbppFields {
  test_list: string[];
  /** Extra setup some MBPP rows carry (imports, helper classes). */
  test_setup_code?: string;
}

/** MBPP: the completion's code, any setup code, then the asserts of test_list. */
export function mbppProgram(completion: string, p: MbppFields): string {
  const setup = p.test_setup_code?.trim() ? `${p.test_setup_code.trim()}\n\n` : "";
  return `${completionCode(completion)}\n\n\n${setup}${p.test_list.join("\n")}\n`;
}
