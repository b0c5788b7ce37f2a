// Ctrl-C during `r1lab score` into the folder of an earlier run: the old results.json must be gone
// (never beside the new, partial samples.jsonl), the samples scored so far stay, and the same
// command run again scores only the rest. Code samples (each sleeps in the sandbox) make the run
// slow enough to interrupt.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { sandboxAvailable } from "../src/eval/sandbox.ts";
import { ROOT, runR1lab } from "./helpers/run-r1lab.ts";

const dir = mkdtempSync(join(tmpdir(), "r1lab-score-int-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const lines = (f: string) =>
  existsSync(f) ? readFileSync(f, "utf8").trim().split("\n").filter(Boolean) : [];

describe.runIf(sandboxAvailable().ok)("r1lab score interrupted", () => {
  it("Ctrl-C leaves no stale results.json; the rerun resumes", { timeout: 300_000 }, async () => {
    const data = join(dir, "he.jsonl");
    const problem = {
      task_id: "T/0",
      prompt: 'def double(x):\n    """Twice x."""\n',
      test: "def check(candidate):\n    assert candidate(3) == 6\n",
      entry_point: "double",
    };
    writeFileSync(data, `${JSON.stringify(problem)}\n`);
    const completions = join(dir, "c.jsonl");
    const body = "```python\ndef double(x):\n    import time\n    time.sleep(1)\n    return 2 * x\n```";
    writeFileSync(
      completions,
      `${Array.from({ length: 6 }, () => JSON.stringify({ id: "T/0", completion: body })).join("\n")}\n`,
    );
    const out = join(dir, "out");
    mkdirSync(out);
    writeFileSync(join(out, "results.json"), JSON.stringify({ task: "humaneval", "pass@1": 1 }));
    const args = [
      "score",
      "--task",
      "humaneval",
      "--data",
      data,
      "--completions",
      completions,
      "--out",
      out,
      "--concurrency",
      "1",
    ];

    // Its own process group, so SIGINT reaches every process of the command, as Ctrl-C in a terminal does.
    const child = spawn(process.execPath, [join(ROOT, "bin/r1lab.js"), ...args], {
      cwd: ROOT,
      stdio: "ignore",
      detached: true,
    });
    const samples = join(out, "samples.jsonl");
    await new Promise<void>((resolve, reject) => {
      const t = setInterval(() => {
        if (lines(samples).length >= 1) {
          clearInterval(t);
          process.kill(-child.pid!, "SIGINT");
          resolve();
        }
      }, 50);
      child.on("exit", () => {
        clearInterval(t);
        reject(new Error("score finished before it could be interrupted"));
      });
    });
    await new Promise((r) => child.on("exit", r));
    const kept = lines(samples).length;
    expect(kept).toBeGreaterThanOrEqual(1);
    expect(kept).toBeLessThan(6);
    expect(existsSync(join(out, "results.json"))).toBe(false);

    const again = await runR1lab(args, { timeoutMs: 240_000 });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain(`resumed: ${kept} samples were already scored`);
    expect(lines(samples)).toHaveLength(6);
    const res = JSON.parse(readFileSync(join(out, "results.json"), "utf8"));
    expect(res).toMatchObject({ task: "humaneval", n_problems: 1, samples_per_problem: 6, "pass@1": 1 });
    expect(res.config.samples_resumed).toBe(kept);
  });
});
