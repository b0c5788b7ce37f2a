// Running one untrusted command for the sandbox (sandbox.ts): spawned detached (its own process
// group), optionally as another uid, with a wall-clock timeout that SIGKILLs the whole group, and
// stdout/stderr kept up to a cap (the rest is drained and counted, so a chatty program cannot
// block on a full pipe or fill our memory).

import { spawn } from "node:child_process";
import type { Readable, Writable } from "node:stream";

export interface CappedRunOptions {
  env: Record<string, string>;
  cwd?: string;
  /** Run as this uid and gid (needs root). */
  uid?: number;
  timeoutMs: number;
  /** Bytes kept per stream. */
  maxOutputBytes: number;
  /** Written to the child's fd 3, then closed (bwrap --file 3 copies it into the sandbox). */
  fd3?: string;
  /**
   * Written to the child's fd 4, then closed, and the child's fd 5 read back (up to 4 KiB) as
   * `report`: the private channel of the code-test harness (code-tests.ts).
   */
  job?: string;
  /** Called after the group kill on timeout, and once the child has exited (sweep leftovers). */
  cleanup?: () => void;
}

export interface CappedRun {
  /** Exit code, or null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
  durationMs: number;
  /** The spawn itself failed (ENOENT, EPERM, ...). */
  spawnError?: Error;
  /** What the child wrote to fd 5 (with `job`). */
  report?: string;
}

/** How long after the child's exit we wait for its pipes to close (a leftover may hold them). */
const CLOSE_GRACE_MS = 1000;

class CappedBuffer {
  private chunks: Buffer[] = [];
  private kept = 0;
  dropped = 0;
  constructor(private readonly cap: number) {}
  push(b: Buffer): void {
    const room = this.cap - this.kept;
    if (room > 0) {
      const part = b.length <= room ? b : b.subarray(0, room);
      this.chunks.push(part);
      this.kept += part.length;
    }
    this.dropped += Math.max(0, b.length - Math.max(0, room));
  }
  text(): string {
    const s = Buffer.concat(this.chunks).toString("utf8");
    return this.dropped > 0 ? `${s}\n[... output truncated: ${this.dropped} more bytes]` : s;
  }
}

/**
 * At most `limit` runs at once, and their weights (bytes of memory each may hold) within
 * `capacity`; the rest wait in FIFO order. A run heavier than the capacity still runs, alone.
 */
export class RunSlots {
  private active = 0;
  private used = 0;
  private waiting: { weight: number; go: () => void }[] = [];
  constructor(
    readonly limit: number,
    readonly capacity = Number.POSITIVE_INFINITY,
  ) {}
  private fits(weight: number): boolean {
    return this.active === 0 || (this.active < this.limit && this.used + weight <= this.capacity);
  }
  async run<T>(task: () => Promise<T>, weight = 0): Promise<T> {
    if (this.waiting.length === 0 && this.fits(weight)) {
      this.active++;
      this.used += weight;
    } else await new Promise<void>((go) => this.waiting.push({ weight, go }));
    try {
      return await task();
    } finally {
      this.active--;
      this.used -= weight;
      while (this.waiting.length > 0 && this.fits(this.waiting[0].weight)) {
        const next = this.waiting.shift()!;
        this.active++;
        this.used += next.weight;
        next.go();
      }
    }
  }
}

/** Kill a detached child's process group; ESRCH (already gone) is fine. */
export function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // no such group any more
  }
}

export function runCapped(command: string, args: string[], o: CappedRunOptions): Promise<CappedRun> {
  const t0 = performance.now();
  const out = new CappedBuffer(o.maxOutputBytes);
  const err = new CappedBuffer(o.maxOutputBytes);
  const report = new CappedBuffer(4096);
  return new Promise((resolve) => {
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(command, args, {
        detached: true,
        env: o.env,
        cwd: o.cwd,
        ...(o.uid !== undefined ? { uid: o.uid, gid: o.uid } : {}),
        stdio: [
          "ignore",
          "pipe",
          "pipe",
          o.fd3 !== undefined ? "pipe" : "ignore",
          ...(o.job !== undefined ? (["pipe", "pipe"] as const) : []),
        ],
      });
    } catch (e) {
      const spawnError = e instanceof Error ? e : new Error(String(e));
      resolve({
        code: null,
        signal: null,
        timedOut: false,
        stdout: "",
        stderr: "",
        durationMs: 0,
        spawnError,
      });
      return;
    }
    let timedOut = false;
    let exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
    let done = false;
    let grace: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid);
      o.cleanup?.();
    }, o.timeoutMs);
    const finish = (spawnError?: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(grace);
      killGroup(child.pid); // leftovers of a program that exited (unsandboxed runs)
      o.cleanup?.();
      for (const s of child.stdio as ({ destroy(): void } | null | undefined)[]) s?.destroy();
      resolve({
        code: exited?.code ?? null,
        signal: exited?.signal ?? null,
        timedOut,
        stdout: out.text(),
        stderr: err.text(),
        durationMs: performance.now() - t0,
        ...(spawnError ? { spawnError } : {}),
        ...(o.job !== undefined ? { report: report.text() } : {}),
      });
    };
    child.stdout!.on("data", (b: Buffer) => out.push(b));
    child.stderr!.on("data", (b: Buffer) => err.push(b));
    child.on("error", (e) => finish(e));
    child.on("exit", (code, signal) => {
      exited = { code, signal };
      grace = setTimeout(() => finish(), CLOSE_GRACE_MS);
    });
    child.on("close", () => finish());
    const feed = (fd: number, text: string) => {
      const w = (child.stdio as unknown[])[fd] as Writable;
      w.on("error", () => {}); // EPIPE when the child died before reading: its exit tells why
      w.end(text);
    };
    if (o.fd3 !== undefined) feed(3, o.fd3);
    if (o.job !== undefined) {
      feed(4, o.job);
      const r = (child.stdio as unknown[])[5] as Readable;
      r.on("error", () => {});
      r.on("data", (b: Buffer) => report.push(b));
    }
  });
}
