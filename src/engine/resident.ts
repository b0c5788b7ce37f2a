// Resident tensors: state that lives outside jax-js's Wasm heap (parameters, AdamW moments, KV
// caches, the outputs of ORT-compiled steps). jax-js's memory32 heap caps everything it holds at
// 4 GiB; a 0.5B model's AdamW state alone is 8 GB. On the ORT executor such state is a typed array
// (location 'cpu') fed to onnxruntime without a copy, or, on a GPU execution provider, an ORT
// tensor that stays on the device (location 'gpu-buffer', held in `device`).
//
// A ResidentTensor stands in for a jax-js array where state is passed around: it has shape, dtype,
// `ref` and `dispose()` with jax-js's counting (an owner takes `ref`, a consuming call disposes),
// `data()` / `dataSync()`, and makeJaxpr traces it from its shape and dtype alone. Eager ops
// (ops.ts) copy it into a jax-js array on use; compiled steps read its buffer directly. The count
// lets a compiled step reuse ("donate") the buffer of an argument nobody else holds.
import { type Array as JArray, numpy as np } from "./jax.ts";

export type HostData = Float32Array | Int32Array | Uint8Array | Uint32Array;
export type Location = "cpu" | "gpu-buffer";

/** Resident tensors made in this process and the bytes they cover (views count their span). */
const made = { count: 0, bytes: 0 };

export class ResidentTensor {
  readonly shape: number[];
  readonly dtype: string;
  readonly weakType = false;
  readonly location: Location;
  /** The values (location 'cpu'); written in place by donated compiled steps and cache writes. */
  host: HostData;
  /** An ORT tensor on the device (location 'gpu-buffer'); null on the CPU. */
  device: unknown = null;
  /** Owners: 1 at creation, +1 per `ref`, -1 per `dispose()`. */
  refs = 1;

  constructor(host: HostData, shape: number[], dtype: string, location: Location = "cpu") {
    const n = shape.reduce((a, b) => a * b, 1);
    if (host.length !== n)
      throw new Error(`ResidentTensor: ${host.length} values for shape [${shape.join(", ")}] (${n})`);
    this.host = host;
    this.shape = [...shape];
    this.dtype = dtype;
    this.location = location;
    made.count++;
    made.bytes += host.byteLength;
  }

  get size(): number {
    return this.host.length;
  }
  get ndim(): number {
    return this.shape.length;
  }
  /** A new owner (jax-js's `.ref`): the same tensor, counted. */
  get ref(): this {
    this.refs++;
    return this;
  }
  /** Drop one owner. The memory belongs to the garbage collector; the count only guards donation. */
  dispose(): void {
    if (this.refs > 0) this.refs--;
  }
  /** A copy of the values (jax-js's `data()` hands out a copy too; callers may keep or change it). */
  async data(): Promise<HostData> {
    return this.dataSync();
  }
  dataSync(): HostData {
    return this.host.slice();
  }
  /** A new jax-js array with these values (for eager ops; counted by jax-js, not here). */
  toJax(): JArray {
    if (this.dtype === "bool")
      return np
        .array(Int32Array.from(this.host), { shape: this.shape, dtype: "int32" } as never)
        .astype("bool" as never) as JArray;
    return np.array(this.host as Float32Array, { shape: this.shape, dtype: this.dtype } as never) as JArray;
  }
  toString(): string {
    return `ResidentTensor(${this.dtype}[${this.shape.join(",")}], ${this.location})`;
  }
}

export const isResident = (x: unknown): x is ResidentTensor => x instanceof ResidentTensor;

/** Zero-filled typed array of a dtype. */
export function newHost(dtype: string, n: number): HostData {
  if (dtype === "float32") return new Float32Array(n);
  if (dtype === "int32") return new Int32Array(n);
  if (dtype === "uint32") return new Uint32Array(n);
  if (dtype === "bool") return new Uint8Array(n);
  throw new Error(`no host buffer type for dtype ${dtype}`);
}

/** A resident tensor of zeros. */
export function residentZeros(shape: number[], dtype = "float32"): ResidentTensor {
  return new ResidentTensor(
    newHost(
      dtype,
      shape.reduce((a, b) => a * b, 1),
    ),
    shape,
    dtype,
  );
}

/** A resident copy of a jax-js array (consumes nothing; the jax-js array is read once). */
export function residentOf(a: JArray): ResidentTensor {
  const d = a.ref.dataSync() as HostData;
  return new ResidentTensor(a.dtype === "bool" ? Uint8Array.from(d) : d, [...a.shape], a.dtype);
}

/** Resident tensors made so far and their bytes (tests check how much state a program moves). */
export const residentStats = (): { count: number; bytes: number } => ({ ...made });
