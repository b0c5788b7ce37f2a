// The sandbox's outcomes: passed / failed / timeout / error for ordinary programs, and that an
// infinite loop, a fork bomb and a memory bomb are contained and cleaned up. Skipped (with the
// reason printed) only where bwrap cannot work; sandbox-unsafe.test.ts then checks the refusal.

import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { runPython, sandboxAvailable } from "../src/eval/sandbox.ts";
import { RunSlots } from "../src/eval/sandbox-process.ts";
import { DEFAULT_MAX_TASKS, taskCount } from "../src/eval/sandbox-rlimit.ts";

const avail = sandboxAvailable();
if (!avail.ok) console.warn(`sandbox tests skipped: ${avail.reason}`);

/** pids whose command line contains `marker`. */
function pidsWith(marker: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, "utf8").includes(marker)) out.push(Number(name));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

async function waitGone(marker: string, ms: number): Promise<number[]> {
  const end = Date.now() + ms;
  let left = pidsWith(marker);
  while (left.length > 0 && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 50));
    left = pidsWith(marker);
  }
  return left;
}

const LIMITS = { timeoutMs: 5000, memoryMb: 256 };

describe.skipIf(!avail.ok)("runPython in bwrap", () => {
  it("passes a program that exits 0 and returns its stdout", async () => {
    const r = await runPython(
      "def add(a, b):\n    return a + b\n\nassert add(2, 3) == 5\nprint('sum', add(2, 3))\n",
      LIMITS,
    );
    expect(r).toMatchObject({ ok: true, status: "passed", stdout: "sum 5\n" });
    expect(r.durationMs).toBeGreaterThan(0);
  });

  it("fails a program whose assert fails, with the traceback", async () => {
    const r = await runPython("x = 3\nassert x == 4, 'x is not 4'\n", LIMITS);
    expect(r.ok).toBe(false);
    expect(r.status).toBe("failed");
    expect(r.stderr).toContain("AssertionError: x is not 4");
    expect(r.stderr).toContain('File "/tmp/main.py", line 2');
  });

  it("fails a program with a syntax error", async () => {
    const r = await runPython("def f(:\n    return 1\n", LIMITS);
    expect(r.status).toBe("failed");
    expect(r.stderr).toContain("SyntaxError");
  });

  it("passes through stdout and a non-zero exit code as failed", async () => {
    const r = await runPython("import sys\nprint('héllo ✓')\nsys.exit(3)\n", LIMITS);
    expect(r.status).toBe("failed");
    expect(r.stdout).toBe("héllo ✓\n");
  });

  it("reports a program killed by a signal as error", async () => {
    const r = await runPython("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n", LIMITS);
    expect(r.status).toBe("error");
    expect(r.stderr).toContain("signal 11");
  });

  it("times out an infinite loop and leaves no process behind", async () => {
    const marker = `r1lab-loop-${process.pid}-${Date.now()}`;
    // A child that outlives nothing but would linger if only the direct child were killed.
    const program = [
      "import os",
      "if os.fork() == 0:",
      `    os.execv('/usr/bin/sleep', ['sleep', '1000', '${marker}'])`,
      "while True:",
      "    pass",
    ].join("\n");
    const t0 = Date.now();
    const r = await runPython(program, { timeoutMs: 1500, memoryMb: 256 });
    expect(r.status).toBe("timeout");
    expect(r.ok).toBe(false);
    expect(r.durationMs).toBeGreaterThanOrEqual(1400);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(await waitGone(marker, 2000)).toEqual([]);
  });

  it("contains a fork bomb: bounded, the host can still fork, nothing left afterwards", async () => {
    const marker = `r1lab-bomb-${process.pid}-${Date.now()}`;
    const program = [
      "import os, sys",
      "if len(sys.argv) < 2:",
      `    os.execv(sys.executable, [sys.executable, '-I', '/tmp/main.py', '${marker}'])`,
      "while True:",
      "    try:",
      "        os.fork()",
      "    except OSError:",
      "        pass",
    ].join("\n");
    // As root the bomb runs under a fresh uid: RLIMIT_NPROC allows it DEFAULT_MAX_TASKS (+4). As another
    // user it shares this uid, and the limit set is this uid's task count at the start + the allowance.
    // Inside bwrap's new user namespace the kernel counts the bomb's tasks there from zero (seen in the
    // container as non-root: ~50 + 68), so the bomb may reach the whole limit; it stays bounded by it.
    const uid = process.getuid?.() ?? 0;
    const base = uid === 0 ? 0 : taskCount(uid);
    const t0 = Date.now();
    const run = runPython(program, { timeoutMs: 2000, memoryMb: 256 });
    await new Promise((r) => setTimeout(r, 800));
    // Mid-bomb: the sandbox holds at most its process allowance, so the host forks fine.
    const during = pidsWith(marker).length;
    const h0 = Date.now();
    const host = spawnSync("/bin/true");
    const hostMs = Date.now() - h0;
    const r = await run;
    expect(host.status).toBe(0);
    expect(hostMs).toBeLessThan(2000);
    expect(during).toBeGreaterThan(1);
    expect(during).toBeLessThanOrEqual(base + DEFAULT_MAX_TASKS + 16);
    expect(["timeout", "failed", "error"]).toContain(r.status);
    expect(Date.now() - t0).toBeLessThan(2000 + 3000);
    expect(await waitGone(marker, 2000)).toEqual([]);
  });

  it("stops a memory bomb (MemoryError or a kill), quickly", async () => {
    const big = await runPython("x = bytearray(4 * 1024 ** 3)\n", LIMITS);
    expect(["failed", "error"]).toContain(big.status);
    expect(big.stderr).toContain("MemoryError");
    const growing = await runPython(
      "chunks = []\nwhile True:\n    chunks.append(bytearray(16 * 1024 ** 2))\n",
      LIMITS,
    );
    expect(["failed", "error"]).toContain(growing.status);
    expect(growing.durationMs).toBeLessThan(LIMITS.timeoutMs);
  });

  it("runs a concurrent batch, at most one program per CPU at a time", async () => {
    const busy =
      "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.1:\n    pass\nprint('done')\n";
    const rs = await Promise.all(
      Array.from({ length: 6 }, () => runPython(busy, { timeoutMs: 8000, memoryMb: 256 })),
    );
    expect(rs.map((r) => r.stdout)).toEqual(Array(6).fill("done\n"));
    const slots = new RunSlots(2);
    let active = 0;
    let peak = 0;
    const task = async () => {
      peak = Math.max(peak, ++active);
      await new Promise((r) => setTimeout(r, 5));
      active--;
    };
    await Promise.all(Array.from({ length: 9 }, () => slots.run(task)));
    expect(peak).toBe(2);
  });

  it("caps a flood of output", async () => {
    const r = await runPython(
      "import sys\nfor _ in range(2000):\n    sys.stdout.write('y' * 1000)\n",
      LIMITS,
    );
    expect(r.status).toBe("passed");
    expect(r.stdout.length).toBeLessThan(300 * 1024);
    expect(r.stdout).toMatch(/output truncated: \d+ more bytes/);
  });

  it("measures the per-run overhead against plain python3", async () => {
    const n = 7;
    const sandboxed: number[] = [];
    const plain: number[] = [];
    // Interleaved, so a change in machine load hits both series alike.
    for (let i = 0; i < n; i++) {
      sandboxed.push((await runPython("pass\n", LIMITS)).durationMs);
      const t = performance.now();
      spawnSync("/usr/bin/python3", ["-I", "-B", "-c", "pass"]);
      plain.push(performance.now() - t);
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    console.log(
      `sandbox overhead: median ${median(sandboxed).toFixed(0)} ms per sandboxed run, ` +
        `${median(plain).toFixed(0)} ms for plain python3 (${(median(sandboxed) - median(plain)).toFixed(0)} ms added)`,
    );
    expect(median(sandboxed)).toBeLessThan(2000);
  });
});
