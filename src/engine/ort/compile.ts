// `compileOrt(fn)`: jit's contract on onnxruntime. The first call with a new input signature
// (tree structure, shapes, dtypes) traces fn with makeJaxpr, lowers the jaxpr to ONNX (lower.ts)
// and opens an ORT session; later calls with that signature reuse it. A call reads its inputs to
// host typed arrays, runs the session synchronously, and returns new jax-js arrays (consuming its
// array arguments, as jit does).
// Host mirrors: every array this executor returns remembers the host buffer it was made from, so
// when it comes back as an input (parameters and optimizer moments between steps) it is fed to ORT
// without reading it out of jax-js again.
// On WebGPU (`ep: "webgpu"`) the session runs on onnxruntime's WebGPU execution provider; outputs
// named by `deviceOutputs` stay on the GPU as DeviceTensors (device-tensors.ts), which later calls
// accept as arguments without a copy.
import { createHash } from "node:crypto";
import { type Array as JArray, makeJaxpr, numpy as np, tree } from "../jax.ts";
import { DeviceTensor, isDeviceTensor } from "./device-tensors.ts";
import { type Lowered, lowerJaxpr } from "./lower.ts";
import { type Placement, formatPlacement, profilePrefix, readPlacement } from "./placement.ts";
import { type HostData, type OrtEp, SyncSession, tensor } from "./session.ts";

interface Entry {
  lowered: Lowered;
  session: SyncSession;
  outTree: any;
  /** Flat output indices kept on the device (WebGPU only). */
  onDevice: Set<number>;
  /** Profiling the first run to count nodes per execution provider (WebGPU, when asked). */
  profiling: boolean;
}

const mirrors = new WeakMap<JArray, HostData>();

/**
 * One ORT session per distinct model: functions that lower to the same bytes (the AdamW update of
 * every Trainer with the same parameter shapes, a generation step of equal configs) share it, as
 * creating a session costs seconds for a large graph.
 */
const sessions = new Map<string, SyncSession>();
function sessionFor(
  model: Uint8Array,
  ep: OrtEp = "cpu",
  outputLocations?: Record<string, "cpu" | "gpu-buffer">,
  profile = false,
): SyncSession {
  const key = `${createHash("sha256").update(model).digest("hex")}|${ep}|${JSON.stringify(outputLocations ?? {})}${profile ? "|profiled" : ""}`;
  let s = sessions.get(key);
  if (!s) {
    s = new SyncSession(model, { ep, outputLocations, profilePrefix: profile ? profilePrefix() : undefined });
    sessions.set(key, s);
  }
  return s;
}

/** Statistics of a compiled function (for tests, reports and `bench`). */
export interface CompileStats {
  signatures: number;
  calls: number;
  traceMs: number;
  runMs: number;
  /** ONNX operator counts of the most recently compiled signature. */
  ops: Record<string, number>;
  /** WebGPU with `placement` (or R1LAB_ORT_DEBUG): nodes per execution provider of the last new signature. */
  placement?: Placement;
}

export interface CompileOrtOptions {
  name?: string;
  /** onnxruntime's execution provider: cpu (default) or webgpu. */
  ep?: OrtEp;
  /** WebGPU: top-level outputs that stay on the device (see compile.ts). */
  deviceOutputs?: number[];
  /** WebGPU: count the nodes each provider ran in a new signature's first run (stats.placement). */
  placement?: boolean;
}

export interface CompiledFn {
  (...args: any[]): any;
  stats: CompileStats;
  dispose(): void;
}

/** Host data of an array, without consuming it (mirror when we made it, else a synchronous read). */
export function hostOf(a: JArray): HostData {
  const m = mirrors.get(a);
  if (m) return m;
  const d = a.ref.dataSync() as HostData;
  mirrors.set(a, d);
  return d;
}

/** A jax-js array over host data (its data is copied in; the host buffer becomes its mirror). */
export function arrayOf(data: HostData, shape: number[], dtype: string): JArray {
  let a: JArray;
  if (dtype === "bool")
    a = np
      .array(Int32Array.from(data as Uint8Array), { shape, dtype: "int32" } as never)
      .astype("bool" as never) as JArray;
  else a = np.array(data as Float32Array, { shape, dtype } as never) as JArray;
  mirrors.set(a, data);
  return a;
}

function newHost(dtype: string, n: number): HostData {
  if (dtype === "float32") return new Float32Array(n);
  if (dtype === "int32") return new Int32Array(n);
  if (dtype === "uint32") return new Uint32Array(n);
  if (dtype === "bool") return new Uint8Array(n);
  throw new Error(`ORT executor: cannot return an output of dtype ${dtype}`);
}

const isArr = (x: unknown): x is JArray =>
  typeof x === "object" && x !== null && "dataSync" in x && "shape" in x;

/** Flat output indices under the given top-level outputs of a tree. */
function flatIndicesOf(outTree: any, top: number[] | undefined): Set<number> {
  const set = new Set<number>();
  if (!top || top.length === 0) return set;
  const n = (outTree as { size: number }).size;
  const shaped = tree.unflatten(outTree, Array.from({ length: n }, (_, i) => i) as never) as unknown;
  if (!Array.isArray(shaped)) throw new Error("deviceOutputs needs a function that returns a tuple");
  for (const i of top) for (const j of tree.flatten(shaped[i] as never)[0] as number[]) set.add(j);
  return set;
}

export function compileOrt(fn: (...args: any[]) => any, opts: CompileOrtOptions = {}): CompiledFn {
  const ep = opts.ep ?? "cpu";
  const cache = new Map<string, Entry>();
  const stats: CompileStats = { signatures: 0, calls: 0, traceMs: 0, runMs: 0, ops: {} };
  const call = (...args: any[]) => {
    const [leaves, treedef] = tree.flatten(args as never) as [unknown[], unknown];
    for (const [i, l] of leaves.entries()) {
      if (isDeviceTensor(l) && ep !== "webgpu")
        throw new Error(
          `ORT executor${opts.name ? ` (${opts.name})` : ""}: argument leaf ${i} is a WebGPU device tensor, but this function runs on the CPU`,
        );
      if (!isArr(l) && !isDeviceTensor(l))
        throw new Error(
          `ORT executor${opts.name ? ` (${opts.name})` : ""}: argument leaf ${i} is not an array (${typeof l}); pass arrays only`,
        );
    }
    const arrs = leaves as JArray[];
    const key = `${String(treedef)}|${arrs.map((a) => `${a.dtype}[${a.shape.join(",")}]`).join(";")}`;
    let entry = cache.get(key);
    if (!entry) {
      const t0 = performance.now();
      // Device tensors are traced through stand-ins of their shape and dtype.
      const stand = leaves.map((l) =>
        isDeviceTensor(l) ? (np.zeros(l.shape, { dtype: l.dtype } as never) as JArray) : null,
      );
      const traceArgs = stand.some((x) => x)
        ? (tree.unflatten(treedef as never, leaves.map((l, i) => stand[i] ?? l) as never) as unknown[])
        : args;
      const { jaxpr, treedef: outTree } = makeJaxpr(fn)(...traceArgs);
      for (const x of stand) x?.dispose();
      const constValues = (jaxpr.consts as JArray[]).map((c) => hostOf(c));
      const t1 = performance.now();
      const lowered = lowerJaxpr(jaxpr, { constValues });
      const t2 = performance.now();
      const onDevice = ep === "webgpu" ? flatIndicesOf(outTree, opts.deviceOutputs) : new Set<number>();
      const profiling = ep === "webgpu" && (opts.placement === true || !!process.env.R1LAB_ORT_DEBUG);
      const locations =
        ep === "webgpu"
          ? Object.fromEntries(
              lowered.outputs.map((o, i) => [o.name, onDevice.has(i) ? "gpu-buffer" : "cpu"] as const),
            )
          : undefined;
      entry = {
        lowered,
        session: sessionFor(lowered.model, ep, locations, profiling),
        outTree,
        onDevice,
        profiling,
      };
      if (process.env.R1LAB_ORT_DEBUG) {
        const nodes = Object.values(lowered.ops).reduce((a, b) => a + b, 0);
        const ms = (a: number, b: number) => Math.round(b - a);
        console.error(
          `[ort] ${opts.name ?? "compiled fn"}: ${lowered.eqns} eqns -> ${nodes} nodes; trace ${ms(t0, t1)} ms, lower ${ms(t1, t2)} ms, session ${ms(t2, performance.now())} ms`,
        );
      }
      cache.set(key, entry);
      stats.signatures++;
      stats.traceMs += performance.now() - t0;
      stats.ops = lowered.ops;
    }
    const t1 = performance.now();
    if (ep === "webgpu") {
      const outs = runWebGpu(entry, leaves as (JArray | DeviceTensor)[]);
      if (entry.profiling) {
        entry.profiling = false;
        // A session shared with an earlier compiled function has already written its profile ('').
        const path = entry.session.endProfiling();
        if (path) stats.placement = readPlacement(path);
        if (process.env.R1LAB_ORT_DEBUG && stats.placement)
          console.error(`[ort] ${opts.name ?? "compiled fn"} on WebGPU: ${formatPlacement(stats.placement)}`);
      }
      stats.calls++;
      stats.runMs += performance.now() - t1;
      return tree.unflatten(entry.outTree, outs as never);
    }
    const { lowered, session } = entry;
    const feeds: Record<string, ReturnType<typeof tensor>> = {};
    lowered.inputs.forEach((inp, i) => {
      feeds[inp.name] = tensor(inp.dtype, hostOf(arrs[i]), inp.shape);
    });
    const fetches: Record<string, ReturnType<typeof tensor>> = {};
    const hostOut = lowered.outputs.map((o) =>
      newHost(
        o.dtype,
        o.shape.reduce((a, b) => a * b, 1),
      ),
    );
    lowered.outputs.forEach((o, i) => {
      fetches[o.name] = tensor(o.dtype, hostOut[i], o.shape);
    });
    session.run(feeds, fetches);
    for (const a of arrs) a.dispose();
    const outs = lowered.outputs.map((o, i) => arrayOf(hostOut[i], o.shape, o.dtype));
    stats.calls++;
    stats.runMs += performance.now() - t1;
    return tree.unflatten(entry.outTree, outs as never);
  };
  const compiled = call as CompiledFn;
  compiled.stats = stats;
  compiled.dispose = () => cache.clear(); // sessions stay shared (see sessionFor)
  return compiled;
}

/** One run on the WebGPU EP: device tensors fed as they are, host arrays copied in by ORT. */
function runWebGpu(entry: Entry, args: (JArray | DeviceTensor)[]): (JArray | DeviceTensor)[] {
  const { lowered, session, onDevice } = entry;
  const feeds: Record<string, ReturnType<typeof tensor>> = {};
  lowered.inputs.forEach((inp, i) => {
    const a = args[i];
    feeds[inp.name] = isDeviceTensor(a) ? a.ort() : tensor(inp.dtype, hostOf(a), inp.shape);
  });
  const res = session.runReturning(
    feeds,
    lowered.outputs.map((o) => o.name),
  );
  for (const a of args) a.dispose();
  return lowered.outputs.map((o, i) => {
    const t = res[o.name];
    if (onDevice.has(i)) return new DeviceTensor(t, o.shape, o.dtype);
    return arrayOf(t.data as HostData, o.shape, o.dtype);
  });
}
