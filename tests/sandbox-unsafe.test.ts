// Without a working bwrap: runPython refuses (naming how to fix it), and with unsafeNoSandbox it
// runs the program with rlimits and a timeout only, after one loud warning. A missing or broken
// bwrap is simulated with $R1LAB_BWRAP, so these run on every machine.

import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { runPython, sandboxAvailable } from "../src/eval/sandbox.ts";

const realAvail = sandboxAvailable();
const LIMITS = { timeoutMs: 5000, memoryMb: 256 };

function pidsWith(marker: string): number[] {
  return readdirSync("/proc")
    .filter((n) => /^\d+$/.test(n))
    .filter((n) => {
      try {
        return readFileSync(`/proc/${n}/cmdline`, "utf8").includes(marker);
      } catch {
        return false;
      }
    })
    .map(Number);
}

describe("without a working bwrap", () => {
  let dir = "";
  const saved = process.env.R1LAB_BWRAP;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "r1lab-fake-bwrap-"));
    chmodSync(dir, 0o755); // as root the check runs under a fresh uid, which must reach the script
    const fake = join(dir, "bwrap");
    writeFileSync(fake, "#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n");
    chmodSync(fake, 0o755);
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.R1LAB_BWRAP;
    else process.env.R1LAB_BWRAP = saved;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("reports a missing bwrap and refuses to run code", async () => {
    process.env.R1LAB_BWRAP = join(dir, "no-such-bwrap");
    const a = sandboxAvailable();
    expect(a.ok).toBe(false);
    expect(a.reason).toContain("apt-get install bubblewrap");
    await expect(runPython("print(1)\n", LIMITS)).rejects.toThrow(
      /refusing to run generated code without a sandbox/,
    );
  });

  it("reports a bwrap that cannot create namespaces, with how to enable them", async () => {
    process.env.R1LAB_BWRAP = join(dir, "bwrap");
    const a = sandboxAvailable();
    expect(a.ok).toBe(false);
    expect(a.reason).toContain("No permissions to create new namespace");
    expect(a.reason).toMatch(/user namespaces/);
    await expect(runPython("print(1)\n", LIMITS)).rejects.toThrow(/unprivileged user namespaces/);
  });

  it.runIf(!realAvail.ok)("this machine's own bwrap is refused too", async () => {
    await expect(runPython("print(1)\n", LIMITS)).rejects.toThrow(realAvail.reason);
  });

  it("with unsafeNoSandbox: runs the program after one warning, in a private temp dir", async () => {
    process.env.R1LAB_BWRAP = join(dir, "no-such-bwrap");
    const writes: string[] = [];
    const spy = vi.spyOn(process.stderr, "write").mockImplementation((s: any) => {
      writes.push(String(s));
      return true;
    });
    try {
      const unsafe = { ...LIMITS, unsafeNoSandbox: true };
      const a = await runPython("import os\nprint(os.getcwd())\nassert 2 + 2 == 4\n", unsafe);
      const b = await runPython("assert 2 + 2 == 5\n", unsafe);
      expect(a).toMatchObject({ ok: true, status: "passed" });
      expect(b).toMatchObject({ ok: false, status: "failed" });
      expect(b.stderr).toContain("AssertionError");
      const cwd = a.stdout.trim();
      expect(cwd).toMatch(/r1lab-unsafe-/);
      expect(existsSync(cwd)).toBe(false); // removed afterwards
    } finally {
      spy.mockRestore();
    }
    const warnings = writes.filter((w) => w.includes("WITHOUT a sandbox"));
    expect(warnings).toHaveLength(1);
  });

  it("with unsafeNoSandbox: the timeout kills the program and its children", async () => {
    process.env.R1LAB_BWRAP = join(dir, "no-such-bwrap");
    const marker = `r1lab-unsafe-loop-${process.pid}-${Date.now()}`;
    const program = `import os\nif os.fork() == 0:\n    os.execv('/bin/sleep', ['sleep', '1000', '${marker}'])\nwhile True:\n    pass\n`;
    const r = await runPython(program, { timeoutMs: 1200, memoryMb: 256, unsafeNoSandbox: true });
    expect(r.status).toBe("timeout");
    await new Promise((res) => setTimeout(res, 300));
    expect(pidsWith(marker)).toEqual([]);
  });

  it("with unsafeNoSandbox: rlimits still stop a fork bomb and a memory bomb", async () => {
    process.env.R1LAB_BWRAP = join(dir, "no-such-bwrap");
    const unsafe = { timeoutMs: 3000, memoryMb: 256, unsafeNoSandbox: true };
    const bomb = [
      "import os, time",
      "n = 0",
      "for _ in range(500):",
      "    try:",
      "        if os.fork() == 0:",
      "            time.sleep(2)",
      "            os._exit(0)",
      "        n += 1",
      "    except OSError:",
      "        break",
      "print('forked', n)",
    ].join("\n");
    const r = await runPython(bomb, unsafe);
    const forked = Number(/forked (\d+)/.exec(r.stdout)?.[1]);
    expect(forked).toBeGreaterThan(0);
    expect(forked).toBeLessThan(100);
    const mem = await runPython("x = bytearray(4 * 1024 ** 3)\n", unsafe);
    expect(mem.stderr).toContain("MemoryError");
    expect(["failed", "error"]).toContain(mem.status);
  });
});
