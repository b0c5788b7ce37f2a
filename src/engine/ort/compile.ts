// `compileOrt(fn)`: jit's contract on onnxruntime. The first call with a new input signature
// (tree structure, shapes, dtypes) traces fn with makeJaxpr from the arguments' shapes and dtypes
// alone, lowers the jaxpr to ONNX (lower.ts) and opens an ORT session; later calls with that
// signature reuse it. Arguments are resident tensors (resident.ts: host buffers fed to ORT without a
// copy) or jax-js arrays (read out once); every output is a resident tensor, written by ORT into its
// host buffer, so parameters, moments and caches never enter jax-js's 4 GiB heap. Array arguments
// are consumed, as jit does.
// Donation (JAX's donate_argnums): with `donate`, an output may be written into the buffer of a
// donated argument of the same shape that nobody else holds, when the graph reads that argument only
// on the way to that output (checked on the ONNX graph): AdamW updates parameters and moments in
// place instead of holding two copies of each.
import { createHash } from "node:crypto";
import { type Array as JArray, makeJaxpr, tree } from "../jax.ts";
import { type HostData, ResidentTensor, isResident, newHost } from "../resident.ts";
import { type Lowered, lowerJaxpr } from "./lower.ts";
import { SyncSession, tensor } from "./session.ts";

interface Entry {
  lowered: Lowered;
  session: SyncSession;
  outTree: any;
  /** Per output: the flat argument index whose buffer it may take (donation), or -1. */
  alias: number[];
}

/** Host buffers read out of jax-js arrays, kept while the array lives (constants, repeated inputs). */
const mirrors = new WeakMap<JArray, HostData>();

/**
 * One ORT session per distinct model: functions that lower to the same bytes (the AdamW update of
 * every Trainer with the same parameter shapes, a generation step of equal configs) share it, as
 * creating a session costs seconds for a large graph.
 */
const sessions = new Map<string, SyncSession>();
function sessionFor(model: Uint8Array): SyncSession {
  const key = createHash("sha256").update(model).digest("hex");
  let s = sessions.get(key);
  if (!s) {
    s = new SyncSession(model);
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
  /** Outputs written into a donated argument's buffer, over all calls. */
  donated: number;
}

export interface CompiledFn {
  (...args: any[]): any;
  stats: CompileStats;
  dispose(): void;
}

export interface CompileOrtOptions {
  name?: string;
  /** Argument positions whose buffers outputs may reuse (JAX's donate_argnums). */
  donate?: number[];
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

const isArr = (x: unknown): x is JArray | ResidentTensor =>
  isResident(x) || (typeof x === "object" && x !== null && "dataSync" in x && "shape" in x);

/** The shape and dtype makeJaxpr traces from (a leaf of its argument tree: not a plain object). */
class Aval {
  constructor(
    readonly shape: number[],
    readonly dtype: string,
    readonly weakType: boolean,
  ) {}
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
  const cache = new Map<string, Entry>();
  const stats: CompileStats = { signatures: 0, calls: 0, traceMs: 0, runMs: 0, ops: {}, donated: 0 };
  const call = (...args: any[]) => {
    const [leaves, treedef] = tree.flatten(args as never) as [unknown[], unknown];
    for (const [i, l] of leaves.entries())
      if (!isArr(l))
        throw new Error(
          `ORT executor${opts.name ? ` (${opts.name})` : ""}: argument leaf ${i} is not an array (${typeof l}); pass arrays only`,
        );
    const arrs = leaves as (JArray | ResidentTensor)[];
    const key = `${String(treedef)}|${arrs.map((a) => `${a.dtype}[${a.shape.join(",")}]`).join(";")}`;
    // Which argument (top-level position) each flat leaf belongs to, for donation.
    const argOf: number[] = [];
    args.forEach((a, i) => {
      for (const _ of tree.leaves(a as never) as unknown[]) argOf.push(i);
    });
    let entry = cache.get(key);
    if (!entry) {
      const t0 = performance.now();
      const avals = arrs.map((a) => new Aval([...a.shape], a.dtype, Boolean((a as JArray).weakType)));
      const { jaxpr, treedef: outTree } = makeJaxpr(fn)(
        ...(tree.unflatten(treedef as never, avals as never) as unknown as any[]),
      );
      const constValues = (jaxpr.consts as JArray[]).map((c) => hostOf(c));
      const t1 = performance.now();
      const lowered = lowerJaxpr(jaxpr, { constValues });
      const t2 = performance.now();
      const donated = args.map((_, i) => opts.donate?.includes(i) ?? false);
      const alias = opts.donate ? planAliases(lowered, argOf, donated) : lowered.outputs.map(() => -1);
      entry = { lowered, session: sessionFor(lowered.model), outTree, alias };
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
    const { lowered, session, alias } = entry;
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
