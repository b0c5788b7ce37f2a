// Talking to the PyTorch peer (bench/torch_bench.py) over stdin/stdout, one JSON object per line.
// The peer is started once per `pnpm bench` run with Debian's /usr/bin/python3 (python3-torch), or
// R1LAB_TORCH_PYTHON; when torch cannot be imported, `start` returns the reason and the bench runs
// the r1lab side alone. OMP_WAIT_POLICY=PASSIVE: torch's OpenMP threads otherwise spin at every
// barrier, and on a shared 2-core machine that made one training step up to 100x slower (measured:
// tiny model 7 s/step spinning vs 0.06 s passive at load ~15), which would flatter r1lab.
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export interface TorchHello {
  torch: string;
  device: string;
  threads: number;
  env: Record<string, string | null>;
}

export class TorchPeer {
  private queue: ((line: string) => void)[] = [];
  private lines: string[] = [];
  private closed: string | null = null;
  private nextId = 1;

  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    const rl = createInterface({ input: child.stdout });
    rl.on("line", (l) => {
      const waiter = this.queue.shift();
      if (waiter) waiter(l);
      else this.lines.push(l);
    });
    let err = "";
    child.stderr.on("data", (d) => {
      err = (err + d.toString()).slice(-2000);
    });
    child.on("close", (code) => {
      this.closed = `python exited with code ${code}${err ? `: ${err.trim().split("\n").slice(-3).join(" | ")}` : ""}`;
      for (const w of this.queue.splice(0)) w("");
    });
    child.on("error", (e) => {
      this.closed = `could not start python: ${e.message}`;
      for (const w of this.queue.splice(0)) w("");
    });
  }

  /** Start the peer; resolves to the peer and its hello, or to the reason torch is unavailable. */
  static async start(
    python = process.env.R1LAB_TORCH_PYTHON ?? "/usr/bin/python3",
  ): Promise<{ peer: TorchPeer; hello: TorchHello } | { reason: string }> {
    const script = join(dirname(fileURLToPath(import.meta.url)), "torch_bench.py");
    const child = spawn(python, [script], {
      stdio: ["pipe", "pipe", "pipe"],
      env: { OMP_WAIT_POLICY: "PASSIVE", ...process.env, OMP_NUM_THREADS: "2" },
    });
    const peer = new TorchPeer(child);
    const line = await peer.readLine();
    try {
      const hello = JSON.parse(line);
      if (hello.hello) return { peer, hello };
    } catch {
      /* fall through */
    }
    peer.close();
    return { reason: peer.closed ?? `unexpected first line from ${python} ${script}: ${line.slice(0, 200)}` };
  }

  private readLine(): Promise<string> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    if (this.closed) return Promise.resolve("");
    return new Promise((res) => this.queue.push(res));
  }

  /** Run one workload on the peer; throws with the peer's error message. */
  async request(kind: string, spec: Record<string, unknown>): Promise<Record<string, any>> {
    const id = this.nextId++;
    this.child.stdin.write(`${JSON.stringify({ kind, id, ...spec })}\n`);
    const line = await this.readLine();
    if (!line) throw new Error(`torch peer: ${this.closed ?? "no answer"}`);
    const res = JSON.parse(line);
    if (!res.ok) throw new Error(`torch peer (${kind}): ${res.error}`);
    return res;
  }

  close(): void {
    if (!this.child.killed) this.child.stdin.end();
  }
}
