// Which executor runs r1lab's compiled steps (train steps, optimizer updates, prefill/decode):
//   ort: the traced program is lowered to ONNX and run by onnxruntime (src/engine/ort): its CPU
//        execution provider (MLAS GEMMs, no 4 GiB heap), or with --device webgpu its WebGPU
//        execution provider (state kept on the GPU between steps). The default on both devices.
//   jax: jax-js's own `jit` on its Wasm or WebGPU backend.
// Chosen by `--executor`, else R1LAB_EXECUTOR, else ort; compile.ts dispatches on it. This file
// imports no jax-js (device.ts reads it before jax-js may load).

export type ExecutorName = "ort" | "jax";

let chosen: ExecutorName | null = null;

/** Parse an executor name from the flag, else R1LAB_EXECUTOR, else ort (on the CPU and on WebGPU). */
export function resolveExecutor(flag?: string): ExecutorName {
  const raw = (flag ?? process.env.R1LAB_EXECUTOR ?? "ort").toLowerCase();
  if (raw !== "ort" && raw !== "jax") {
    throw new Error(
      `unknown executor '${raw}' (from ${flag ? "--executor" : "R1LAB_EXECUTOR"}); use ort or jax`,
    );
  }
  return raw;
}

/**
 * Whether jax-js should start its Wasm worker pool, decided from the environment before jax-js
 * loads (the CLI copies --executor / --device into R1LAB_EXECUTOR / R1LAB_DEVICE first).
 */
export function wantsWasmWorkers(): boolean {
  return (process.env.R1LAB_EXECUTOR ?? "ort").toLowerCase() !== "ort";
}

/** Where the ort executor runs compiled steps: onnxruntime's CPU or WebGPU execution provider. */
export type OrtDevice = "cpu" | "webgpu";
let ortDevice: OrtDevice = "cpu";

/** Fix the ort executor's device for this process (initEngine calls it). */
export function setOrtDevice(d: OrtDevice): void {
  ortDevice = d;
}

export function currentOrtDevice(): OrtDevice {
  return ortDevice;
}

/** Fix the executor for this process (initEngine calls it). */
export function setExecutor(name: ExecutorName): void {
  chosen = name;
}

/** The executor compile() uses now: the one set at start-up, else the environment's / default. */
export function currentExecutor(): ExecutorName {
  return chosen ?? resolveExecutor();
}
