// Tensors that live on the GPU between compiled calls (`--device webgpu` with the ort executor).
// A compiled step on onnxruntime's WebGPU execution provider can leave outputs on the device
// ('gpu-buffer'); fed to the next run (of any session) they are not copied. r1lab keeps parameters,
// AdamW moments, gradients and KV caches that way, and reads back only what the host needs (the
// loss, logits for sampling, metrics), which ride along as host outputs of the same run.
// A DeviceTensor is reference-counted like a jax-js array (`.ref` takes a reference, `.dispose()`
// drops one; compiled calls consume their arguments), so parameter trees can hold either kind.
// Reading a device tensor on the host: onnxruntime-node 1.30's own download (Tensor.getData) is
// "not implemented" and aborts the process, so `download` runs an Identity session whose output
// lands on the host instead. session.run is synchronous: the main thread waits for that read.
import type { Tensor as OrtTensor } from "onnxruntime-node";
import { type Array as JArray, numpy as np } from "../jax.ts";
import { modelProto } from "../onnx-proto.ts";
import { ONNX_DTYPE } from "./graph.ts";
import { type HostData, SyncSession, tensor } from "./session.ts";

/** A tensor resident on the WebGPU device, owned by r1lab. Shape and dtype as jax-js names them. */
export class DeviceTensor {
  private refs = 1;
  private value: OrtTensor | null;

  constructor(
    value: OrtTensor,
    readonly shape: number[],
    readonly dtype: string,
  ) {
    this.value = value;
  }

  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  get ndim(): number {
    return this.shape.length;
  }

  /** A host copy of the values (a synchronous device read). */
  dataSync(): HostData {
    return downloadSync(this).slice();
  }

  async data(): Promise<HostData> {
    return (await download(this)).slice();
  }

  /** A new jax-js array with these values, for eager ops (ops.ts): a device read on every use. */
  toJax(): JArray {
    const d = downloadSync(this);
    if (this.dtype === "bool")
      return np
        .array(Int32Array.from(d as Uint8Array), { shape: this.shape, dtype: "int32" } as never)
        .astype("bool" as never) as JArray;
    return np.array(d as Float32Array, { shape: this.shape, dtype: this.dtype } as never) as JArray;
  }

  toString(): string {
    return `DeviceTensor(${this.dtype}[${this.shape.join(",")}], gpu-buffer)`;
  }

  get disposed(): boolean {
    return this.value === null;
  }

  /** Another reference (the tensor is freed when the last one is disposed). */
  get ref(): DeviceTensor {
    this.check("ref");
    this.refs++;
    return this;
  }

  /** Drop one reference; the device buffer is released with the last. */
  dispose(): void {
    if (!this.value) return;
    if (--this.refs > 0) return;
    this.value.dispose();
    this.value = null;
  }

  /** ORT's tensor, to feed a session. */
  ort(what = "feed"): OrtTensor {
    this.check(what);
    return this.value!;
  }

  private check(what: string): void {
    if (!this.value)
      throw new Error(
        `device tensor [${this.shape.join(",")}] ${this.dtype}: ${what} after it was disposed (a compiled call consumes its arguments; pass refParams(...))`,
      );
  }
}

export const isDeviceTensor = (x: unknown): x is DeviceTensor => x instanceof DeviceTensor;

/** Identity sessions by dtype, rank and direction (symbolic dims, so any shape reuses one). */
const copiers = new Map<string, SyncSession>();
function copier(dtype: string, rank: number, to: "cpu" | "gpu-buffer"): SyncSession {
  const key = `${dtype}/${rank}/${to}`;
  let s = copiers.get(key);
  if (!s) {
    const code = ONNX_DTYPE[dtype];
    if (code === undefined) throw new Error(`device tensors: no ONNX type for dtype ${dtype}`);
    const dims = Array.from({ length: rank }, (_, i) => `d${i}`);
    const chunks = modelProto({
      name: "copy",
      nodes: [{ op: "Identity", inputs: ["x"], outputs: ["y"], name: "copy" }],
      initializers: [],
      inputs: [{ name: "x", dataType: code, dims }],
      outputs: [{ name: "y", dataType: code, dims }],
    });
    const model = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let off = 0;
    for (const c of chunks) {
      model.set(c, off);
      off += c.length;
    }
    s = new SyncSession(model, { ep: "webgpu", threads: 1, outputLocations: { y: to } });
    copiers.set(key, s);
  }
  return s;
}

/** Copy host data onto the device. */
export function upload(data: HostData, shape: number[], dtype: string): DeviceTensor {
  const out = copier(dtype, shape.length, "gpu-buffer").runReturning({ x: tensor(dtype, data, shape) }, [
    "y",
  ]);
  return new DeviceTensor(out.y, [...shape], dtype);
}

/** Read a device tensor back to the host (synchronous: the main thread waits for the GPU). */
export function downloadSync(t: DeviceTensor): HostData {
  const out = copier(t.dtype, t.shape.length, "cpu").runReturning({ x: t.ort("download") }, ["y"]);
  return out.y.data as HostData;
}

/** downloadSync on a later turn of the event loop (lets pending I/O and timers run first). */
export function download(t: DeviceTensor): Promise<HostData> {
  return new Promise((resolve, reject) =>
    setImmediate(() => {
      try {
        resolve(downloadSync(t));
      } catch (e) {
        reject(e);
      }
    }),
  );
}
