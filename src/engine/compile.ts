// `compile(fn)`: what call sites use instead of jax-js's `jit(fn)`, on the executor the process
// chose (executor.ts). Same contract as jit: trace once per input signature, consume the array
// arguments, return arrays. Eager code always runs on jax-js.
// On `ort` the results are resident tensors (resident.ts: host buffers outside jax-js's heap); on
// `jax` resident arguments (made while the process ran `ort`, or by a test mixing executors) are
// copied into jax-js arrays first.
import { type ExecutorName, currentExecutor } from "./executor.ts";
import { jit } from "./jax.ts";
import { compileOrt } from "./ort/compile.ts";

export interface CompileOptions {
  /** Override the process's executor for this function. */
  executor?: ExecutorName;
  /** A name for error messages. */
  name?: string;
  /**
   * Argument positions whose buffers the results may reuse (JAX's donate_argnums): the caller
   * gives those arguments up, as it does any consumed argument. Only the `ort` executor uses it.
   */
  donate?: number[];
}

/** jit's contract on the chosen executor. */
export function compile<F extends (...args: any[]) => any>(fn: F, opts: CompileOptions = {}): F {
  const executor = opts.executor ?? currentExecutor();
  if (executor === "ort") return compileOrt(fn, { name: opts.name, donate: opts.donate }) as unknown as F;
  return jit(fn as any) as unknown as F; // jax.ts's jit copies resident arguments into jax-js
}
