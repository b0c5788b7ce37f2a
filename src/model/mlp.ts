// SwiGLU feed-forward (Shazeer 2020), the FFN of Llama, Qwen2 and of each DeepSeekMoE expert:
//   y = W_down( silu(W_gate x) * W_up x )          x: [..., D] -> [..., D]
import { type Arr, mul, silu } from "../engine/ops.ts";
import type { Params } from "../engine/params.ts";
import { linear } from "./linear.ts";

export function swiglu(p: Params, prefix: string, x: Arr): Arr {
  const gate = silu(linear(x, p[`${prefix}.gate_proj.weight`]));
  return linear(mul(gate, linear(x, p[`${prefix}.up_proj.weight`])), p[`${prefix}.down_proj.weight`]);
}
