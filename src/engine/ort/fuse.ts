// Fusion rewrites on the lowered ONNX graph, where the profile says elementwise passes cost.
// jax-js writes sigmoid(x) as 1 / (1 + exp(-x)) and SiLU as x * sigmoid(x); after the Sub/Div
// peepholes of the lowering that is Neg, Exp, Add and a Reciprocal or Div: four passes over the
// tensor. The rewrites here turn
//   Reciprocal(Add(Exp(Neg x), 1))  ->  Sigmoid(x)
//   Div(a, Add(Exp(Neg x), 1))      ->  Mul(a, Sigmoid(x))        (SiLU when a = x)
// The matched Neg/Exp/Add stay if something else reads them (pruning removes them otherwise).
// onnxruntime's optimizer then fuses what it knows (MatMul + Add, transposes into MatMul, ...).
import type { NodeSpec } from "../onnx-proto.ts";
import type { Graph } from "./graph.ts";

export function fuse(g: Graph): void {
  const producer = new Map<string, NodeSpec>();
  for (const n of g.nodes) for (const o of n.outputs) producer.set(o, n);
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
      if (x === null) continue;
      const s = sigmoidOf(x, i);
      const node = g.nodes[i + (g.nodes[i] === n ? 0 : 1)];
      Object.assign(node, { op: "Mul", inputs: [n.inputs[0], s] });
    }
  }
}
