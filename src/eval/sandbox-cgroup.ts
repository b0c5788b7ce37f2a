// One memory cgroup per sandboxed run, where this machine lets r1lab make one: the kernel then counts
// everything the run holds (every process, memfd and tmpfs page, page tables) against memory.max,
// caps its tasks with pids.max, and an out-of-memory kill stays inside the run. cgroup v2 where our
// cgroup delegates the memory and pids controllers, else a writable cgroup v1 memory (and pids)
// hierarchy. Without either, the rlimits of sandbox-rlimit.ts bound each process, not their sum;
// `r1lab doctor` says which applies (containment()).
//
// The run joins its cgroup itself before anything untrusted starts: a /bin/sh wrapper writes its
// own pid into cgroup.procs, raises its oom_score_adj to 1000 (so that, cgroup or not, the kernel's
// OOM killer picks a sandboxed process before the scorer), drops to the run's uid with setpriv when
// we are root, and execs bwrap (wrapperCommand).

import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { findTool } from "./sandbox-rlimit.ts";

interface Hierarchy {
  version: 1 | 2;
  /** Where run cgroups are made (our own cgroup's folder). */
  memory: string;
  /** v1: the pids hierarchy's folder, when there is a writable one. */
  pids: string | null;
}

let detected: { h: Hierarchy | null; reason: string } | undefined;

function mountsOf(type: string): { dir: string; opts: string[] }[] {
  return readFileSync("/proc/mounts", "utf8")
    .split("\n")
    .map((l) => l.split(" "))
    .filter((f) => f[2] === type)
    .map((f) => ({ dir: f[1], opts: (f[3] ?? "").split(",") }));
}

/** Make and remove a probe child under `dir`; true when `file` shows up in it (the controller works). */
function probe(dir: string, file: string): boolean {
  const p = join(dir, `r1lab-probe-${process.pid}`);
  try {
    mkdirSync(p);
  } catch {
    return false;
  }
  try {
    return existsSync(join(p, file));
  } finally {
    try {
      rmdirSync(p);
    } catch {
      // left for the next probe to fail on mkdir; harmless
    }
  }
}

function detect(): { h: Hierarchy | null; reason: string } {
  if (process.env.R1LAB_NO_CGROUP) return { h: null, reason: "turned off by R1LAB_NO_CGROUP" };
  let self: string[];
  try {
    self = readFileSync("/proc/self/cgroup", "utf8").trim().split("\n");
  } catch {
    return { h: null, reason: "no /proc/self/cgroup" };
  }
  const v2path = self.find((l) => l.startsWith("0::"))?.slice(3);
  const v2 = mountsOf("cgroup2")[0];
  if (v2 && v2path !== undefined) {
    const dir = join(v2.dir, v2path);
    let controllers: string[] = [];
    try {
      controllers = readFileSync(join(dir, "cgroup.controllers"), "utf8").trim().split(" ");
    } catch {
      // not visible from here
    }
    if (controllers.includes("memory") && controllers.includes("pids")) {
      if (!probe(dir, "memory.max")) {
        try {
          writeFileSync(join(dir, "cgroup.subtree_control"), "+memory +pids");
        } catch {
          // processes in our own cgroup (the no-internal-processes rule), or no write access
        }
      }
      if (probe(dir, "memory.max") && probe(dir, "pids.max"))
        return { h: { version: 2, memory: dir, pids: null }, reason: `cgroup v2 at ${dir}` };
    }
  }
  const line = (ctl: string) => self.find((l) => l.split(":")[1]?.split(",").includes(ctl))?.split(":")[2];
  const dirOf = (ctl: string): string | null => {
    const m = mountsOf("cgroup").find((x) => x.opts.includes(ctl));
    const path = line(ctl);
    if (!m || path === undefined) return null;
    const dir = join(m.dir, path);
    return existsSync(dir) ? dir : m.dir;
  };
  const mem = dirOf("memory");
  if (mem && probe(mem, "memory.limit_in_bytes")) {
    const pids = dirOf("pids");
    return {
      h: { version: 1, memory: mem, pids: pids && probe(pids, "pids.max") ? pids : null },
      reason: `cgroup v1 at ${mem}`,
    };
  }
  return {
    h: null,
    reason: v2
      ? "cgroup v2 without delegated memory and pids controllers here"
      : "no writable memory cgroup here",
  };
}

function hierarchy(): { h: Hierarchy | null; reason: string } {
  detected ??= detect();
  return detected;
}

/** What bounds a sandboxed run's memory on this machine, in one line (for doctor and docs). */
export function containment(): { cgroup: boolean; line: string } {
  const { h, reason } = hierarchy();
  if (h) {
    const pids = h.version === 2 || h.pids ? " and pids.max" : " (no pids cgroup: RLIMIT_NPROC bounds tasks)";
    return {
      cgroup: true,
      line: `per-run cgroup v${h.version} (memory limit${pids}; everything the run holds counts)`,
    };
  }
  return {
    cgroup: false,
    line: `rlimits only (${reason}): each process is capped, not their sum; a run may hold up to its task limit times the memory limit, plus memfd files up to RLIMIT_FSIZE each; sandboxed processes are first in line for the OOM killer`,
  };
}

const write = (f: string, v: string) => writeFileSync(f, v);
const readNum = (f: string, key: string): number => {
  try {
    const m = new RegExp(`^${key} (\\d+)`, "m").exec(readFileSync(f, "utf8"));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
};

/** The cgroup(s) of one run. */
export class RunCgroup {
  private constructor(
    private readonly h: Hierarchy,
    /** The run's folders: memory (v2: the only one), then v1 pids. */
    readonly dirs: string[],
  ) {}

  /** A fresh cgroup with these limits, or null when this machine has none to give. */
  static create(memoryBytes: number, maxTasks: number): RunCgroup | null {
    const { h } = hierarchy();
    if (!h) return null;
    const name = `r1lab-run-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
    const dirs = [join(h.memory, name)];
    if (h.version === 1 && h.pids) dirs.push(join(h.pids, name));
    const cg = new RunCgroup(h, []);
    try {
      for (const d of dirs) {
        mkdirSync(d);
        cg.dirs.push(d);
      }
      const mem = dirs[0];
      if (h.version === 2) {
        write(join(mem, "memory.max"), String(memoryBytes));
        if (existsSync(join(mem, "memory.swap.max"))) write(join(mem, "memory.swap.max"), "0");
        write(join(mem, "pids.max"), String(maxTasks));
      } else {
        write(join(mem, "memory.limit_in_bytes"), String(memoryBytes));
        if (existsSync(join(mem, "memory.memsw.limit_in_bytes")))
          write(join(mem, "memory.memsw.limit_in_bytes"), String(memoryBytes));
        if (dirs[1]) write(join(dirs[1], "pids.max"), String(maxTasks));
      }
    } catch (e) {
      cg.remove();
      throw new Error(`sandbox: cannot set up the run's cgroup under ${h.memory}: ${(e as Error).message}`);
    }
    return cg;
  }

  /** The cgroup.procs files the wrapper writes its pid into. */
  get procsFiles(): string[] {
    return this.dirs.map((d) => join(d, "cgroup.procs"));
  }

  /** Whether the kernel killed a process of this run at the memory limit. */
  oomKilled(): boolean {
    const mem = this.dirs[0];
    return this.h.version === 2
      ? readNum(join(mem, "memory.events"), "oom_kill") > 0
      : readNum(join(mem, "memory.oom_control"), "oom_kill") > 0;
  }

  /** SIGKILL everything still in the run's cgroup. */
  kill(): void {
    const mem = this.dirs[0];
    if (this.h.version === 2 && existsSync(join(mem, "cgroup.kill"))) {
      try {
        write(join(mem, "cgroup.kill"), "1");
        return;
      } catch {
        // fall through to killing pid by pid
      }
    }
    for (let sweep = 0; sweep < 20; sweep++) {
      let pids: number[];
      try {
        pids = readFileSync(join(mem, "cgroup.procs"), "utf8").split("\n").filter(Boolean).map(Number);
      } catch {
        return;
      }
      if (pids.length === 0) return;
      for (const pid of pids) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // gone
        }
      }
    }
  }

  /** Remove the folders (retried for a while: the kernel frees a killed run's cgroup asynchronously). */
  remove(tries = 40): void {
    const left = this.dirs.filter((d) => {
      try {
        rmdirSync(d);
        return false;
      } catch (e) {
        return (e as NodeJS.ErrnoException).code !== "ENOENT";
      }
    });
    this.dirs.splice(0, this.dirs.length, ...left);
    if (left.length > 0 && tries > 0) setTimeout(() => this.remove(tries - 1), 50).unref();
  }
}

/**
 * The command line that puts a run into `cg` (when given), makes it the OOM killer's first choice,
 * switches to `uid` (when given: we are root) and execs `command`.
 */
export function wrapperCommand(cg: RunCgroup | null, uid: number | undefined, command: string[]): string[] {
  const script =
    'echo 1000 > /proc/self/oom_score_adj 2>/dev/null; while [ "$1" != "--" ]; do echo $$ > "$1" || { echo "sandbox: cannot join the cgroup $1" >&2; exit 125; }; shift; done; shift; exec "$@"';
  const setpriv = uid !== undefined ? findTool("setpriv", ["/usr/bin/setpriv", "/bin/setpriv"]) : null;
  if (uid !== undefined && !setpriv)
    throw new Error("sandbox: setpriv (util-linux) not found: apt-get install util-linux");
  const drop =
    uid !== undefined ? [setpriv!, `--reuid=${uid}`, `--regid=${uid}`, "--clear-groups", "--"] : [];
  return ["/bin/sh", "-c", script, "sh", ...(cg?.procsFiles ?? []), "--", ...drop, ...command];
}
