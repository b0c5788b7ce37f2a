// What the program being traced will run on. Model code may choose a different but equal-valued
// form of a computation for the ORT executor: DeepSeekMoE dispatches tokens to only their chosen
// experts there (gathers, argsorts and scatters with distinct indices, which the lowering turns into
// Gather / TopK / ScatterND), while jax-js's `jit` (whose Wasm and WebGPU backends cannot jit a
// scatter) and eager code keep the dense masked form. compile.ts sets the target while tracing.

let target: "ort" | null = null;

/** True while compile() traces a function for the ORT executor. */
export function tracingForOrt(): boolean {
  return target === "ort";
}

/** Run fn with the ORT trace target set (restored afterwards, also on error). */
export function withOrtTrace<T>(fn: () => T): T {
  const prev = target;
  target = "ort";
  try {
    return fn();
  } finally {
    target = prev;
  }
}
