// Rewrites for gradient and optimizer programs, where the profile of a real-size training step
// (Qwen2.5-0.5B: a 151,936 x 896 tied embedding) says full passes and full-size temporaries cost:
//   ReduceSum(Mul(x, x))                                  ->  ReduceSumSquare(x)
//     (the gradient norm and RMSNorm: no squared copy of every gradient)
//   Add(X, ScatterND(Expand(0), idx, upd, add))           ->  ScatterND(X, idx, upd, add)
//     (a tied embedding's gradient: the gather's rows are added onto the head's gradient, with no
//      zero table of the vocabulary's size, no second table and no extra pass)
//   Add(X, Reshape(MatMul(OneHot(idx), rows)))             ->  Gemm(OneHot(idx), rows, X)
//     (the same with the small-vocabulary one-hot form: the MatMul accumulates onto X)
//   Reshape*(MatMul(a, b)) * s,  Mul(x, s) -> Reshape* -> MatMul   (s a constant scalar)
//     -> the Mul moves next to the MatMul, where onnxruntime's MatMulScaleFusion folds it into
//        FusedMatMul's alpha (the attention scale; a Reshape between them blocks that fusion)
// Each applies only where the replaced intermediate has no other reader and shapes are known to
// agree (Graph.shapes). Matched nodes left without readers are pruned by the caller.
import type { NodeSpec } from "../onnx-proto.ts";
import type { Graph } from "./graph.ts";

export function fuseGrad(g: Graph): void {
  const producer = new Map<string, NodeSpec>();
  const readers = new Map<string, NodeSpec[]>();
  for (const n of g.nodes) {
    for (const o of n.outputs) producer.set(o, n);
    for (const i of n.inputs) readers.set(i, [...(readers.get(i) ?? []), n]);
  }
  const only = (name: string): NodeSpec | null => {
    const r = readers.get(name);
    return r?.length === 1 ? r[0] : null;
  };
  const init = new Map(g.inits.map((t) => [t.name, t]));
  const i64Of = (name: string): number[] | null => {
    const t = init.get(name);
    return t?.dataType === 7 ? Array.from(new BigInt64Array(t.raw.slice().buffer), Number) : null;
  };
  const isFloatScalar = (name: string): boolean => {
    const t = init.get(name);
    return t !== undefined && t.dataType === 1 && t.dims.reduce((a, b) => a * b, 1) === 1;
  };
  const isZero = (name: string): boolean => {
    const t = init.get(name);
    return t !== undefined && t.dims.length === 0 && t.raw.every((b) => b === 0);
  };
  const same = (a: number[] | undefined | null, b: number[] | undefined | null) =>
    !!a && !!b && a.length === b.length && a.every((d, i) => d === b[i]);
  const isMatMul = (n: NodeSpec | undefined | null) => n?.op === "MatMul";

  for (let k = 0; k < g.nodes.length; k++) {
    const n = g.nodes[k];
    if (n.op === "ReduceSum") {
      const sq = producer.get(n.inputs[0]);
      if (sq?.op === "Mul" && sq.inputs[0] === sq.inputs[1] && only(n.inputs[0]) === n)
        Object.assign(n, { op: "ReduceSumSquare", inputs: [sq.inputs[0], ...n.inputs.slice(1)] });
    } else if (n.op === "Add") {
      for (const [x, s] of [n.inputs, [n.inputs[1], n.inputs[0]]]) {
        if (only(s) !== n || x === s) continue;
        const sc = producer.get(s);
        // Scatter-add from zeros, of X's shape.
        if (sc?.op === "ScatterND" && sc.attrs?.reduction === "add") {
          const ex = producer.get(sc.inputs[0]);
          if (ex?.op !== "Expand" || !isZero(ex.inputs[0])) continue;
          if (!same(i64Of(ex.inputs[1]), g.shapes.get(x))) continue;
          Object.assign(n, {
            op: "ScatterND",
            inputs: [x, sc.inputs[1], sc.inputs[2]],
            attrs: { reduction: "add" },
          });
          break;
        }
        // onehot^T @ rows, reshaped to X's shape: accumulate onto X in a Gemm.
        if (sc?.op === "Reshape") {
          const mm = producer.get(sc.inputs[0]);
          const oh = mm ? producer.get(mm.inputs[0]) : undefined;
          if (!isMatMul(mm) || oh?.op !== "OneHot" || only(sc.inputs[0]) !== sc) continue;
          const xs = g.shapes.get(x);
          const to = i64Of(sc.inputs[1]);
          if (xs?.length !== 2 || !same(to, xs)) continue;
          Object.assign(n, { op: "Gemm", inputs: [mm!.inputs[0], mm!.inputs[1], x], attrs: undefined });
          break;
        }
      }
    } else if (n.op === "Mul" && isFloatScalar(n.inputs[1]) !== isFloatScalar(n.inputs[0])) {
      const [x, s] = isFloatScalar(n.inputs[1]) ? n.inputs : [n.inputs[1], n.inputs[0]];
      // After: MatMul -> Reshape(s) -> Mul(s): move the Mul before the Reshapes.
      const chain: NodeSpec[] = [];
      let p = producer.get(x);
      let out = x;
      while (p?.op === "Reshape" && only(out) === (chain.length ? chain[chain.length - 1] : n)) {
        chain.push(p);
        out = p.inputs[0];
        p = producer.get(out);
      }
      if (chain.length > 0 && isMatMul(p) && only(out) === chain[chain.length - 1]) {
        // MatMul -> Mul -> Reshape... ; the last Reshape writes the Mul's old output.
        const scaled = g.fresh("scaled");
        const last = chain[chain.length - 1];
        const mulOut = n.outputs[0];
        Object.assign(n, { inputs: [out, s], outputs: [scaled] });
        last.inputs = [scaled, last.inputs[1]];
        chain[0].outputs = [mulOut];
        // Keep topological order: the Mul now runs right after the MatMul.
        g.nodes.splice(k, 1);
        g.nodes.splice(g.nodes.indexOf(p!) + 1, 0, n);
        continue;
      }
      // Before: Mul(s) -> Reshape -> MatMul, the Mul's and Reshape's outputs read once.
      const r = only(n.outputs[0]);
      if (r?.op === "Reshape" && isMatMul(only(r.outputs[0]))) {
        const reshaped = g.fresh("reshaped");
        const rOut = r.outputs[0];
        Object.assign(r, { inputs: [x, r.inputs[1]], outputs: [reshaped] });
        Object.assign(n, { inputs: [reshaped, s], outputs: [rOut] });
        // Reshape now feeds the Mul: put the Reshape first.
        g.nodes.splice(g.nodes.indexOf(r), 1);
        g.nodes.splice(g.nodes.indexOf(n), 0, r);
      }
    }
  }
}
