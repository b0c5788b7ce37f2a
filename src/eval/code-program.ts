// Building the test job for a code completion (HumanEval, MBPP), without running it: the solution
// is the last fenced code block of the answer (or the whole answer when it has none); the prelude
// and the tests are the benchmark's own code. code-tests.ts runs the solution and the tests in two
// processes of the sandbox, so the solution's code never runs where the verdict is decided.

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

/** What code-tests.ts runs: the solution in one process, the prelude and tests in another. */
export interface CodeJob {
  /** The model's code (with the HumanEval prompt before it), run in the worker process. */
  solution: string;
  /** Benchmark code run before the tests, beside them (prompt helpers and imports, MBPP setup). */
  prelude: string;
  /** The tests; the solution's top-level functions and classes are reachable by name. */
  tests: string;
  /** The solution's function passed to the tests as `__candidate__` (HumanEval's check). */
  candidate?: string;
}

export interface HumanEvalFields {
  prompt: string;
  test: string;
  entry_point: string;
}

/**
 * HumanEval: the solution is the prompt, then the completion's code. When the code does not define
 * the entry point it is the body that continues the prompt's signature and docstring; when it does,
 * it redefines the prompt's stub (a def with only a docstring is valid Python) and still sees the
 * prompt's imports and helper functions. The tests are the test code (which defines check) and
 * `check(entry_point)`, beside the prompt's own helpers (some tests call them, e.g. poly).
 */
export function humanevalJob(completion: string, p: HumanEvalFields): CodeJob {
  const code = completionCode(completion);
  const nl = p.prompt.endsWith("\n") ? "" : "\n";
  const solution = definesFunction(code, p.entry_point)
    ? `${p.prompt}${nl}\n${code}\n`
    : `${p.prompt}${nl}${code}\n`;
  return {
    solution,
    prelude: p.prompt,
    tests: `${p.test.trim()}\n\n\ncheck(__candidate__)\n`,
    candidate: p.entry_point,
  };
}

export interface MbppFields {
  test_list: string[];
  /** Extra setup some MBPP rows carry (imports, helper classes). */
  test_setup_code?: string;
}

/** MBPP: the completion's code; any setup code, then the asserts of test_list. */
export function mbppJob(completion: string, p: MbppFields): CodeJob {
  const setup = p.test_setup_code?.trim() ? `${p.test_setup_code.trim()}\n` : "";
  return {
    solution: `${completionCode(completion)}\n`,
    prelude: setup,
    tests: `${p.test_list.join("\n")}\n`,
  };
}
