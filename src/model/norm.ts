// RMSNorm (Zhang & Sennrich 2019), as Llama/Qwen2/DeepSeek use it:
//   y = x / sqrt(mean(x^2) + eps) * weight        x: [..., dim], weight: [dim]
import { type Arr, add, mean, mul, rsqrt, square } from "../engine/ops.ts";

export function rmsNorm(x: Arr, weight: Arr, eps: number): Arr {
  const inv = rsqrt(add(mean(square(x), -1, { keepdims: true }), eps));
  return mul(mul(x, inv), weight);
}
