// The limited command line and the user id for running untrusted Python (sandbox.ts). The rlimits
// are set with util-linux's prlimit right before python3 is exec'd (niced), so they bind the
// program and every process it forks, not the sandbox tooling around it.
//
// RLIMIT_NPROC counts the tasks (processes and threads) of a *real user id* across the machine,
// and Linux never enforces it for uid 0. So as root every run gets a fresh, random, otherwise
// unused uid (Node's spawn switches to it before exec'ing bwrap): the limit then counts that run's
// processes only, and the program owns no host file. As a normal user the count includes the
// user's other tasks, so the limit is set to their current number plus the run's allowance.

import { accessSync, constants, readdirSync, readFileSync, realpathSync } from "node:fs";
import { join } from "node:path";

export interface SandboxLimits {
  /** RLIMIT_AS and RLIMIT_DATA, bytes. */
  memoryBytes: number;
  /** RLIMIT_CPU, seconds of CPU time per process (SIGXCPU at the soft limit, SIGKILL one later). */
  cpuSeconds: number;
  /** Processes and threads the program may add (RLIMIT_NPROC on top of what the uid already runs). */
  maxTasks: number;
  /** RLIMIT_FSIZE, bytes: the largest file the program may write. */
  fileBytes: number;
  /** RLIMIT_NOFILE. */
  openFiles: number;
}

export const DEFAULT_MAX_TASKS = 64;
export const DEFAULT_FILE_BYTES = 16 * 2 ** 20;
/** The sandbox's /tmp tmpfs, bytes: the only writable place, held in RAM. */
export const TMPFS_BYTES = 64 * 2 ** 20;

export function limitsFor(timeoutMs: number, memoryMb: number): SandboxLimits {
  if (!(timeoutMs > 0)) throw new Error(`sandbox: timeoutMs must be > 0, got ${timeoutMs}`);
  if (!(memoryMb >= 32))
    throw new Error(`sandbox: memoryMb must be >= 32 (python3 needs ~20 MB), got ${memoryMb}`);
  return {
    memoryBytes: Math.floor(memoryMb * 2 ** 20),
    cpuSeconds: Math.ceil(timeoutMs / 1000) + 1,
    maxTasks: DEFAULT_MAX_TASKS,
    fileBytes: DEFAULT_FILE_BYTES,
    openFiles: 1024,
  };
}

/**
 * prlimit's argument list (without the program after `--`). `nprocBase` is how many tasks the uid
 * runs already (0 for a fresh uid, up to 3 for bwrap's own processes are covered by the slack).
 */
export function prlimitArgs(l: SandboxLimits, nprocBase: number): string[] {
  const nproc = nprocBase + l.maxTasks + 4;
  return [
    `--as=${l.memoryBytes}`,
    `--data=${l.memoryBytes}`,
    `--cpu=${l.cpuSeconds}:${l.cpuSeconds + 1}`,
    `--nproc=${nproc}`,
    `--fsize=${l.fileBytes}`,
    `--nofile=${l.openFiles}`,
    "--core=0",
  ];
}

export const PYTHON_CANDIDATES = ["/usr/bin/python3"];
const PRLIMIT_CANDIDATES = ["/usr/bin/prlimit", "/bin/prlimit"];
/** Sandboxed programs run niced, so a fork bomb or a busy loop leaves the host (and the model) responsive. */
const NICE = 10;

export function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first executable among `candidates`, then `name` on PATH; resolved through symlinks. */
export function findTool(name: string, candidates: string[]): string | null {
  const dirs = (process.env.PATH ?? "").split(":").filter(Boolean);
  for (const p of [...candidates, ...dirs.map((d) => join(d, name))])
    if (executable(p)) return realpathSync(p);
  return null;
}

export interface PyTools {
  python: string;
  prlimit: string;
  nice: string | null;
}

/** The tools that run the program with its limits, or why they are missing. */
export function pythonTools(pythonPath: string | null): PyTools | string {
  const python = pythonPath ?? PYTHON_CANDIDATES.find(executable);
  if (!python) return `${PYTHON_CANDIDATES[0]} not found: apt-get install python3`;
  const prlimit = findTool("prlimit", PRLIMIT_CANDIDATES);
  if (!prlimit) return "prlimit (util-linux) not found: apt-get install util-linux";
  return { python: realpathSync(python), prlimit, nice: findTool("nice", ["/usr/bin/nice", "/bin/nice"]) };
}

/** prlimit LIMITS -- nice -n 10 python3 -I -B ARGS: the program's command line under its limits. */
export function pythonCommand(
  t: PyTools,
  limits: SandboxLimits,
  nprocBase: number,
  args: string[],
): string[] {
  const nice = t.nice ? [t.nice, "-n", String(NICE)] : [];
  return [t.prlimit, ...prlimitArgs(limits, nprocBase), "--", ...nice, t.python, "-I", "-B", ...args];
}

/** The uid (and gid) a run uses when we are root; undefined when not root (runs keep our uid). */
export function freshSandboxUid(): number | undefined {
  if (process.getuid?.() !== 0) return undefined;
  // A random id far above distribution and container ranges (< 2^31: Node's spawn takes an int32).
  return 1_900_000_000 + Math.floor(Math.random() * 100_000_000);
}

/** Real uids, thread counts and zombie state of the live tasks, from /proc/<pid>/status. */
function procTasks(): { pid: number; uid: number; threads: number; zombie: boolean }[] {
  const out: { pid: number; uid: number; threads: number; zombie: boolean }[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    let status: string;
    try {
      status = readFileSync(`/proc/${name}/status`, "utf8");
    } catch {
      continue; // exited meanwhile
    }
    const uid = /^Uid:\s+(\d+)/m.exec(status);
    const threads = /^Threads:\s+(\d+)/m.exec(status);
    const zombie = /^State:\s+Z/m.test(status);
    if (uid)
      out.push({ pid: Number(name), uid: Number(uid[1]), threads: threads ? Number(threads[1]) : 1, zombie });
  }
  return out;
}

/** How many tasks (threads included) run under real uid `uid` now: RLIMIT_NPROC's count. */
export function taskCount(uid: number): number {
  return procTasks()
    .filter((t) => t.uid === uid)
    .reduce((s, t) => s + t.threads, 0);
}

/**
 * SIGKILL every process whose real uid is `uid` (only ever a fresh sandbox uid), sweeping again
 * while new ones appear (a fork bomb forks between the scan and the kill); returns how many.
 */
export function killUid(uid: number): number {
  if (uid === 0 || uid === process.getuid?.())
    throw new Error(`sandbox: refusing to kill all processes of uid ${uid}`);
  let n = 0;
  for (let sweep = 0; sweep < 20; sweep++) {
    const found = procTasks().filter((t) => t.uid === uid && !t.zombie);
    if (found.length === 0) break;
    for (const t of found) {
      try {
        process.kill(t.pid, "SIGKILL");
        n++;
      } catch {
        // already gone
      }
    }
  }
  return n;
}
