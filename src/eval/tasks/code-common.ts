// Running a built program for the code benchmarks (humaneval, mbpp) in the sandbox that
// src/eval/sandbox.ts provides. Without a working sandbox, code runs only when the user passed
// --unsafe-no-sandbox (the sandbox module then runs plain python3 with its limits). The sandbox
// module is loaded only when code is scored, so math and choice tasks never depend on it.

import type { ScoreOptions, ScoreResult } from "./types.ts";

export const CODE_TIMEOUT_MS = 10_000;
export const CODE_MEMORY_MB = 1024;

/** Run `program`; correct when it exits 0 (every assert passed). `extracted` is the code that was run. */
export async function runProgram(
  task: string,
  code: string,
  program: string,
  opts: ScoreOptions = {},
): Promise<ScoreResult> {
  const { runPython, sandboxAvailable } = await import("../sandbox.ts");
  const avail = sandboxAvailable();
  if (!avail.ok && !opts.unsafeNoSandbox) {
    throw new Error(
      `${task}: no sandbox to run generated code (${avail.reason}); install it, or pass --unsafe-no-sandbox to run the code without isolation`,
    );
  }
  const r = await runPython(program, {
    timeoutMs: opts.timeoutMs ?? CODE_TIMEOUT_MS,
    memoryMb: opts.memoryMb ?? CODE_MEMORY_MB,
    ...(opts.unsafeNoSandbox ? { unsafeNoSandbox: true } : {}),
  });
  return { extracted: code, correct: r.ok && r.status === "passed", method: r.status };
}

/** Code answers are one vote when their code is the same up to trailing spaces and blank lines. */
export function sameCode(a: string, b: string): boolean {
  const norm = (s: string) =>
    s
      .split("\n")
      .map((l) => l.trimEnd())
      .filter((l) => l.length > 0)
      .join("\n");
  return norm(a) === norm(b);
}

/** R1's code prompts ask for the solution in one fenced block. */
export const CODE_BLOCK_INSTRUCTION =
  "Write your solution in a single Python code block (```python ... ```).";
