// Lower-latency dispatch of jax-js's Wasm kernels, under the Worker shim (polyfills.ts).
//
// jax-js runs each compiled kernel on its worker pool by posting a message per worker share and
// waiting for a reply message. Over node:worker_threads that hand-off costs tens of microseconds,
// and a decode step of a small model is ~120 kernels: at batch 1 the pool ran 4x slower than the
// same code with no pool at all (docs/performance.md). Two changes, both invisible to jax-js:
// - InlineRunner: the first worker's share of every kernel runs on the main thread, which would
//   otherwise only wait. A kernel too small to split runs entirely there, with no hand-off.
// - FastChannel: a share for another worker, of a kernel that worker has already seen, goes through
//   shared memory instead of a message: the main thread writes the kernel id, pointers and range
//   into a SharedArrayBuffer and wakes the worker (Atomics.notify); the worker, parked in
//   Atomics.wait between jobs, runs it and bumps a counter; the main thread waits for the counter
//   (blocking a few milliseconds at most, then asynchronously) and answers jax-js with the "done"
//   message a worker would have sent.
// Everything else (a kernel's first dispatch to a worker, which carries its Wasm module; routines;
// init) still goes by message. R1LAB_FAST_WORKERS=0 turns both off.
//
// Control words (Int32Array over the buffer):
//   STATE   0 = worker reading messages, 1 = parked and ready, 4 = job being written, 2 = job posted,
//           3 = wake up for a message
//   DONE    jobs finished (the main thread waits for it to reach the number posted)
//   PENDING messages posted and not yet received by the worker (it leaves the fast loop while > 0)
//   RESULT  0 = ok, 1 = the last job threw (its text is in the error bytes)
// then a Float64Array of arguments: [id, begin, end, nPtrs, ...ptrs], then the error text bytes.

const STATE = 0;
const DONE = 1;
const PENDING = 2;
const RESULT = 3;
const CTL_BYTES = 16;
const MAX_PTRS = 60;
const ARGS_BYTES = 8 * (4 + MAX_PTRS);
const ERR_BYTES = 1024;
/** How long the main thread blocks for a job before it waits asynchronously instead. */
const SPIN_MS = 4;
/** Polls of STATE a parked worker makes before it sleeps. */
const SPIN_WORKER = 2000;
/** Polls of DONE the main thread makes before it sleeps. */
const SPIN_MAIN = 2000;

export function fastWorkersEnabled(): boolean {
  return process.env.R1LAB_FAST_WORKERS !== "0" && typeof SharedArrayBuffer !== "undefined";
}

/** Worker-side code, appended after jax-js's worker source (so it sees `memory` and `kernelFunc`). */
export const FAST_WORKER_POSTLUDE = `
;(() => {
  const orig = self.onmessage;
  const modules = new Map();
  let ctl = null, args = null, errBytes = null;
  function runJob() {
    const id = args[0], begin = args[1], end = args[2], n = args[3];
    const ptrs = [];
    for (let i = 0; i < n; i++) ptrs.push(args[4 + i]);
    const m = modules.get(id);
    try {
      if (!m) throw new Error("fast worker channel: unknown kernel id " + id);
      kernelFunc(m[0], m[1])(...ptrs, begin, end);
      Atomics.store(ctl, ${RESULT}, 0);
    } catch (err) {
      const text = new TextEncoder().encode(String(err && err.stack || err)).subarray(0, ${ERR_BYTES - 4});
      new DataView(errBytes.buffer, errBytes.byteOffset).setUint32(0, text.length, true);
      errBytes.set(text, 4);
      Atomics.store(ctl, ${RESULT}, 1);
    }
  }
  function park() {
    Atomics.store(ctl, ${STATE}, 1);
    for (;;) {
      if (Atomics.load(ctl, ${PENDING}) > 0 && Atomics.compareExchange(ctl, ${STATE}, 1, 0) === 1) return;
      const st = Atomics.load(ctl, ${STATE});
      if (st === 2) {
        runJob();
        Atomics.store(ctl, ${STATE}, 1);
        Atomics.add(ctl, ${DONE}, 1);
        Atomics.notify(ctl, ${DONE});
      } else if (st === 3) {
        Atomics.store(ctl, ${STATE}, 0);
        return;
      } else if (st === 1) {
        // Spin briefly before sleeping: a futex wake-up costs tens of microseconds on a VM.
        let spins = ${SPIN_WORKER};
        while (spins-- > 0 && Atomics.load(ctl, ${STATE}) === 1);
        if (Atomics.load(ctl, ${STATE}) === 1) Atomics.wait(ctl, ${STATE}, 1, 1000);
      }
    }
  }
  self.onmessage = (e) => {
    const msg = e.data;
    if (msg && msg.type === "__r1lab_fast") {
      ctl = new Int32Array(msg.sab, 0, 4);
      args = new Float64Array(msg.sab, ${CTL_BYTES}, ${ARGS_BYTES / 8});
      errBytes = new Uint8Array(msg.sab, ${CTL_BYTES + ARGS_BYTES}, ${ERR_BYTES});
      return;
    }
    if (ctl) Atomics.sub(ctl, ${PENDING}, 1);
    if (msg && msg.type === "kernel" && msg.fastId !== undefined) modules.set(msg.fastId, [msg.kernelHash, msg.module]);
    orig(e);
    if (ctl && memory) park();
  };
})();
`;

/**
 * Runs the first worker's share of each kernel on the main thread instead (the thread that would
 * otherwise sit waiting for it). jax-js dispatches one kernel at a time and waits for every share,
 * so when a share runs here all earlier kernels have finished. It runs in a microtask, after jax-js
 * has posted the other shares, so the workers compute theirs at the same time.
 */
export class InlineRunner {
  /** jax-js's shared WebAssembly.Memory, seen in the init message (no Wasm types in this lib). */
  #memory: unknown = null;
  #kernels = new Map<string, (...a: number[]) => void>();

  /** Returns true when `data` was taken (a kernel, once the memory is known); false otherwise. */
  tryRun(data: any, reply: Reply): boolean {
    if (data?.type === "init") this.#memory = data.memory;
    if (data?.type !== "kernel" || !this.#memory) return false;
    let f = this.#kernels.get(data.kernelHash);
    if (!f) {
      const wasm = (globalThis as any).WebAssembly;
      f = new wasm.Instance(data.module, { env: { memory: this.#memory } }).exports.kernel as (
        ...a: number[]
      ) => void;
      if (this.#kernels.size >= 1024) this.#kernels.delete(this.#kernels.keys().next().value as string);
      this.#kernels.set(data.kernelHash, f);
    }
    const kernel = f;
    queueMicrotask(() => {
      try {
        kernel(...data.ptrs, data.begin, data.end);
        reply({ type: "done", ok: true });
      } catch (err) {
        reply({ type: "done", ok: false, error: String((err as Error)?.stack ?? err) });
      }
    });
    return true;
  }
}

/** Kernel hash -> small integer id, shared by all workers. */
const kernelIds = new Map<string, number>();

type Reply = (data: { type: "done"; ok: boolean; error?: string }) => void;

/** Main-thread end of one worker's channel. */
export class FastChannel {
  readonly sab = new SharedArrayBuffer(CTL_BYTES + ARGS_BYTES + ERR_BYTES);
  #ctl = new Int32Array(this.sab, 0, 4);
  #args = new Float64Array(this.sab, CTL_BYTES, ARGS_BYTES / 8);
  #err = new Uint8Array(this.sab, CTL_BYTES + ARGS_BYTES, ERR_BYTES);
  #known = new Set<number>();
  #posted = 0;

  /**
   * Try to send a jax-js message through shared memory. Returns true when sent (the reply comes
   * through `reply`); false when it must go by message, after preparing `data` for that.
   */
  trySend(data: any, reply: Reply): boolean {
    if (data?.type !== "kernel") return false;
    let id = kernelIds.get(data.kernelHash);
    if (id === undefined) {
      id = kernelIds.size;
      kernelIds.set(data.kernelHash, id);
    }
    const ptrs: number[] = data.ptrs;
    if (
      !this.#known.has(id) ||
      ptrs.length > MAX_PTRS ||
      Atomics.compareExchange(this.#ctl, STATE, 1, 4) !== 1
    ) {
      if (!this.#known.has(id)) {
        data.fastId = id;
        this.#known.add(id);
      }
      return false;
    }
    // STATE was 1 (parked) and is now 4 (claimed): the worker spins until it sees 2, which is stored
    // after the arguments, so it never reads half-written ones.
    const a = this.#args;
    a[0] = id;
    a[1] = data.begin;
    a[2] = data.end;
    a[3] = ptrs.length;
    for (let i = 0; i < ptrs.length; i++) a[4 + i] = ptrs[i];
    Atomics.store(this.#ctl, STATE, 2);
    Atomics.notify(this.#ctl, STATE);
    const target = ++this.#posted;
    // Wait in a microtask, so that jax-js posts to the other workers first.
    queueMicrotask(() => this.#await(target, reply));
    return true;
  }

  /** Before a message goes to the worker: count it, and wake the worker if it is parked. */
  beforeMessage(): void {
    Atomics.add(this.#ctl, PENDING, 1);
    if (Atomics.compareExchange(this.#ctl, STATE, 1, 3) === 1) Atomics.notify(this.#ctl, STATE);
  }

  #await(target: number, reply: Reply): void {
    const finish = () => {
      if (Atomics.load(this.#ctl, RESULT) === 0) reply({ type: "done", ok: true });
      else {
        const n = new DataView(this.sab, CTL_BYTES + ARGS_BYTES).getUint32(0, true);
        reply({ type: "done", ok: false, error: new TextDecoder().decode(this.#err.slice(4, 4 + n)) });
      }
    };
    for (let spins = SPIN_MAIN; spins > 0 && Atomics.load(this.#ctl, DONE) < target; spins--);
    const deadline = performance.now() + SPIN_MS;
    for (;;) {
      const done = Atomics.load(this.#ctl, DONE);
      if (done >= target) {
        finish();
        return;
      }
      const left = deadline - performance.now();
      if (left <= 0) break;
      Atomics.wait(this.#ctl, DONE, done, left);
    }
    const poll = (): void => {
      const done = Atomics.load(this.#ctl, DONE);
      if (done >= target) {
        finish();
        return;
      }
      const w = (Atomics as any).waitAsync(this.#ctl, DONE, done);
      if (w.async) w.value.then(poll);
      else poll();
    };
    poll();
  }
}
