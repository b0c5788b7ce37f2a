// Node 20 shims that @jax-js/jax needs (see ../shared/reference/engine-notes.md):
// - Worker: jax-js starts browser Workers from blob: URLs for its Wasm thread pool; this maps them
//   onto node:worker_threads so the CPU backend runs multi-threaded.
// - ES2025 iterator helpers (Iterator.prototype.map/filter/toArray), used by einsum and attention.
import { resolveObjectURL } from "node:buffer";
import { availableParallelism } from "node:os";
import { Worker as NodeWorker } from "node:worker_threads";
import { FAST_WORKER_POSTLUDE, FastChannel, InlineRunner, fastWorkersEnabled } from "./fast-worker.ts";

/** Code run first inside every worker: gives the blob's browser-style worker code the globals it expects. */
const WORKER_PRELUDE = `
const { parentPort } = require("node:worker_threads");
globalThis.self = globalThis;
globalThis.postMessage = (data, transfer) => parentPort.postMessage(data, transfer);
parentPort.on("message", (data) => { if (typeof globalThis.onmessage === "function") globalThis.onmessage({ data }); });
`;

/** Workers started so far: the first one's kernel shares run inline on the main thread. */
let created = 0;

class WorkerShim {
  onmessage: ((e: { data: unknown }) => void) | null = null;
  onerror: ((e: { message: string }) => void) | null = null;
  #worker: NodeWorker | null = null;
  #pending: unknown[] = [];
  /** The first worker's kernel shares run on the main thread (fast-worker.ts); null for the others. */
  #inline: InlineRunner | null;
  /** Shared-memory path for kernels the other workers have already seen (fast-worker.ts). */
  #fast: FastChannel | null;
  #reply = (data: unknown) => this.onmessage?.({ data });

  constructor(url: string | URL) {
    const first = created++ === 0;
    const fast = fastWorkersEnabled();
    this.#inline = fast && first ? new InlineRunner() : null;
    this.#fast = fast && !first ? new FastChannel() : null;
    const blob = resolveObjectURL(String(url));
    if (!blob) throw new Error(`Worker shim: cannot resolve ${String(url)} (only blob: URLs are supported)`);
    blob.text().then(
      (source) => {
        // The worker body is an ES module string without imports: run it as a script after the prelude.
        const code = `${WORKER_PRELUDE}\n${source}\n${this.#fast ? FAST_WORKER_POSTLUDE : ""}`;
        const w = new NodeWorker(code, { eval: true });
        w.unref();
        w.on("message", (data) => this.onmessage?.({ data }));
        w.on("error", (err) => this.onerror?.({ message: err.message }));
        this.#worker = w;
        if (this.#fast) w.postMessage({ type: "__r1lab_fast", sab: this.#fast.sab });
        for (const m of this.#pending) this.#send(m);
        this.#pending = [];
      },
      (err: Error) => this.onerror?.({ message: err.message }),
    );
  }

  postMessage(data: unknown): void {
    if (this.#worker) this.#send(data);
    else this.#pending.push(data);
  }

  #send(data: unknown): void {
    if (this.#inline?.tryRun(data, this.#reply)) return;
    const fast = this.#fast;
    if (fast?.trySend(data, this.#reply)) return;
    fast?.beforeMessage();
    this.#worker!.postMessage(data);
  }

  terminate(): void {
    void this.#worker?.terminate();
  }
}

let installed = false;

/**
 * Install the shims once. `threads` sets how many Wasm workers jax-js starts; with `workers` false
 * no Worker exists, so jax-js runs every kernel synchronously on the main thread (what the ORT
 * executor wants: it reads jax-js arrays synchronously, and heavy work runs in onnxruntime).
 */
export function installPolyfills(threads: number = availableParallelism(), workers = true): void {
  if (installed) return;
  installed = true;
  const g = globalThis as any;
  if (workers && typeof g.Worker === "undefined") g.Worker = WorkerShim;
  const nav = g.navigator ?? {};
  try {
    Object.defineProperty(nav, "hardwareConcurrency", { value: threads, configurable: true });
    if (!("userAgent" in nav))
      Object.defineProperty(nav, "userAgent", { value: `Node.js/${process.version}`, configurable: true });
  } catch {
    /* navigator is frozen on some runtimes: keep its values */
  }
  if (!g.navigator) Object.defineProperty(g, "navigator", { value: nav, configurable: true, writable: true });
  installIteratorHelpers();
}

function installIteratorHelpers(): void {
  const g = globalThis as any;
  const proto = g.Iterator?.prototype ?? Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]()));
  const define = (name: string, fn: (this: Iterator<unknown>, ...a: any[]) => unknown) => {
    if (typeof proto[name] !== "function")
      Object.defineProperty(proto, name, { value: fn, configurable: true, writable: true });
  };
  define("map", function* (this: Iterator<unknown>, f: (v: unknown, i: number) => unknown) {
    let i = 0;
    for (let r = this.next(); !r.done; r = this.next()) yield f(r.value, i++);
  });
  define("filter", function* (this: Iterator<unknown>, f: (v: unknown, i: number) => boolean) {
    let i = 0;
    for (let r = this.next(); !r.done; r = this.next()) if (f(r.value, i++)) yield r.value;
  });
  define("toArray", function (this: Iterator<unknown>) {
    const out: unknown[] = [];
    for (let r = this.next(); !r.done; r = this.next()) out.push(r.value);
    return out;
  });
  define("forEach", function (this: Iterator<unknown>, f: (v: unknown, i: number) => void) {
    let i = 0;
    for (let r = this.next(); !r.done; r = this.next()) f(r.value, i++);
  });
  define("some", function (this: Iterator<unknown>, f: (v: unknown, i: number) => boolean) {
    let i = 0;
    for (let r = this.next(); !r.done; r = this.next()) if (f(r.value, i++)) return true;
    return false;
  });
  define("every", function (this: Iterator<unknown>, f: (v: unknown, i: number) => boolean) {
    let i = 0;
    for (let r = this.next(); !r.done; r = this.next()) if (!f(r.value, i++)) return false;
    return true;
  });
  define(
    "reduce",
    function (this: Iterator<unknown>, f: (acc: any, v: unknown, i: number) => unknown, ...init: unknown[]) {
      let i = 0;
      let acc = init[0];
      let r = this.next();
      if (init.length === 0) {
        if (r.done) throw new TypeError("reduce of empty iterator with no initial value");
        acc = r.value;
        r = this.next();
        i = 1;
      }
      for (; !r.done; r = this.next()) acc = f(acc, r.value, i++);
      return acc;
    },
  );
  define("take", function* (this: Iterator<unknown>, n: number) {
    let i = 0;
    for (let r = this.next(); !r.done && i < n; r = this.next(), i++) yield r.value;
  });
  define("drop", function* (this: Iterator<unknown>, n: number) {
    let i = 0;
    for (let r = this.next(); !r.done; r = this.next(), i++) if (i >= n) yield r.value;
  });
  define("flatMap", function* (this: Iterator<unknown>, f: (v: unknown, i: number) => Iterable<unknown>) {
    let i = 0;
    for (let r = this.next(); !r.done; r = this.next()) yield* f(r.value, i++);
  });
  define("find", function (this: Iterator<unknown>, f: (v: unknown, i: number) => boolean) {
    let i = 0;
    for (let r = this.next(); !r.done; r = this.next()) if (f(r.value, i++)) return r.value;
    return undefined;
  });
}
