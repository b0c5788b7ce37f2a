// A synchronous onnxruntime-node session. onnxruntime-node's public `InferenceSession` wraps the
// native binding's `loadModel` and `run` (both synchronous, on the calling thread) in promises
// resolved on a later tick; jit's contract is synchronous (a compiled call returns its arrays), so
// the executor calls the binding directly, exactly as that wrapper does (dist/backend.js).
// Outputs are written into caller-owned typed arrays (fetches), so state buffers can be reused.
// A session can also run on the WebGPU execution provider (bundled in onnxruntime-node on linux
// x64): then outputs named in `outputLocations` stay on the device ('gpu-buffer') and the rest come
// back as host arrays (device-tensors.ts holds the device side).
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import type { Tensor as OrtTensor } from "onnxruntime-node";

const require = createRequire(import.meta.url);
type Binding = any;
let ortMod: typeof import("onnxruntime-node") | null = null;
let binding: Binding = null;

function ort(): typeof import("onnxruntime-node") {
  if (!ortMod) {
    ortMod = require("onnxruntime-node") as typeof import("onnxruntime-node");
    ortMod.env.logLevel = "error";
    const b = require("onnxruntime-node/dist/binding.js");
    b.initOrt();
    binding = b.binding;
  }
  return ortMod;
}

export type HostData = Float32Array | Int32Array | Uint8Array | Uint32Array | BigInt64Array;

const ORT_TYPE: Record<string, "float32" | "int32" | "bool" | "uint32"> = {
  float32: "float32",
  int32: "int32",
  bool: "bool",
  uint32: "uint32",
};

export function tensor(dtype: string, data: HostData, shape: number[]): OrtTensor {
  const t = ORT_TYPE[dtype];
  if (!t) throw new Error(`ORT executor: no host tensor type for dtype ${dtype}`);
  return new (ort().Tensor)(t, data as Float32Array, shape);
}

/** Threads for ORT's intra-op pool: R1LAB_THREADS, else every core. */
export function ortThreads(): number {
  const env = Number(process.env.R1LAB_THREADS);
  return Number.isInteger(env) && env > 0 ? env : availableParallelism();
}

/** R1LAB_ORT_DUMP=PREFIX: each CPU session writes the model onnxruntime optimized to PREFIX_<n>.onnx. */
let dumped = 0;

/** onnxruntime's preplanned memory pattern: off unless R1LAB_ORT_MEM_PATTERN=1 (see SyncSession). */
export const memPattern = (): boolean => process.env.R1LAB_ORT_MEM_PATTERN === "1";

/** Sessions that write an onnxruntime profile (R1LAB_ORT_PROFILE), ended once at exit at the latest. */
const profiled = new Set<SyncSession>();

/**
 * End every profiling session: onnxruntime writes each one's JSON trace (per-node kernel times)
 * to `<R1LAB_ORT_PROFILE>_<date>.json`. Called by `pnpm bench --profile` and at process exit.
 */
export function endOrtProfiling(): void {
  for (const s of profiled) s.endProfiling();
  profiled.clear();
}

/** Where ORT runs a session: its CPU execution provider, or its WebGPU execution provider. */
export type OrtEp = "cpu" | "webgpu";

export interface SessionOptions {
  threads?: number;
  profilePrefix?: string;
  ep?: OrtEp;
  /** WebGPU only: where each output lands ('gpu-buffer' keeps it on the device); default 'cpu'. */
  outputLocations?: Record<string, "cpu" | "gpu-buffer">;
  /**
   * Give intermediates back after each run (no CPU memory arena, no preplanned memory pattern).
   * By default every session keeps its peak of intermediates allocated between runs, which for a
   * real-size model's train step and AdamW update is gigabytes each, on top of the model's state.
   */
  lean?: boolean;
}

export class SyncSession {
  private native: Binding;
  readonly inputNames: string[];
  readonly outputNames: string[];
  readonly ep: OrtEp;

  constructor(model: Uint8Array, opts: SessionOptions = {}) {
    ort();
    const profilePrefix = opts.profilePrefix ?? process.env.R1LAB_ORT_PROFILE;
    this.native = new binding.InferenceSession();
    this.ep = opts.ep ?? "cpu";
    const options = {
      intraOpNumThreads: opts.threads ?? ortThreads(),
      interOpNumThreads: 1,
      executionMode: "sequential",
      graphOptimizationLevel: "all",
      // Spinning threads burn the other cores while the main thread works between runs.
      extra: { session: { intra_op: { allow_spinning: "0" } } },
      // No preplanned memory pattern: onnxruntime records it in a session's first run and, in the
      // second, allocates (and first touches) one block for all intermediates beside the arena's
      // chunks, so that second run cost 2-4x a steady one and the block stayed for life (train_small:
      // 960 -> 666 MB peak RSS without it, same steady step time). R1LAB_ORT_MEM_PATTERN=1 restores it.
      enableMemPattern: !opts.lean && memPattern(),
      ...(opts.lean ? { enableCpuMemArena: false } : {}),
      ...(process.env.R1LAB_ORT_DUMP && this.ep === "cpu"
        ? { optimizedModelFilePath: `${process.env.R1LAB_ORT_DUMP}_${dumped++}.onnx` }
        : {}),
      ...(profilePrefix ? { enableProfiling: true, profileFilePrefix: profilePrefix } : {}),
      ...(this.ep === "webgpu"
        ? {
            executionProviders: [{ name: "webgpu" }],
            preferredOutputLocation: opts.outputLocations ?? "cpu",
          }
        : {}),
    };
    this.native.loadModel(model.buffer, model.byteOffset, model.byteLength, options);
    this.inputNames = this.native.inputMetadata.map((m: { name: string }) => m.name);
    this.outputNames = this.native.outputMetadata.map((m: { name: string }) => m.name);
    if (profilePrefix && !opts.profilePrefix) {
      if (profiled.size === 0) process.once("exit", endOrtProfiling);
      profiled.add(this);
    }
  }

  /** Run with every output written into the given tensors (preallocated, right shape and type). */
  run(feeds: Record<string, OrtTensor>, fetches: Record<string, OrtTensor>): void {
    this.native.run(feeds, fetches, {});
  }

  /** Run and return ORT's own output tensors (host ones, or device ones per `outputLocations`). */
  runReturning(feeds: Record<string, OrtTensor>, outputs: readonly string[]): Record<string, OrtTensor> {
    const fetches: Record<string, null> = {};
    for (const n of outputs) fetches[n] = null;
    return this.native.run(feeds, fetches, {});
  }

  /** Stop profiling; returns the path of the JSON profile ORT wrote. */
  endProfiling(): string {
    return this.native.endProfiling();
  }

  dispose(): void {
    this.native.dispose();
  }
}
