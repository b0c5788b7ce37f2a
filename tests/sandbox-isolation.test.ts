// What the sandboxed program cannot do: reach the network (internet or the host's loopback),
// write anywhere but its own /tmp, read the repository or home directories. Each check runs
// inside the sandbox and reports what happened; the host side is checked too.

import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runPython, sandboxAvailable } from "../src/eval/sandbox.ts";

const avail = sandboxAvailable();
if (!avail.ok) console.warn(`sandbox isolation tests skipped: ${avail.reason}`);

const LIMITS = { timeoutMs: 8000, memoryMb: 256 };
const REPO_FILE = resolve("package.json");
const sha = (p: string) => createHash("sha256").update(readFileSync(p)).digest("hex");

/** A program that tries `attempts` (python expressions) and prints one `name: ok|ErrorName` line each. */
function probe(attempts: Record<string, string>): string {
  const lines = ["def attempt(name, fn):", "    try:", "        fn()", "        print(f'{name}: ok')"];
  lines.push("    except Exception as e:", "        print(f'{name}: {type(e).__name__}')");
  for (const [name, expr] of Object.entries(attempts))
    lines.push(`attempt(${JSON.stringify(name)}, lambda: ${expr})`);
  return `${lines.join("\n")}\n`;
}

function outcomes(stdout: string): Record<string, string> {
  return Object.fromEntries(
    stdout
      .trim()
      .split("\n")
      .map((l) => l.split(": ") as [string, string]),
  );
}

describe.skipIf(!avail.ok)("sandbox isolation", () => {
  let server: Server;
  let port = 0;
  let connections = 0;
  let hostDir = "";

  beforeAll(async () => {
    server = createServer((s) => {
      connections++;
      s.on("error", () => {}); // the client below hangs up at once
      s.end("hello\n");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as { port: number }).port;
    hostDir = mkdtempSync(join(tmpdir(), "r1lab-sbx-host-"));
    writeFileSync(join(hostDir, "host.txt"), "original\n");
  });

  afterAll(async () => {
    await new Promise((r) => server.close(r));
    rmSync(hostDir, { recursive: true, force: true });
  });

  it("has no network: neither the internet nor the host's loopback listener", async () => {
    const connect = (host: string, p: number) =>
      `__import__('socket').create_connection((${JSON.stringify(host)}, ${p}), timeout=3).close()`;
    const r = await runPython(
      probe({
        internet: connect("1.1.1.1", 53),
        loopback: connect("127.0.0.1", port),
        dns: "__import__('socket').getaddrinfo('example.com', 80)",
      }),
      LIMITS,
    );
    expect(r.status).toBe("passed");
    const o = outcomes(r.stdout);
    expect(o.internet).toMatch(/OSError|TimeoutError/);
    expect(o.loopback).toBe("ConnectionRefusedError");
    expect(o.dns).toBe("gaierror");
    expect(connections).toBe(0);
    // The listener itself works from the host: the refusal above is the sandbox's doing.
    const { connect: hostConnect } = await import("node:net");
    const sock = hostConnect(port, "127.0.0.1");
    await new Promise<void>((ok, fail) => sock.on("connect", ok).on("error", fail));
    sock.destroy();
    await new Promise((r) => setTimeout(r, 50));
    expect(connections).toBe(1);
  });

  it("writes only inside its own /tmp; host files stay unchanged", async () => {
    const before = sha(REPO_FILE);
    const w = (p: string) => `open(${JSON.stringify(p)}, 'a').write('pwned\\n')`;
    const r = await runPython(
      `${probe({
        repo: w(REPO_FILE),
        hostTmp: w(join(hostDir, "host.txt")),
        etc: w("/etc/r1lab-sandbox-probe"),
        home: w("/home/r1lab-sandbox-probe"),
        usr: w("/usr/r1lab-sandbox-probe"),
        root: w("/r1lab-sandbox-probe"),
        devShm: w("/dev/shm/r1lab-sandbox-probe"),
        tmp: w("/tmp/scratch.txt"),
      })}print('read back:', open('/tmp/scratch.txt').read().strip())\n`,
      LIMITS,
    );
    expect(r.status).toBe("passed");
    const o = outcomes(r.stdout.split("\nread back")[0]);
    for (const k of ["repo", "hostTmp", "etc", "home", "usr", "root", "devShm"]) {
      expect(o[k], k).toMatch(/FileNotFoundError|OSError|PermissionError/);
    }
    expect(o.tmp).toBe("ok");
    expect(r.stdout).toContain("read back: pwned");
    expect(sha(REPO_FILE)).toBe(before);
    expect(readFileSync(join(hostDir, "host.txt"), "utf8")).toBe("original\n");
    expect(existsSync("/etc/r1lab-sandbox-probe")).toBe(false);
    expect(existsSync("/r1lab-sandbox-probe")).toBe(false);
  });

  it("caps file size (RLIMIT_FSIZE) and the /tmp tmpfs", async () => {
    const mib = "b'x' * (1024 * 1024)";
    const r = await runPython(
      [
        "import errno, os",
        "def fill(path, mib):",
        "    try:",
        "        with open(path, 'wb') as f:",
        "            for _ in range(mib):",
        `                f.write(${mib})`,
        "        return 'ok'",
        "    except OSError as e:",
        "        return errno.errorcode[e.errno]",
        "print('big', fill('/tmp/big', 20))",
        "os.remove('/tmp/big')",
        "print('fill', [fill(f'/tmp/part{i}', 15) for i in range(6)])",
      ].join("\n"),
      LIMITS,
    );
    expect(r.status).toBe("passed");
    expect(r.stdout).toContain("big EFBIG"); // one file over 16 MiB
    expect(r.stdout).toMatch(/fill \['ok', 'ok', 'ok', 'ok', 'ENOSPC'/); // the 64 MiB tmpfs is full
  });

  it("sees only system directories: no repository, home, /etc or host /tmp", async () => {
    const r = await runPython(
      `${probe({
        repo: `open(${JSON.stringify(REPO_FILE)}).read()`,
        passwd: "open('/etc/passwd').read()",
        rootHome: "__import__('os').listdir('/root')",
        hostTmp: `open(${JSON.stringify(join(hostDir, "host.txt"))}).read()`,
        usr: "__import__('os').listdir('/usr/lib')",
      })}import os\nprint('top:', ' '.join(sorted(os.listdir('/'))))\nprint('tmp:', ' '.join(os.listdir('/tmp')))\n`,
      LIMITS,
    );
    expect(r.status).toBe("passed");
    const o = outcomes(r.stdout.split("\ntop:")[0]);
    expect(o).toMatchObject({
      repo: "FileNotFoundError",
      passwd: "FileNotFoundError",
      rootHome: "FileNotFoundError",
      hostTmp: "FileNotFoundError",
      usr: "ok",
    });
    const top = /top: (.*)/.exec(r.stdout)![1].split(" ");
    expect(top).not.toContain("work");
    expect(top).not.toContain("home");
    expect(top).not.toContain("etc");
    expect(top).toContain("usr");
    expect(r.stdout).toContain("tmp: main.py\n");
  });

  it("runs with an empty environment, no capabilities, and an unprivileged uid", async () => {
    const r = await runPython(
      [
        "import os",
        "print(sorted(os.environ))",
        "status = open('/proc/self/status').read()",
        "print([l for l in status.splitlines() if l.startswith('CapEff')][0].split()[1])",
        "print(os.getuid() != 0, os.getpid(), os.nice(0))",
      ].join("\n"),
      LIMITS,
    );
    expect(r.status).toBe("passed");
    const [env, capEff, ids] = r.stdout.trim().split("\n");
    expect(env).not.toContain("OPENAI_API_KEY");
    expect(JSON.parse(env.replace(/'/g, '"'))).toEqual([
      "HOME",
      "LANG",
      "PATH",
      "PWD",
      "PYTHONHASHSEED",
      "TMPDIR",
    ]);
    expect(capEff).toBe("0000000000000000");
    // Not root, and pid 2 or so: its own pid namespace.
    const [notRoot, pid, nice] = ids.split(" ");
    expect(notRoot).toBe("True");
    expect(Number(pid)).toBeLessThan(10);
    expect(Number(nice)).toBeGreaterThanOrEqual(10); // niced, so the host stays responsive
  });
});
