// Math verification off the main thread, with a hard time limit. A small pool of worker_threads
// runs checkMath (math-verify.ts) (short completions whose verdict needs no CAS are decided at
// once on the calling thread: checkMathQuick); a verification that runs past `timeoutMs` gets "not equal"
// (method "timeout") and its worker is terminated and replaced, so a pathological answer
// (\boxed{(x+y+z+1)^{60}}, 10^{10^{10^{10}}}) can neither stall the event loop (the reward
// server's /health keeps answering) nor hold a slot. Math-Verify's SIGALRM timeouts cannot do this
// in threads; worker termination can. `score`, `eval`, the GRPO accuracy reward and the reward
// server all score math through sharedVerifyPool() (via the math tasks' score()).
// R1LAB_VERIFY_WORKERS=0 checks on the calling thread instead (no time limit beyond the CAS budget);
// R1LAB_VERIFY_WORKERS=N sets the pool size, R1LAB_VERIFY_TIMEOUT_MS the limit.

import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import {
  checkMath,
  checkMathQuick,
  MAX_COMPLETION_CHARS,
  type MathCheck,
  type MathCheckOptions,
} from "./math-verify.ts";

export interface VerifyPoolOptions {
  /** Worker threads. Default min(4, CPUs - 1), at least 1. */
  size?: number;
  /** Hard wall-clock limit of one verification, ms (from when a worker takes it). Default 5000. */
  timeoutMs?: number;
}

interface Job {
  id: number;
  completion: string;
  gold: string;
  opts: MathCheckOptions;
  resolve: (r: MathCheck) => void;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  job: Job | null;
  timer: NodeJS.Timeout | null;
}

// Compiled (dist/eval/*.js, the npm package) the worker body is plain JS and starts directly. From the
// TypeScript sources the .mjs entry registers tsx first: worker threads start without the parent's loader.
const COMPILED = import.meta.url.endsWith(".js");
const ENTRY = new URL(COMPILED ? "./verify-worker.js" : "./verify-worker-entry.mjs", import.meta.url);
const BODY = new URL("./verify-worker.ts", import.meta.url).href;

const MAX_START_FAILURES = 3;

export class VerifyPool {
  readonly size: number;
  readonly timeoutMs: number;
  /** Verifications that hit the time limit (their workers were replaced). */
  timeouts = 0;
  private slots: Slot[] = [];
  private queue: Job[] = [];
  private nextId = 0;
  private closed = false;
  /** Workers in a row that died before they were ready (a broken install, bad execArgv, ...). */
  private startFailures = 0;

  constructor(opts: VerifyPoolOptions = {}) {
    this.size = Math.max(1, opts.size ?? Math.min(4, availableParallelism() - 1));
    this.timeoutMs = opts.timeoutMs ?? 5000;
    if (!(this.timeoutMs > 0)) throw new Error(`VerifyPool: timeoutMs must be > 0, got ${opts.timeoutMs}`);
  }

  /** checkMath(completion, gold, opts) in a worker; never rejects, "not equal" on timeout or error. */
  check(completion: string, gold: string, opts: MathCheckOptions = {}): Promise<MathCheck> {
    if (this.closed) return Promise.resolve({ correct: false, extracted: null, method: "closed" });
    if (typeof completion !== "string" || typeof gold !== "string")
      return Promise.resolve(checkMath(completion, gold));
    if (completion.length > MAX_COMPLETION_CHARS)
      return Promise.resolve({ correct: false, extracted: null, method: "too_long" });
    const quick = checkMathQuick(completion, gold, opts);
    if (quick !== null) return Promise.resolve(quick);
    return new Promise((resolve) => {
      this.queue.push({ id: this.nextId++, completion, gold, opts, resolve });
      while (this.slots.length < this.size && this.slots.length < this.queue.length + this.busy())
        this.spawn();
      this.dispatch();
    });
  }

  private busy(): number {
    return this.slots.filter((s) => s.job !== null).length;
  }

  private spawn(): Slot {
    // The parent's --input-type (node -e scripts) makes a worker started from a file fail.
    const execArgv = process.execArgv.filter((a) => !a.startsWith("--input-type"));
    const worker = new Worker(ENTRY, { workerData: { module: BODY }, execArgv });
    const slot: Slot = { worker, ready: false, job: null, timer: null };
    worker.on("message", (m: { ready?: boolean; id?: number; result?: MathCheck }) => {
      if (m.ready) {
        slot.ready = true;
        this.startFailures = 0;
        this.dispatch();
        return;
      }
      if (slot.job && m.id === slot.job.id)
        this.finish(slot, m.result ?? { correct: false, extracted: null, method: "error" });
    });
    const fail = (err?: Error) => {
      if (!slot.ready && ++this.startFailures === MAX_START_FAILURES)
        console.error(
          `r1lab: verification workers fail to start (${err?.message ?? "exited"}); answers needing them count as wrong`,
        );
      if (slot.job) this.finish(slot, { correct: false, extracted: null, method: "error" });
      this.replace(slot);
    };
    worker.on("error", fail);
    worker.on("exit", () => {
      if (!this.closed && this.slots.includes(slot)) fail();
    });
    this.slots.push(slot);
    this.updateRefs();
    return slot;
  }

  private finish(slot: Slot, result: MathCheck): void {
    if (slot.timer) clearTimeout(slot.timer);
    slot.timer = null;
    const job = slot.job;
    slot.job = null;
    job?.resolve(result);
    this.dispatch();
  }

  /** Drop a slot's worker (terminated or dead) and start a fresh one when work is waiting. */
  private replace(slot: Slot): void {
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
    void slot.worker.terminate();
    if (this.startFailures >= MAX_START_FAILURES) {
      // Never respawn forever: what waits is answered "not equal", marked as a verifier error.
      for (const j of this.queue.splice(0)) j.resolve({ correct: false, extracted: null, method: "error" });
      this.updateRefs();
      return;
    }
    if (!this.closed && this.queue.length > 0) this.spawn();
  }

  /** Workers keep the process alive only while work waits on them; an idle pool never holds it open. */
  private updateRefs(): void {
    for (const slot of this.slots) {
      if (slot.job !== null || (!slot.ready && this.queue.length > 0)) slot.worker.ref();
      else slot.worker.unref();
    }
  }

  private dispatch(): void {
    this.dispatchJobs();
    this.updateRefs();
  }

  private dispatchJobs(): void {
    for (const slot of this.slots) {
      if (this.queue.length === 0) return;
      if (!slot.ready || slot.job !== null) continue;
      const job = this.queue.shift()!;
      slot.job = job;
      slot.timer = setTimeout(() => {
        this.timeouts++;
        slot.timer = null;
        slot.job = null;
        job.resolve({ correct: false, extracted: null, method: "timeout" });
        this.replace(slot);
        this.dispatch();
      }, this.timeoutMs);
      slot.worker.postMessage({ id: job.id, completion: job.completion, gold: job.gold, opts: job.opts });
    }
  }

  /** Terminate every worker; pending checks resolve as "not equal" (method "closed"). */
  async close(): Promise<void> {
    this.closed = true;
    for (const j of this.queue.splice(0)) j.resolve({ correct: false, extracted: null, method: "closed" });
    await Promise.all(
      this.slots.splice(0).map((s) => {
        if (s.timer) clearTimeout(s.timer);
        s.job?.resolve({ correct: false, extracted: null, method: "closed" });
        return s.worker.terminate();
      }),
    );
  }
}

let shared: VerifyPool | null = null;

/** The process-wide pool (created on first use), or null when R1LAB_VERIFY_WORKERS=0. */
export function sharedVerifyPool(): VerifyPool | null {
  const env = process.env.R1LAB_VERIFY_WORKERS;
  if (env === "0") return null;
  if (shared === null) {
    const size = env !== undefined && /^\d+$/.test(env) ? Number(env) : undefined;
    const t = process.env.R1LAB_VERIFY_TIMEOUT_MS;
    const timeoutMs = t !== undefined && /^\d+$/.test(t) && Number(t) > 0 ? Number(t) : undefined;
    shared = new VerifyPool({ size, timeoutMs });
  }
  return shared;
}

/** checkMath through the shared pool (or inline when the pool is turned off). */
export function checkMathAsync(
  completion: string,
  gold: string,
  opts: MathCheckOptions = {},
): Promise<MathCheck> {
  const pool = sharedVerifyPool();
  return pool ? pool.check(completion, gold, opts) : Promise.resolve(checkMath(completion, gold, opts));
}
