// Lowering of a jax-js ClosedJaxpr (from makeJaxpr) to an ONNX model that onnxruntime runs.
// Every primitive r1lab's models, losses and optimizers trace has a rule in rules.ts; anything else
// throws `ORT executor: cannot lower primitive <name>` (there is no silent fallback to jax-js).
// The graph is then rewritten (fuse.ts: SiLU, softmax / log-softmax, RMSNorm; fuse-grad.ts: sums of
// squares, tied-embedding gradients, scalar factors next to MatMuls) and pruned. Graph inputs are
// the jaxpr's inputs in makeJaxpr's flattening order; the trace's captured constants become
// initializers.
import { Graph, type GraphIO, onnxDtype } from "./graph.ts";
import { collapseReshapes, fuse } from "./fuse.ts";
import { fuseGrad } from "./fuse-grad.ts";
import { RULES } from "./rules.ts";
import { type Val, Values, mat } from "./values.ts";

export interface Lowered {
  model: Uint8Array;
  inputs: GraphIO[];
  outputs: GraphIO[];
  /** ONNX operator counts after rewrites. */
  ops: Record<string, number>;
  /** jaxpr equations lowered. */
  eqns: number;
  /** The graph's nodes, inputs and outputs by name (compile.ts checks donation on them). */
  nodes: { inputs: string[]; outputs: string[] }[];
}

export interface LowerOptions {
  /** Host data of the trace's captured constants (closed.consts order). */
  constValues: ArrayBufferView[];
  /** Run the fusion rewrites (default true; tests turn them off to check both forms). */
  fuse?: boolean;
}

type Atom = any;

export const isLiteral = (a: Atom): boolean => "value" in a && !("id" in a);

/**
 * An equation's inputs; weakly typed literals take the dtype of the other operands (jax-js traces
 * `int32 + 1` with a float32 literal and an int32 result; ONNX wants one type).
 */
function readInputs(e: Atom, read: (a: Atom) => Val, g: Graph): Val[] {
  const operands = e.primitive === "where" ? [1, 2] : e.inputs.map((_: Atom, i: number) => i);
  const typed = operands.map((i: number) => e.inputs[i]).find((a: Atom) => !isLiteral(a));
  return e.inputs.map((a: Atom, i: number) => {
    if (!isLiteral(a) || !typed || !operands.includes(i) || a.aval.dtype === typed.aval.dtype) return read(a);
    const dtype = typed.aval.dtype as string;
    return mat(g.scalar(dtype === "bool" ? Number(Boolean(a.value)) : Number(a.value), dtype), [], dtype);
  });
}

export function lowerJaxpr(closed: any, opts: LowerOptions): Lowered {
  const jaxpr = closed.jaxpr.flatten();
  const g = new Graph();
  const vals = new Values(g);
  const env = new Map<Atom, Val>();
  const read = (a: Atom): Val => {
    if (isLiteral(a)) return mat(g.scalar(Number(a.value), a.aval.dtype), [], a.aval.dtype);
    const v = env.get(a);
    if (!v) throw new Error("ORT lowering: a jaxpr variable used before it was defined");
    return v;
  };
  const nConst = closed.consts.length;
  const inputs: GraphIO[] = [];
  jaxpr.inBinders.forEach((v: Atom, i: number) => {
    const { shape, dtype } = v.aval;
    const name = i < nConst ? `const${i}` : `in${i - nConst}`;
    if (i < nConst) g.tensor(name, shape, dtype, opts.constValues[i]);
    else {
      onnxDtype(dtype, `input ${i - nConst}`);
      inputs.push({ name, shape: [...shape], dtype });
    }
    env.set(v, mat(name, shape, dtype));
  });

  const segScatterDots = findSegScatterDots(jaxpr.eqns, jaxpr.outs);
  for (const e of jaxpr.eqns) {
    const prim = e.primitive as string;
    const rule = RULES[prim];
    if (!rule)
      throw new Error(
        `ORT executor: cannot lower primitive '${prim}' (params ${JSON.stringify(e.params ?? {}).slice(0, 160)})`,
      );
    const outs = rule(vals, {
      ins: readInputs(e, read, g),
      inShapes: e.inputs.map((a: Atom) => [...a.aval.shape]),
      outShapes: e.outBinders.map((a: Atom) => [...a.aval.shape]),
      outDtypes: e.outBinders.map((a: Atom) => a.aval.dtype as string),
      params: e.params ?? {},
      prim,
      segScatterDot: segScatterDots.has(e),
    });
    for (const [i, v] of outs.entries()) env.set(e.outBinders[i], v);
  }

  const outputs: GraphIO[] = [];
  jaxpr.outs.forEach((o: Atom, i: number) => {
    const { shape, dtype } = o.aval;
    const v = vals.materialize(read(o), shape);
    const name = `out${i}`;
    g.nodes.push({ op: "Identity", inputs: [vals.nameOf(v)], outputs: [name], name: `o${i}` });
    outputs.push({ name, shape: [...shape], dtype });
  });
  g.prune(outputs.map((o) => o.name));
  if (opts.fuse ?? process.env.R1LAB_ORT_FUSE !== "0") {
    const inputShapes = new Map(inputs.map((i) => [i.name, i.shape]));
    fuse(g, inputShapes);
    fuseGrad(g);
    collapseReshapes(g, inputShapes);
    g.prune(outputs.map((o) => o.name));
  }
  return {
    model: g.encode(inputs, outputs),
    inputs,
    outputs,
    ops: g.opCounts(),
    eqns: jaxpr.eqns.length,
    nodes: g.nodes,
  };
}

/**
 * dot equations whose result is used only by a scatter-add by a sorted vector (a sort's values),
 * through reshapes: the weight gradient of MoE dispatch, which segments.ts computes per expert.
 */
function findSegScatterDots(eqns: Atom[], outs: Atom[]): Set<Atom> {
  const def = new Map<Atom, Atom>();
  const uses = new Map<Atom, number>();
  for (const e of eqns) {
    for (const v of e.outBinders) def.set(v, e);
    for (const a of e.inputs) if (!isLiteral(a)) uses.set(a, (uses.get(a) ?? 0) + 1);
  }
  for (const a of outs) if (!isLiteral(a)) uses.set(a, (uses.get(a) ?? 0) + 1);
  const out = new Set<Atom>();
  for (const e of eqns) {
    if (e.primitive !== "scatter") continue;
    const src = def.get(e.inputs[1]);
    if (!src || !["sort", "argsort"].includes(src.primitive) || src.outBinders[0] !== e.inputs[1]) continue;
    let u = e.inputs[0];
    while (def.get(u)?.primitive === "reshape" && uses.get(u) === 1) u = def.get(u).inputs[0];
    const d = def.get(u);
    if (d?.primitive === "dot" && uses.get(u) === 1) out.add(d);
  }
  return out;
}
