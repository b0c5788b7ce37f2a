// Side-effect module: installs the Node shims before @jax-js/jax is evaluated (see jax.ts).
// jax-js gets its Wasm worker pool only when it computes compiled steps itself (executor jax, or
// WebGPU, whose eager fallbacks use it): under the ORT executor it runs eager work synchronously.
import { wantsWasmWorkers } from "./executor.ts";
import { installPolyfills } from "./polyfills.ts";

const env = Number(process.env.R1LAB_THREADS);
installPolyfills(Number.isInteger(env) && env > 0 ? env : undefined, wantsWasmWorkers());
