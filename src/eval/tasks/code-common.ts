// Running a code job for the code benchmarks (humaneval, mbpp) in the sandbox that
// src/eval/sandbox.ts provides, through the harness of src/eval/code-tests.ts. Without a working
// sandbox, code runs only when the user passed --unsafe-no-sandbox (the sandbox module then runs
// plain python3 with its limits). The sandbox
// module is loaded only when code is scored, so math and choice tasks never depend on it.

import type { CodeJob } from "../code-program.ts";
import { type ScoreOptions, type ScoreResult, ScoringSetupError } from "./types.ts";

export const CODE_TIMEOUT_MS = 10_000;
export const CODE_MEMORY_MB = 1024;

/** Run `job`; correct when the harness confirmed every test passed. `extracted` is the code that was run. */
export async function runJob(
  task: string,
  code: string,
  job: CodeJob,
  opts: ScoreOptions = {},
): Promise<ScoreResult> {
  const { sandboxAvailable } = await import("../sandbox.ts");
  const { runCodeTests } = await import("../code-tests.ts");
  const avail = sandboxAvailable();
  if (!avail.ok && !opts.unsafeNoSandbox) {
    throw new ScoringSetupError(
      `${task}: no sandbox to run generated code (${avail.reason}); install it, or pass --unsafe-no-sandbox to run the code without isolation`,
    );
  }
  const r = await runCodeTests(job, {
    timeoutMs: opts.timeoutMs ?? CODE_TIMEOUT_MS,
    memoryMb: opts.memoryMb ?? CODE_MEMORY_MB,
    ...(opts.unsafeNoSandbox ? { unsafeNoSandbox: true } : {}),
  });
  return { extracted: code, correct: r.confirmed && r.status === "passed", method: r.status };
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
