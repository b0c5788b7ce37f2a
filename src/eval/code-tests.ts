// Running a code job (code-program.ts) so that only a test run that really passed earns the reward.
// The harness (code-harness-py.ts) runs the solution in one process and the benchmark's tests in
// another, inside the sandbox; the tests' verdict goes to the parent through a private channel:
// a random nonce arrives on fd 4 with the job, and "PASS <nonce>" comes back on fd 5 only after the
// tests returned. Exit status and output are not trusted: a solution that exits early (os._exit,
// sys.exit, atexit), patches builtins, returns an always-equal object or prints a marker fails.

import { randomBytes } from "node:crypto";
import type { CodeJob } from "./code-program.ts";
import { HARNESS_PY } from "./code-harness-py.ts";
import { type RunPythonOptions, type RunPythonResult, runPython } from "./sandbox.ts";

export interface CodeTestResult extends RunPythonResult {
  /** The harness confirmed with the nonce that every test ran and passed. */
  confirmed: boolean;
}

export async function runCodeTests(
  job: CodeJob,
  opts: Omit<RunPythonOptions, "job">,
): Promise<CodeTestResult> {
  const nonce = randomBytes(16).toString("hex");
  const r = await runPython(HARNESS_PY, { ...opts, job: JSON.stringify({ ...job, nonce }) });
  const confirmed = r.report === `PASS ${nonce}\n`;
  if (r.status === "passed" && !confirmed) {
    const why = "harness: the program exited 0 but the tests did not confirm that they passed";
    return {
      ...r,
      ok: false,
      status: "failed",
      stderr: [r.stderr, why].filter(Boolean).join("\n"),
      confirmed,
    };
  }
  return { ...r, ok: r.ok && confirmed, confirmed };
}
