// `compileOrt(fn)`: jit's contract on onnxruntime. The first call with a new input signature
// (tree structure, shapes, dtypes) traces fn with makeJaxpr from the arguments' shapes and dtypes
// alone, lowers the jaxpr to ONNX (lower.ts) and opens an ORT session; later calls with that
// signature reuse it. Arguments are resident tensors (resident.ts: host buffers fed to ORT without a
// copy), WebGPU device tensors, or jax-js arrays (read out once); on the CPU every output is a
// resident tensor, written by ORT into its host buffer, so parameters, moments and caches never
// enter jax-js's 4 GiB heap. Array arguments are consumed, as jit does.
// Donation (JAX's donate_argnums): with `donate`, an output may be written into the buffer of a
// donated argument of the same shape that nobody else holds, when the graph reads that argument only
// on the way to that output (checked on the ONNX graph): AdamW updates parameters and moments in
// place instead of holding two copies of each.
// On WebGPU (`ep: "webgpu"`) the session runs on onnxruntime's WebGPU execution provider; outputs
// named by `deviceOutputs` stay on the GPU as DeviceTensors (device-tensors.ts), which later calls
// accept as arguments without a copy.
import { createHash } from "node:crypto";
import { type Array as JArray, makeJaxpr, numpy as np, tree } from "../jax.ts";
import { ResidentTensor, isResident, newHost } from "../resident.ts";
import { DeviceTensor, isDeviceTensor } from "./device-tensors.ts";
import { type Lowered, lowerJaxpr } from "./lower.ts";
import { type Placement, formatPlacement, profilePrefix, readPlacement } from "./placement.ts";
import { type HostData, type OrtEp, SyncSession, tensor } from "./session.ts";

interface Entry {
  lowered: Lowered;
  spec: SessionSpec;
  outTree: any;
  /** Flat output indices kept on the device (WebGPU only). */
  onDevice: Set<number>;
  /** Profiling the first run to count nodes per execution provider (WebGPU, when asked). */
  profiling: boolean;
  /** Per output: the flat argument index whose buffer it may take (donation, CPU), or -1. */
  alias: number[];
}

const mirrors = new WeakMap<JArray, HostData>();

/**
 * One ORT session per distinct model: functions that lower to the same bytes (the AdamW update of
 * every Trainer with the same parameter shapes, a generation step of equal configs) share it, as
 * creating a session costs seconds for a large graph.
 * The cache is bounded: each CPU session keeps its arena (the peak of its intermediates) for its
 * whole life, and a long run compiles many shapes (generation at every batch size the rollouts
 * shrink to, prefill lengths, training batches): the default `r1lab r1` preset grew to 23 GB with
 * an unbounded cache. Past R1LAB_ORT_MAX_SESSIONS (default 24) CPU sessions, the least recently
 * used one is released; a function that needs it again reopens it from its lowered model (tens of
 * milliseconds for r1lab's small graphs). WebGPU and profiled sessions are never released.
 */
interface SessionSpec {
  key: string;
  model: Uint8Array;
  ep: OrtEp;
  outputLocations?: Record<string, "cpu" | "gpu-buffer">;
  profile: boolean;
  lean: boolean;
}
/** Open sessions, least recently used first, each with the spec that opened it. */
const sessions = new Map<string, { session: SyncSession; spec: SessionSpec }>();
const MAX_SESSIONS = Math.max(1, Number(process.env.R1LAB_ORT_MAX_SESSIONS ?? 24));

function sessionSpec(
  model: Uint8Array,
  ep: OrtEp = "cpu",
  outputLocations?: Record<string, "cpu" | "gpu-buffer">,
  profile = false,
  lean = false,
): SessionSpec {
  const key = `${createHash("sha256").update(model).digest("hex")}|${ep}|${JSON.stringify(outputLocations ?? {})}${profile ? "|profiled" : ""}`;
  return { key, model, ep, outputLocations, profile, lean };
}

const releasable = (spec: SessionSpec): boolean => spec.ep === "cpu" && !spec.profile;

/** The open session of a spec (reopened if it was released), marked most recently used. */
function sessionFor(spec: SessionSpec): SyncSession {
  const open = sessions.get(spec.key);
  if (open) {
    sessions.delete(spec.key);
    sessions.set(spec.key, open);
    return open.session;
  }
  const session = new SyncSession(spec.model, {
    ep: spec.ep,
    outputLocations: spec.outputLocations,
    profilePrefix: spec.profile ? profilePrefix() : undefined,
    lean: spec.lean,
  });
  sessions.set(spec.key, { session, spec });
  let count = [...sessions.values()].filter((o) => releasable(o.spec)).length;
  for (const [k, o] of sessions) {
    if (count <= MAX_SESSIONS) break;
    if (k === spec.key || !releasable(o.spec)) continue;
    sessions.delete(k);
    o.session.dispose();
    count--;
  }
  return session;
}

/** How many ORT sessions are open now (tests, debugging). */
export const openSessions = (): number => sessions.size;

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
  /** Outputs written into a donated argument's buffer, over all calls. */
  donated: number;
}

export interface CompileOrtOptions {
  name?: string;
  /** onnxruntime's execution provider: cpu (default) or webgpu. */
  ep?: OrtEp;
  /** WebGPU: top-level outputs that stay on the device (see compile.ts). */
  deviceOutputs?: number[];
  /** WebGPU: count the nodes each provider ran in a new signature's first run (stats.placement). */
  placement?: boolean;
  /** CPU: argument positions whose buffers outputs may reuse (JAX's donate_argnums). */
  donate?: number[];
}

export interface CompiledFn {
  (...args: any[]): any;
  stats: CompileStats;
  dispose(): void;
}

/** Host data of an array or resident tensor, without consuming it. */
export function hostOf(a: JArray | ResidentTensor): HostData {
  if (isResident(a)) {
    if (a.location !== "cpu") throw new Error(`ORT executor: ${a} is not on the CPU`);
    return a.host;
  }
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

const isArr = (x: unknown): x is JArray | ResidentTensor =>
  isResident(x) || (typeof x === "object" && x !== null && "dataSync" in x && "shape" in x);

/**
 * Programs whose inputs exceed this many bytes (a real-size model's weights) run in lean sessions
 * (session.ts): ORT gives their intermediates back after each run instead of keeping each
 * session's peak allocated, which at 0.5B parameters is several GB per session.
 */
const LEAN_BYTES = Number(process.env.R1LAB_ORT_LEAN_BYTES ?? 2 ** 30);
const stateBytes = (l: Lowered): number =>
  l.inputs.reduce((n, i) => n + 4 * i.shape.reduce((a, b) => a * b, 1), 0);

/** The shape and dtype makeJaxpr traces from (a leaf of its argument tree: not a plain object). */
class Aval {
  constructor(
    readonly shape: number[],
    readonly dtype: string,
    readonly weakType: boolean,
  ) {}
}

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

/**
 * Which argument buffer each output may be written into: a donated argument of the same shape and
 * dtype, in order, that the graph reads only on the way to that output (every node reading it is
 * an ancestor of the output's producer), so ORT has read it before it writes the output.
 */
function planAliases(lowered: Lowered, argIdx: number[], donatedArg: boolean[]): number[] {
  const producer = new Map<string, number>();
  lowered.nodes.forEach((n, i) => {
    for (const o of n.outputs) producer.set(o, i);
  });
  const readers = new Map<string, number[]>();
  lowered.nodes.forEach((n, i) => {
    for (const x of n.inputs) {
      const r = readers.get(x) ?? [];
      r.push(i);
      readers.set(x, r);
    }
  });
  const ancestors = (start: number): Set<number> => {
    const seen = new Set<number>([start]);
    const stack = [start];
    while (stack.length > 0) {
      for (const x of lowered.nodes[stack.pop()!].inputs) {
        const p = producer.get(x);
        if (p !== undefined && !seen.has(p)) {
          seen.add(p);
          stack.push(p);
        }
      }
    }
    return seen;
  };
  const taken = new Set<number>();
  return lowered.outputs.map((o) => {
    const prod = producer.get(o.name);
    if (prod === undefined) return -1;
    let anc: Set<number> | null = null;
    for (let j = 0; j < lowered.inputs.length; j++) {
      const inp = lowered.inputs[j];
      if (!donatedArg[argIdx[j]] || taken.has(j) || inp.dtype !== o.dtype) continue;
      if (inp.shape.join(",") !== o.shape.join(",")) continue;
      anc ??= ancestors(prod);
      const a = anc;
      if (!(readers.get(inp.name) ?? []).every((r) => a.has(r))) continue;
      taken.add(j);
      return j;
    }
    return -1;
  });
}

export function compileOrt(fn: (...args: any[]) => any, opts: CompileOrtOptions = {}): CompiledFn {
  const ep = opts.ep ?? "cpu";
  const cache = new Map<string, Entry>();
  const stats: CompileStats = { signatures: 0, calls: 0, traceMs: 0, runMs: 0, ops: {}, donated: 0 };
  // The last signature called, with its argument structure: the next call with the same structure
  // and leaf shapes is recognised by one walk, without building its key (generation calls its step
  // with ~150 arguments once per token).
  let last: { template: Template; entry: Entry } | null = null;
  const call = (...args: any[]) => {
    let leaves: unknown[] = [];
    let entry =
      last && matches(args, last.template, leaves) && sameSigs(last.entry, leaves) ? last.entry : undefined;
    let treedef: unknown = null;
    if (!entry) [leaves, treedef] = tree.flatten(args as never) as [unknown[], unknown];
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
    const arrs = leaves as (JArray | ResidentTensor)[];
    const key = entry
      ? ""
      : `${String(treedef)}|${arrs.map((a) => `${a.dtype}[${a.shape.join(",")}]`).join(";")}`;
    entry ??= cache.get(key);
    if (!entry) {
      const t0 = performance.now();
      // Traced from shapes and dtypes alone: no argument's values are read (or need to exist).
      const avals = leaves.map(
        (l) => new Aval([...(l as JArray).shape], (l as JArray).dtype, Boolean((l as JArray).weakType)),
      );
      const { jaxpr, treedef: outTree } = makeJaxpr(fn)(
        ...(tree.unflatten(treedef as never, avals as never) as unknown as any[]),
      );
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
      // Which argument (top-level position) each flat leaf belongs to, for donation.
      const argOf: number[] = [];
      args.forEach((a, i) => {
        for (const _ of tree.leaves(a as never) as unknown[]) argOf.push(i);
      });
      const donated = args.map((_, i) => ep === "cpu" && (opts.donate?.includes(i) ?? false));
      entry = {
        lowered,
        spec: sessionSpec(
          lowered.model,
          ep,
          locations,
          profiling,
          ep === "cpu" && stateBytes(lowered) > LEAN_BYTES,
        ),
        outTree,
        onDevice,
        profiling,
        alias: donated.some((d) => d) ? planAliases(lowered, argOf, donated) : lowered.outputs.map(() => -1),
      };
      sessionFor(entry.spec); // opened now, so its cost shows in the timing below
      if (process.env.R1LAB_ORT_DEBUG) {
        const nodes = Object.values(lowered.ops).reduce((a, b) => a + b, 0);
        const ms = (a: number, b: number) => Math.round(b - a);
        console.error(
          `[ort] ${opts.name ?? "compiled fn"}: ${lowered.eqns} eqns -> ${nodes} nodes (${(lowered.model.byteLength / 2 ** 20).toFixed(1)} MiB); trace ${ms(t0, t1)} ms, lower ${ms(t1, t2)} ms, session ${ms(t2, performance.now())} ms`,
        );
      }
      cache.set(key, entry);
      stats.signatures++;
      stats.traceMs += performance.now() - t0;
      stats.ops = lowered.ops;
    }
    if (last?.entry !== entry) last = { template: templateOf(args), entry };
    const t1 = performance.now();
    if (ep === "webgpu") {
      const outs = runWebGpu(entry, leaves as (JArray | DeviceTensor)[]);
      if (entry.profiling) {
        entry.profiling = false;
        // A session shared with an earlier compiled function has already written its profile ('').
        const path = sessionFor(entry.spec).endProfiling();
        if (path) stats.placement = readPlacement(path);
        if (process.env.R1LAB_ORT_DEBUG && stats.placement)
          console.error(`[ort] ${opts.name ?? "compiled fn"} on WebGPU: ${formatPlacement(stats.placement)}`);
      }
      stats.calls++;
      stats.runMs += performance.now() - t1;
      return tree.unflatten(entry.outTree, outs as never);
    }
    const { lowered, alias } = entry;
    const session = sessionFor(entry.spec);
    const feeds: Record<string, ReturnType<typeof tensor>> = {};
    lowered.inputs.forEach((inp, i) => {
      feeds[inp.name] = tensor(inp.dtype, hostOf(arrs[i]), inp.shape);
    });
    const fetches: Record<string, ReturnType<typeof tensor>> = {};
    const hostOut = lowered.outputs.map((o, i) => {
      const a = alias[i] >= 0 ? arrs[alias[i]] : null;
      // Donate only a resident buffer this call holds the last reference to.
      if (a && isResident(a) && a.refs <= 1 && a.location === "cpu") {
        stats.donated++;
        return a.host;
      }
      return newHost(
        o.dtype,
        o.shape.reduce((x, y) => x * y, 1),
      );
    });
    lowered.outputs.forEach((o, i) => {
      fetches[o.name] = tensor(o.dtype, hostOut[i], o.shape);
    });
    session.run(feeds, fetches);
    for (const a of arrs) a.dispose();
    const outs = lowered.outputs.map((o, i) => new ResidentTensor(hostOut[i], o.shape, o.dtype));
    stats.calls++;
    stats.runMs += performance.now() - t1;
    return tree.unflatten(entry.outTree, outs as never);
  };
  const compiled = call as CompiledFn;
  compiled.stats = stats;
  compiled.dispose = () => cache.clear(); // sessions stay shared (see sessionFor)
  return compiled;
}

/**
 * The nesting of a call's arguments as jax-js's tree.flatten sees it: arrays, plain objects (keys in
 * order) and leaves (null).
 */
type Template = null | { keys: string[] | null; kids: Template[] };

function templateOf(x: unknown): Template {
  if (Array.isArray(x)) return { keys: null, kids: x.map(templateOf) };
  if (typeof x === "object" && x !== null && x.constructor === Object) {
    const keys = Object.keys(x);
    return { keys, kids: keys.map((k) => templateOf((x as Record<string, unknown>)[k])) };
  }
  return null;
}

/** Whether x has structure t; its leaves are appended to `leaves` in tree.flatten's order. */
function matches(x: unknown, t: Template, leaves: unknown[]): boolean {
  if (t === null) {
    if (Array.isArray(x) || (typeof x === "object" && x !== null && x.constructor === Object)) return false;
    leaves.push(x);
    return true;
  }
  if (t.keys === null) {
    if (!Array.isArray(x) || x.length !== t.kids.length) return false;
    for (let i = 0; i < x.length; i++) if (!matches(x[i], t.kids[i], leaves)) return false;
    return true;
  }
  if (typeof x !== "object" || x === null || x.constructor !== Object) return false;
  let i = 0;
  for (const k in x) {
    if (k !== t.keys[i] || !matches((x as Record<string, unknown>)[k], t.kids[i], leaves)) return false;
    i++;
  }
  return i === t.keys.length;
}

/** Whether the leaves have the dtypes and shapes of the entry's graph inputs. */
function sameSigs(entry: Entry, leaves: unknown[]): boolean {
  const inputs = entry.lowered.inputs;
  if (leaves.length !== inputs.length) return false;
  for (let i = 0; i < leaves.length; i++) {
    const a = leaves[i] as { dtype?: string; shape?: number[] } | null;
    const want = inputs[i];
    if (!a || a.dtype !== want.dtype || a.shape?.length !== want.shape.length) return false;
    for (let d = 0; d < want.shape.length; d++) if (a.shape[d] !== want.shape[d]) return false;
  }
  return true;
}

/** One run on the WebGPU EP: device tensors fed as they are, host arrays copied in by ORT. */
function runWebGpu(
  entry: Entry,
  args: (JArray | ResidentTensor | DeviceTensor)[],
): (JArray | DeviceTensor)[] {
  const { lowered, onDevice } = entry;
  const session = sessionFor(entry.spec);
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
