// Moving a whole parameter tree onto the WebGPU device once, for code that calls compiled steps
// many times with the same weights (generation: a prefill and one decode step per token). Without
// it every run would copy every weight from the host again.
import { currentExecutor, currentOrtDevice } from "../executor.ts";
import type { Array as JArray } from "../jax.ts";
import { tree } from "../jax.ts";
import { hostOf } from "./compile.ts";
import { type DeviceTensor, isDeviceTensor, upload } from "./device-tensors.ts";

/** Whether compiled steps of this process run on onnxruntime's WebGPU EP. */
export const onWebGpu = (): boolean => currentExecutor() === "ort" && currentOrtDevice() === "webgpu";

/**
 * A copy of `p` with every host array uploaded to the device (device tensors get a new reference),
 * owned by the caller (disposeParams); on any other executor or device, `p` itself with new references.
 */
export function residentCopy<T>(p: T): T {
  return tree.map((x: unknown) => {
    if (isDeviceTensor(x)) return x.ref;
    const a = x as JArray;
    if (!onWebGpu()) return a.ref;
    return upload(hostOf(a), [...a.shape], a.dtype) as DeviceTensor;
  }, p as never) as T;
}
