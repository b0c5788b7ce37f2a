// The sandbox that runs untrusted model output: generated Python programs for the code benchmarks
// (HumanEval, MBPP; code-program.ts builds them). Exit status 0 means passed.
//
// Isolation is bubblewrap (bwrap): every namespace unshared (no network: the sandbox's own
// loopback only; its own pid tree, so killing bwrap kills everything the program started), no
// further user namespaces, only the system directories bound read-only (/usr and the /bin, /lib*
// links; not /etc, /home, /root or the repository), a fresh size-capped tmpfs /tmp as the only
// writable place (the root and /dev are remounted read-only), an empty environment, and a new
// session (no terminal injection). Inside, prlimit sets the rlimits (sandbox-rlimit.ts) before exec'ing
// Debian's /usr/bin/python3 in isolated mode; as root the whole thing runs under a fresh uid. Where
// the machine allows it, each run has its own memory (and pids) cgroup that counts everything it
// holds (sandbox-cgroup.ts); runs at once are capped by CPU count and by memory.
//
// Without a working bwrap, runPython refuses with an explanation, unless the caller passed
// unsafeNoSandbox: then the program runs with the same rlimits and timeout only, after a loud
// warning. Nothing falls back silently.

import { spawnSync } from "node:child_process";
import { chownSync, lstatSync, mkdtempSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, constants as osConstants, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { RunCgroup, wrapperCommand } from "./sandbox-cgroup.ts";
import { RunSlots, runCapped } from "./sandbox-process.ts";
import {
  executable,
  findTool,
  freshSandboxUid,
  killUid,
  limitsFor,
  PYTHON_CANDIDATES,
  type PyTools,
  pythonCommand,
  pythonTools,
  TMPFS_BYTES,
  taskCount,
} from "./sandbox-rlimit.ts";

export interface RunPythonOptions {
  /** Wall-clock limit; the whole process tree is SIGKILLed when it passes. */
  timeoutMs: number;
  /** Address-space limit (RLIMIT_AS and RLIMIT_DATA), MB. */
  memoryMb: number;
  /** Allow running WITHOUT isolation when bwrap cannot work here (rlimits + timeout only). */
  unsafeNoSandbox?: boolean;
  /** Written to the program's fd 4 (then closed); its fd 5 comes back as `report` (code-tests.ts). */
  job?: string;
}

export interface RunPythonResult {
  /** status === "passed". */
  ok: boolean;
  /**
   * passed: exit 0. failed: a non-zero exit (assert, exception, syntax error, MemoryError).
   * timeout: wall clock or CPU limit. error: killed by a signal (segfault, memory kill), or the
   * sandbox itself could not start the program.
   */
  status: "passed" | "failed" | "timeout" | "error";
  stdout: string;
  stderr: string;
  durationMs: number;
  /** What the program wrote to fd 5, when run with `job`. */
  report?: string;
}

/** Bytes of stdout and of stderr kept per run. */
export const MAX_OUTPUT_BYTES = 256 * 1024;
const SIGXCPU = 24;
const SANDBOX_PROGRAM = "/tmp/main.py";
/**
 * Programs running at once: one per CPU, and their memory limits (plus /tmp) together within half
 * of this machine's memory; more calls wait their turn, and a program's timeout starts when it
 * starts, so a big batch of runPython calls cannot time itself out by contention.
 */
const slots = new RunSlots(availableParallelism(), totalmem() / 2);

/** bwrap's arguments up to the sandboxed command. `withProgram`: copy fd 3 to /tmp/main.py. */
function bwrapArgs(withProgram: boolean): string[] {
  const a = ["--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session"];
  a.push("--ro-bind", "/usr", "/usr");
  for (const d of ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"]) {
    let st: ReturnType<typeof lstatSync>;
    try {
      st = lstatSync(d);
    } catch {
      continue;
    }
    if (st.isSymbolicLink()) a.push("--symlink", readlinkSync(d), d);
    else if (st.isDirectory()) a.push("--ro-bind", d, d);
  }
  a.push("--proc", "/proc", "--dev", "/dev", "--size", String(TMPFS_BYTES), "--tmpfs", "/tmp");
  if (withProgram) a.push("--file", "3", SANDBOX_PROGRAM);
  a.push("--remount-ro", "/", "--remount-ro", "/dev", "--clearenv", "--chdir", "/tmp");
  for (const [k, v] of Object.entries(minimalEnv("/tmp"))) a.push("--setenv", k, v);
  return a;
}

function minimalEnv(home: string): Record<string, string> {
  return { PATH: "/usr/bin:/bin", HOME: home, TMPDIR: home, LANG: "C.UTF-8", PYTHONHASHSEED: "0" };
}

const INSTALL_HINT =
  "install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install bubblewrap), " +
  "or pass --unsafe-no-sandbox to run generated code WITHOUT isolation (trusted completions only)";
const USERNS_HINT =
  "bwrap needs unprivileged user namespaces: sysctl -w user.max_user_namespaces=15000 (and " +
  "kernel.unprivileged_userns_clone=1 on kernels that have it; on Ubuntu 24.04+ " +
  "kernel.apparmor_restrict_unprivileged_userns=0); in Docker, run with --security-opt seccomp=unconfined " +
  "--security-opt apparmor=unconfined, or pass --unsafe-no-sandbox (trusted completions only)";

interface Tools extends PyTools {
  bwrap: string;
}

const checked = new Map<string, { ok: boolean; reason: string; tools?: Tools }>();

/** The bwrap binary: $R1LAB_BWRAP when set (also how tests simulate a missing one), else PATH. */
function bwrapPath(): string | null {
  const forced = process.env.R1LAB_BWRAP;
  if (forced) return executable(forced) ? forced : null;
  return findTool("bwrap", ["/usr/bin/bwrap"]);
}

function check(): { ok: boolean; reason: string; tools?: Tools } {
  const bwrap = bwrapPath();
  const key = bwrap ?? `missing:${process.env.R1LAB_BWRAP ?? ""}`;
  const cached = checked.get(key);
  if (cached) return cached;
  const result = checkUncached(bwrap);
  checked.set(key, result);
  return result;
}

function checkUncached(bwrap: string | null): { ok: boolean; reason: string; tools?: Tools } {
  if (!bwrap) return { ok: false, reason: `bubblewrap (bwrap) not found: ${INSTALL_HINT}` };
  const py = pythonTools(null);
  if (typeof py === "string") return { ok: false, reason: py };
  const tools = { bwrap, ...py };
  const uid = freshSandboxUid();
  const base = uid === undefined ? taskCount(process.getuid!()) : 0;
  const check = ["-c", "print('sandbox-ok')"];
  const args = [...bwrapArgs(false), ...pythonCommand(py, limitsFor(10_000, 256), base, check)];
  const r = spawnSync(bwrap, args, {
    encoding: "utf8",
    timeout: 20_000,
    env: {},
    ...(uid !== undefined ? { uid, gid: uid } : {}),
  });
  if (r.status === 0 && r.stdout.trim() === "sandbox-ok")
    return { ok: true, reason: `bwrap at ${bwrap}`, tools };
  const why = (r.error?.message ?? r.stderr.trim().split("\n")[0]) || `exit status ${r.status}`;
  return { ok: false, reason: `${bwrap} cannot create its sandbox here (${why}); ${USERNS_HINT}` };
}

/** Whether the bwrap sandbox works on this machine (checked once per bwrap binary, then cached). */
export function sandboxAvailable(): { ok: boolean; reason: string } {
  const { ok, reason } = check();
  return { ok, reason };
}

type Raw = Awaited<ReturnType<typeof runCapped>>;

/** The signal that ended the program, 0 if none. bwrap reports the program's death by signal N as 128+N. */
function deathSignal(r: Raw, viaBwrap: boolean): number {
  if (r.signal) return osConstants.signals[r.signal] ?? -1;
  if (viaBwrap && r.code !== null && r.code > 128 && r.code <= 128 + 64) return r.code - 128;
  return 0;
}

function toResult(r: Raw, viaBwrap: boolean, oom = false): RunPythonResult {
  const notes: string[] = [];
  let status: RunPythonResult["status"];
  const signal = deathSignal(r, viaBwrap);
  if (r.spawnError) {
    status = "error";
    notes.push(`sandbox: could not start the program: ${r.spawnError.message}`);
  } else if (r.timedOut) {
    status = "timeout";
    notes.push("sandbox: killed after the wall-clock limit");
  } else if (signal === SIGXCPU) {
    status = "timeout";
    notes.push("sandbox: killed after the CPU-time limit");
  } else if (signal !== 0) {
    status = "error";
    notes.push(
      `sandbox: the program was killed by signal ${signal}${oom ? " at the run's memory limit (cgroup)" : ""}`,
    );
  } else if (r.code === 0) {
    status = "passed";
  } else {
    // bwrap, prlimit and nice exit 1 or 125-127 with their own message when the tooling failed.
    const tooling =
      [1, 125, 126, 127].includes(r.code ?? -1) && /^(bwrap|prlimit|nice|setpriv|sandbox): /.test(r.stderr);
    status = tooling ? "error" : "failed";
  }
  const stderr = [r.stderr, ...notes].filter(Boolean).join("\n");
  const out: RunPythonResult = {
    ok: status === "passed",
    status,
    stdout: r.stdout,
    stderr,
    durationMs: r.durationMs,
  };
  if (r.report !== undefined) out.report = r.report;
  return out;
}

/**
 * Run a Python program in the sandbox. Throws when bwrap cannot work here, unless
 * `unsafeNoSandbox`, which then runs it unisolated (see runPythonUnsandboxed).
 */
export async function runPython(program: string, opts: RunPythonOptions): Promise<RunPythonResult> {
  const c = check();
  if (!c.ok || !c.tools) {
    if (opts.unsafeNoSandbox) return runPythonUnsandboxed(program, opts);
    throw new Error(`runPython: refusing to run generated code without a sandbox: ${c.reason}`);
  }
  const limits = limitsFor(opts.timeoutMs, opts.memoryMb);
  const tools = c.tools;
  const r = await slots.run(async () => {
    const uid = freshSandboxUid();
    const base = uid === undefined ? taskCount(process.getuid!()) : 0;
    const cg = RunCgroup.create(limits.memoryBytes + TMPFS_BYTES, limits.maxTasks + 8);
    const bwrap = [tools.bwrap, ...bwrapArgs(true), ...pythonCommand(tools, limits, base, [SANDBOX_PROGRAM])];
    const [command, ...args] = wrapperCommand(cg, uid, bwrap);
    const raw = await runCapped(command, args, {
      env: {},
      timeoutMs: opts.timeoutMs,
      maxOutputBytes: MAX_OUTPUT_BYTES,
      fd3: program,
      ...(opts.job !== undefined ? { job: opts.job } : {}),
      cleanup: () => {
        cg?.kill();
        if (uid !== undefined) killUid(uid);
      },
    });
    const oom = cg?.oomKilled() ?? false;
    cg?.remove();
    return { raw, oom };
  }, limits.memoryBytes + TMPFS_BYTES);
  return toResult(r.raw, true, r.oom);
}

let warned = false;

/**
 * Run a Python program WITHOUT isolation: the rlimits, a fresh uid when root, a private temp
 * directory as cwd and HOME, and the timeout, nothing more. It can read and write what the user
 * can, and reach the network. Prints a one-time warning on stderr.
 */
export async function runPythonUnsandboxed(
  program: string,
  opts: RunPythonOptions,
): Promise<RunPythonResult> {
  const py = pythonTools(findTool("python3", PYTHON_CANDIDATES));
  if (typeof py === "string") throw new Error(`runPython (unsafe): ${py}`);
  if (!warned) {
    warned = true;
    process.stderr.write(
      "\n!!! WARNING: running model-generated code WITHOUT a sandbox (--unsafe-no-sandbox). It can read and\n" +
        "!!! write your files and reach the network; only rlimits and a timeout apply. Use trusted completions only.\n\n",
    );
  }
  const limits = limitsFor(opts.timeoutMs, opts.memoryMb);
  return slots.run(async () => {
    const uid = freshSandboxUid();
    const base = uid === undefined ? taskCount(process.getuid!()) : 0;
    const cg = RunCgroup.create(limits.memoryBytes, limits.maxTasks + 4);
    const dir = mkdtempSync(join(tmpdir(), "r1lab-unsafe-"));
    try {
      writeFileSync(join(dir, "main.py"), program);
      if (uid !== undefined) {
        chownSync(dir, uid, uid);
        chownSync(join(dir, "main.py"), uid, uid);
      }
      const [command, ...args] = wrapperCommand(cg, uid, pythonCommand(py, limits, base, ["main.py"]));
      const r = await runCapped(command, args, {
        env: minimalEnv(dir),
        cwd: dir,
        timeoutMs: opts.timeoutMs,
        maxOutputBytes: MAX_OUTPUT_BYTES,
        ...(opts.job !== undefined ? { job: opts.job } : {}),
        cleanup: () => {
          cg?.kill();
          if (uid !== undefined) killUid(uid);
        },
      });
      return toResult(r, false, cg?.oomKilled() ?? false);
    } finally {
      cg?.remove();
      rmSync(dir, { recursive: true, force: true });
    }
  }, limits.memoryBytes);
}
