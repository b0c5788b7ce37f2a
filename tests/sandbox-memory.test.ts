// Memory containment of sandboxed runs, attacked the ways that walk around per-process rlimits:
// memfd_create + write (file pages are not address space) and many forked children that each stay
// under RLIMIT_AS. Where this machine gives r1lab a cgroup per run (sandbox-cgroup.ts) the run's
// total stays under its limit; where it does not, `containment()` (what doctor prints) states the
// gap. Either way sandboxed processes are the OOM killer's first choice, never the scorer.
import { describe, expect, it } from "vitest";
import { containment } from "../src/eval/sandbox-cgroup.ts";
import { RunSlots } from "../src/eval/sandbox-process.ts";
import { runPython, sandboxAvailable } from "../src/eval/sandbox.ts";

const avail = sandboxAvailable();
const contained = containment();
console.warn(`sandbox memory containment here: ${contained.line}`);
const MB = 2 ** 20;
const LIMITS = { timeoutMs: 20_000, memoryMb: 256 };
/** The run's cgroup limit: memory plus the /tmp tmpfs (sandbox.ts). */
const CAP_MB = 256 + 64;

const MEMFD = `
import os, sys
held = 0
fds = []
try:
    while held < 1536 * 2**20:
        fd = os.memfd_create("x")
        for _ in range(4):
            os.write(fd, b"\\1" * (4 * 2**20))   # RLIMIT_FSIZE (16 MB) caps one file, not many
        fds.append(fd)
        held += 16 * 2**20
        print("held", held // 2**20, flush=True)
except OSError as e:
    print("stopped", e, flush=True)
`;

const FORKS = `
import os, select, time
r, w = os.pipe()
kids = {}
for i in range(12):
    pid = os.fork()
    if pid == 0:
        os.close(r)
        b = b"\\1" * (64 * 2**20)       # written, so resident; each child well under RLIMIT_AS
        os.write(w, bytes([i]))
        time.sleep(60)
        os._exit(0)
    kids[pid] = i
os.close(w)
ready, dead = set(), set()
end = time.time() + 25
while len(ready | dead) < 12 and time.time() < end:
    if select.select([r], [], [], 0.1)[0]:
        ready.update(os.read(r, 64))
    for pid, i in kids.items():
        if i not in dead and os.waitpid(pid, os.WNOHANG) != (0, 0):
            dead.add(i)
print("holding", len(ready - dead), "settled", len(ready | dead), flush=True)
`;

describe.skipIf(!avail.ok)("sandbox memory containment", () => {
  it("sandboxed processes are first in line for the OOM killer (oom_score_adj 1000)", async () => {
    const r = await runPython("print(open('/proc/self/oom_score_adj').read().strip())", LIMITS);
    expect(r.stdout.trim()).toBe("1000");
  });

  it.runIf(contained.cgroup)("memfd_create + write: the run is stopped at its cgroup limit", async () => {
    const r = await runPython(MEMFD, LIMITS);
    const held = Math.max(0, ...[...r.stdout.matchAll(/held (\d+)/g)].map((m) => Number(m[1])));
    expect(held).toBeLessThanOrEqual(CAP_MB);
    expect(r.ok).toBe(false);
    expect(`${r.status} ${r.stderr}`).toMatch(/error .*memory limit \(cgroup\)|stopped/s);
  });

  it.runIf(contained.cgroup)(
    "many children each under RLIMIT_AS: together they stay under the cgroup limit",
    { timeout: 60_000 },
    async () => {
      const r = await runPython(FORKS, { ...LIMITS, timeoutMs: 40_000 });
      const m = /holding (\d+) settled (\d+)/.exec(r.stdout);
      // Either the parent was killed at the limit, or few enough children hold their memory to fit in it.
      if (m) {
        expect(Number(m[2])).toBe(12);
        expect(Number(m[1]) * 64).toBeLessThanOrEqual(CAP_MB);
      } else expect(r.stderr).toMatch(/memory limit \(cgroup\)/);
    },
  );

  it.runIf(!contained.cgroup)("without a cgroup, the gap is stated", () => {
    expect(contained.line).toMatch(/rlimits only .*each process is capped, not their sum/);
  });
});

describe("RunSlots", () => {
  it("caps runs by count and by memory, FIFO; a run over the capacity runs alone", async () => {
    const slots = new RunSlots(4, 1000 * MB);
    let inFlight = 0;
    let heaviest = 0;
    let used = 0;
    let most = 0;
    const job = (w: number) =>
      slots.run(async () => {
        inFlight++;
        used += w;
        heaviest = Math.max(heaviest, used);
        most = Math.max(most, inFlight);
        await new Promise((r) => setTimeout(r, 20));
        inFlight--;
        used -= w;
      }, w);
    await Promise.all([600, 300, 300, 100, 100, 2000, 100].map((w) => job(w * MB)));
    expect(most).toBeLessThanOrEqual(4);
    expect(heaviest).toBe(2000 * MB); // the oversized run, alone
    await Promise.all([600, 300, 300, 100, 100].map((w) => job(w * MB)));
    expect(heaviest).toBe(2000 * MB);
  });
});
