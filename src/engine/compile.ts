// `compile(fn)`: what call sites use instead of jax-js's `jit(fn)`, on the executor the process
// chose (executor.ts). Same contract as jit: trace once per input signature, consume the array
// arguments, return arrays. Eager code always runs on jax-js.
// On `ort` the results are resident tensors (resident.ts: host buffers outside jax-js's heap; on
// WebGPU, outputs named by deviceOutputs stay on the device); on `jax` resident arguments are copied
// into jax-js arrays first (jax.ts's jit).
import { type ExecutorName, type OrtDevice, currentExecutor, currentOrtDevice } from "./executor.ts";
import { jit } from "./jax.ts";
import { compileOrt } from "./ort/compile.ts";
import { withOrtTrace } from "./trace-target.ts";

export interface CompileOptions {
  /** Override the process's executor for this function. */
  executor?: ExecutorName;
  /** A name for error messages. */
  name?: string;
  /**
   * Argument positions whose buffers the results may reuse (JAX's donate_argnums): the caller
   * gives those arguments up, as it does any consumed argument. Only `ort` on the CPU uses it.
   */
  donate?: number[];
  /** ort only: run on onnxruntime's CPU or WebGPU execution provider (default: the process's device). */
  device?: OrtDevice;
  /**
   * On WebGPU: the top-level outputs (indices into the returned tuple) that stay on the device, as
   * DeviceTensors (parameters, optimizer moments, gradients, KV caches); the others come back as
   * host arrays. Ignored on the CPU.
   */
  deviceOutputs?: number[];
  /** On WebGPU: count the nodes each execution provider ran (in `stats.placement`; see ort/placement.ts). */
  placement?: boolean;
}

/** jit's contract on the chosen executor. */
export function compile<F extends (...args: any[]) => any>(fn: F, opts: CompileOptions = {}): F {
  const executor = opts.executor ?? currentExecutor();
  if (executor === "jax") return jit(fn as any) as unknown as F;
  // compileOrt calls fn only inside makeJaxpr, so the target is set exactly while tracing.
  return compileOrt((...args: any[]) => withOrtTrace(() => fn(...args)), {
    name: opts.name,
    ep: opts.device ?? currentOrtDevice(),
    donate: opts.donate,
    deviceOutputs: opts.deviceOutputs,
    placement: opts.placement,
  }) as unknown as F;
}
