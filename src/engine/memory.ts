// Memory accounting for leak tests and reports. jax-js exposes no count of live device buffers,
// so this reaches its backend object (the same module instance the engine uses, loaded by file
// URL) and counts malloc / incRef / decRef on it. Used by tests and `r1lab doctor`; install the
// counter before the arrays you want to watch are created.
import { readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import "./jax.ts";

interface BackendLike {
  malloc(size: number, init?: Uint8Array): number;
  incRef(slot: number): void;
  decRef(slot: number): void;
}

export interface BufferCounter {
  /** Buffers allocated since the counter was installed and not yet freed. */
  live(): number;
  /** Bytes of those buffers. */
  liveBytes(): number;
  /** The largest single buffer allocated since the counter was installed (or last reset). */
  largest(): number;
  resetLargest(): void;
}

const counters = new Map<string, BufferCounter>();

async function backendFor(device: string): Promise<BackendLike> {
  const require = createRequire(import.meta.url);
  const dist = dirname(require.resolve("@jax-js/jax"));
  const chunk = readdirSync(dist).find((f) => /^backend-.*\.js$/.test(f));
  if (!chunk) throw new Error(`cannot find jax-js's backend module in ${dist}`);
  const mod = await import(pathToFileURL(join(dist, chunk)).href);
  // The chunk exports getBackend under a minified name: find the function that returns a backend.
  for (const v of Object.values(mod)) {
    if (typeof v !== "function" || v.length > 1) continue;
    try {
      const b = (v as (d?: string) => unknown)(device) as BackendLike | undefined;
      if (b && typeof b.malloc === "function" && typeof b.decRef === "function") return b;
    } catch {
      /* not it */
    }
  }
  throw new Error("cannot reach jax-js's backend to count buffers");
}

/** Start counting buffers on `device` ("wasm" for cpu, or "webgpu"). Idempotent. */
export async function countBuffers(device: "wasm" | "webgpu" = "wasm"): Promise<BufferCounter> {
  const existing = counters.get(device);
  if (existing) return existing;
  const b = await backendFor(device);
  const refs = new Map<number, { ref: number; size: number }>();
  let bytes = 0;
  let largest = 0;
  const malloc = b.malloc.bind(b);
  const incRef = b.incRef.bind(b);
  const decRef = b.decRef.bind(b);
  b.malloc = (size, init) => {
    const slot = malloc(size, init);
    refs.set(slot, { ref: 1, size });
    bytes += size;
    largest = Math.max(largest, size);
    return slot;
  };
  b.incRef = (slot) => {
    incRef(slot);
    const r = refs.get(slot);
    if (r) r.ref++;
  };
  b.decRef = (slot) => {
    decRef(slot);
    const r = refs.get(slot);
    if (r && --r.ref === 0) {
      refs.delete(slot);
      bytes -= r.size;
    }
  };
  const counter = {
    live: () => refs.size,
    liveBytes: () => bytes,
    largest: () => largest,
    resetLargest: () => {
      largest = 0;
    },
  };
  counters.set(device, counter);
  return counter;
}

export function rssMiB(): number {
  return process.memoryUsage().rss / 2 ** 20;
}
