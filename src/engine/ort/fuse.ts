// Fusion rewrites on the lowered ONNX graph, where the profile says elementwise passes cost.
// jax-js writes its composite functions out in primitives; after the Sub/Div peepholes of the
// lowering they are chains of full passes over a tensor, which these rewrites turn into one op:
//   Reciprocal(Add(Exp(Neg x), 1))                     ->  Sigmoid(x)
//   Div(a, Add(Exp(Neg x), 1))                         ->  Mul(a, Sigmoid(x))   (SiLU when a = x)
//   Div(Exp(x - max x), sum Exp(x - max x))            ->  Softmax(x)           (last axis)
//   (x - max x) - Log(sum Exp(x - max x))              ->  LogSoftmax(x)        (last axis)
//   Mul(Div(x, Sqrt(sum(x*x) * 1/D + eps)), w)         ->  SimplifiedLayerNormalization(x, w)  (RMSNorm)
//   Reshape(Reshape(x)), Reshape(x) to its own shape   ->  one Reshape, none  (collapseReshapes)
// (max and sum over the last axis, kept as a unit axis.) The softmax, log-softmax and RMSNorm
// rewrites apply only where the chain's intermediates have no other reader, i.e. in forward
// programs (generation, evaluation, reference log-probs): a gradient program reads them again in
// its backward pass, and the fused op would only add a pass there. Matched nodes left without
// readers are pruned by the caller. onnxruntime's optimizer then fuses what it knows (MatMul + Add,
// transposes and scalar factors into MatMul, x * Sigmoid(x) into QuickGelu, ...).
import type { NodeSpec } from "../onnx-proto.ts";
import type { Graph } from "./graph.ts";

/** Shapes of the graph's inputs (parameters), by name: RMSNorm's weight gives D. */
export type InputShapes = Map<string, number[]>;

export function fuse(g: Graph, inputShapes: InputShapes = new Map()): void {
  const producer = new Map<string, NodeSpec>();
  const readers = new Map<string, number>();
  for (const n of g.nodes) {
    for (const o of n.outputs) producer.set(o, n);
    for (const i of n.inputs) readers.set(i, (readers.get(i) ?? 0) + 1);
  }
  const only = (name: string, count: number) => (readers.get(name) ?? 0) === count;
  const init = new Map(g.inits.map((t) => [t.name, t]));
  /** Values of a constant (int64 or float32 initializer), else null. */
  const constOf = (name: string): number[] | null => {
    const t = init.get(name);
    if (!t) return null;
    const raw = t.raw;
    if (t.dataType === 7) return Array.from(new BigInt64Array(raw.slice().buffer), (v) => Number(v));
    if (t.dataType === 1) return Array.from(new Float32Array(raw.slice().buffer));
    return null;
  };
  const scalarOf = (name: string): number | null => {
    const v = constOf(name);
    return v && v.length === 1 ? v[0] : null;
  };
  /**
   * x when `name` is Reshape*(Reduce<op>(x, [r-1], keepdims)) and the last Reshape gives rank r
   * with a unit last axis (a reduction over the last axis, kept), and every link has one reader.
   */
  const lastAxisReduce = (name: string, op: string): string | null => {
    let n = producer.get(name);
    let rank: number | null = null;
    while (n?.op === "Reshape") {
      if (rank === null) {
        const shape = constOf(n.inputs[1]);
        if (!shape?.length || shape[shape.length - 1] !== 1) return null;
        rank = shape.length;
      }
      if (!only(n.inputs[0], 1)) return null;
      n = producer.get(n.inputs[0]);
    }
    if (n?.op !== op || rank === null || n.attrs?.keepdims !== 1) return null;
    const axes = constOf(n.inputs[1]);
    if (axes?.length !== 1 || (axes[0] !== rank - 1 && axes[0] !== -1)) return null;
    return n.inputs[0];
  };
  /** x when `name` is Sub(x, max over the last axis of x), read only as allowed. */
  const shiftedBy = (name: string): string | null => {
    const sub = producer.get(name);
    if (sub?.op !== "Sub") return null;
    return lastAxisReduce(sub.inputs[1], "ReduceMax") === sub.inputs[0] ? sub.inputs[0] : null;
  };
  /** (F = x - max x, x) when `name` is the sum over the last axis of Exp(F). */
  const sumExp = (name: string): { e: string; f: string; x: string } | null => {
    const e = lastAxisReduce(name, "ReduceSum");
    const exp = e ? producer.get(e) : undefined;
    if (!e || exp?.op !== "Exp") return null;
    const x = shiftedBy(exp.inputs[0]);
    return x ? { e, f: exp.inputs[0], x } : null;
  };

  // --- Sigmoid / SiLU ---
  const one = g.constName(1, "float32");
  /** x when `name` is 1 + exp(-x) (either operand order), else null. */
  const onePlusExpNeg = (name: string): string | null => {
    const add = producer.get(name);
    if (!one || add?.op !== "Add") return null;
    const other = add.inputs[0] === one ? add.inputs[1] : add.inputs[1] === one ? add.inputs[0] : null;
    const exp = other ? producer.get(other) : undefined;
    if (exp?.op !== "Exp") return null;
    const neg = producer.get(exp.inputs[0]);
    return neg?.op === "Neg" ? neg.inputs[0] : null;
  };
  const sigmoids = new Map<string, string>(); // x -> Sigmoid(x), one per x
  const sigmoidOf = (x: string, at: number): string => {
    let s = sigmoids.get(x);
    if (!s) {
      s = g.fresh("sig");
      g.nodes.splice(at, 0, { op: "Sigmoid", inputs: [x], outputs: [s], name: `fuse_${s}` });
      sigmoids.set(x, s);
    }
    return s;
  };

  for (let i = 0; i < g.nodes.length; i++) {
    const n = g.nodes[i];
    if (n.op === "Reciprocal") {
      const x = onePlusExpNeg(n.inputs[0]);
      if (x === null) continue;
      const s = sigmoidOf(x, i);
      const node = g.nodes[i + (g.nodes[i] === n ? 0 : 1)];
      Object.assign(node, { op: "Identity", inputs: [s] });
    } else if (n.op === "Div") {
      const x = onePlusExpNeg(n.inputs[1]);
      if (x !== null) {
        const s = sigmoidOf(x, i);
        const node = g.nodes[i + (g.nodes[i] === n ? 0 : 1)];
        Object.assign(node, { op: "Mul", inputs: [n.inputs[0], s] });
        continue;
      }
      // Softmax: Div(E, sum E) with E = Exp(x - max x) read by nothing else.
      const s = sumExp(n.inputs[1]);
      if (s && s.e === n.inputs[0] && only(n.inputs[1], 1) && only(s.e, 2) && only(s.f, 1))
        Object.assign(n, { op: "Softmax", inputs: [s.x], attrs: { axis: -1 } });
    } else if (n.op === "Sub") {
      // LogSoftmax: F - Log(sum Exp(F)) with F = x - max x read by nothing else.
      const log = producer.get(n.inputs[1]);
      if (log?.op !== "Log" || !only(n.inputs[1], 1) || !only(log.inputs[0], 1)) continue;
      const s = sumExp(log.inputs[0]);
      if (s && s.f === n.inputs[0] && only(s.e, 1) && only(s.f, 2))
        Object.assign(n, { op: "LogSoftmax", inputs: [s.x], attrs: { axis: -1 } });
    } else if (n.op === "Mul") {
      const r = rmsNormOf(n);
      if (r)
        Object.assign(n, {
          op: "SimplifiedLayerNormalization",
          inputs: [r.x, r.w],
          attrs: { axis: -1, epsilon: { float: r.eps } },
        });
    }
  }

  /** RMSNorm's x, weight and epsilon when `n` is Mul(Div(x, Sqrt(mean(x*x) + eps)), w). */
  function rmsNormOf(n: NodeSpec): { x: string; w: string; eps: number } | null {
    for (const [yName, wView] of [n.inputs, [n.inputs[1], n.inputs[0]]]) {
      const div = producer.get(yName);
      // The weight [D], often reshaped to x's rank (leading unit axes) first.
      let w = wView;
      while (producer.get(w)?.op === "Reshape") w = producer.get(w)!.inputs[0];
      const D = inputShapes.get(w) ?? init.get(w)?.dims;
      if (div?.op !== "Div" || !only(yName, 1) || !D || D.length !== 1) continue;
      const [x, sd] = div.inputs;
      const sqrt = producer.get(sd);
      if (sqrt?.op !== "Sqrt" || !only(sd, 1) || !only(sqrt.inputs[0], 1)) continue;
      const add = producer.get(sqrt.inputs[0]);
      if (add?.op !== "Add") continue;
      const [ms, epsName] = scalarOf(add.inputs[1]) !== null ? add.inputs : [add.inputs[1], add.inputs[0]];
      const eps = scalarOf(epsName);
      const mul = producer.get(ms);
      if (eps === null || mul?.op !== "Mul" || !only(ms, 1)) continue;
      const [ss, invName] = scalarOf(mul.inputs[1]) !== null ? mul.inputs : [mul.inputs[1], mul.inputs[0]];
      const inv = scalarOf(invName);
      if (inv === null || Math.abs(inv * D[0] - 1) > 1e-6 || !only(ss, 1)) continue;
      const sq = lastAxisReduce(ss, "ReduceSum");
      const sqNode = sq ? producer.get(sq) : undefined;
      if (!sq || !only(sq, 1) || sqNode?.op !== "Mul" || sqNode.inputs[0] !== x || sqNode.inputs[1] !== x)
        continue;
      return { x, w, eps };
    }
    return null;
  }
}

/**
 * Reshape chains: Reshape(Reshape(x, s1), s2) reads x directly (the inner one stays only if
 * something else reads it), and a Reshape of a tensor whose shape is known to be its target already
 * (a graph input, or a shape a rule recorded) is dropped. The lowering emits one Reshape per
 * operand and result of every product; each is an onnxruntime kernel call at every run, which for
 * a decode step of a small model is a good share of the step. Targets with a 0 (ONNX's "copy this
 * dim from the input") are left alone.
 */
export function collapseReshapes(g: Graph, inputShapes: InputShapes = new Map()): void {
  const init = new Map(g.inits.map((t) => [t.name, t]));
  const targetOf = (name: string): number[] | null => {
    const t = init.get(name);
    if (t?.dataType !== 7) return null;
    const v = Array.from(new BigInt64Array(t.raw.slice().buffer), (x) => Number(x));
    return v.includes(0) ? null : v;
  };
  const producer = new Map<string, NodeSpec>();
  const alias = new Map<string, string>();
  const same = (a: number[] | undefined, b: number[]) =>
    !!a && a.length === b.length && a.every((d, i) => d === b[i]);
  for (const n of g.nodes) {
    n.inputs = n.inputs.map((x) => alias.get(x) ?? x);
    if (n.op === "Reshape") {
      const target = targetOf(n.inputs[1]);
      if (target) {
        const inner = producer.get(n.inputs[0]);
        if (inner?.op === "Reshape" && targetOf(inner.inputs[1])) n.inputs = [inner.inputs[0], n.inputs[1]];
        const x = n.inputs[0];
        if (same(inputShapes.get(x) ?? g.shapes.get(x), target)) {
          alias.set(n.outputs[0], x);
          continue;
        }
      }
    }
    for (const o of n.outputs) producer.set(o, n);
  }
}
