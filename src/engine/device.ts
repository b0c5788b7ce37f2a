// Starting the tensor engine (@jax-js/jax) on the device the user picked: `cpu` (Wasm, with a
// worker-thread pool) or `webgpu` (Dawn through the `webgpu` npm package; on CPU-only machines
// Mesa's llvmpipe). Chosen by `--device`, else R1LAB_DEVICE, else cpu. Call `initEngine` once per
// process before creating arrays.
import { availableParallelism } from "node:os";
import { type ExecutorName, resolveExecutor, setExecutor, setOrtDevice } from "./executor.ts";
import { installPolyfills } from "./polyfills.ts";

export type DeviceName = "cpu" | "webgpu";

export interface EngineInfo {
  device: DeviceName;
  /** Wasm worker threads (cpu), or null on webgpu. */
  threads: number | null;
  /** WebGPU adapter description (vendor / architecture / device), or null on cpu. */
  adapter: string | null;
  /** What runs compiled steps: onnxruntime (ort) or jax-js's jit (jax); see executor.ts. */
  executor: ExecutorName;
}

let current: EngineInfo | null = null;

export const MESA_HINT =
  "Install a GPU driver with Vulkan support, or Mesa's llvmpipe for WebGPU on the CPU: on Debian bookworm, " +
  "add `deb http://deb.debian.org/debian bookworm-backports main` to the apt sources and run " +
  "`apt-get install -t bookworm-backports mesa-vulkan-drivers` (Mesa 25.x; bookworm's own Mesa 22.x is refused by Dawn).";

export function resolveDevice(flag?: string): DeviceName {
  const raw = (flag ?? process.env.R1LAB_DEVICE ?? "cpu").toLowerCase();
  if (raw === "cpu" || raw === "wasm") return "cpu";
  if (raw === "webgpu" || raw === "gpu") return "webgpu";
  throw new Error(`unknown device '${raw}' (from ${flag ? "--device" : "R1LAB_DEVICE"}); use cpu or webgpu`);
}

/** Threads for the Wasm pool: R1LAB_THREADS, else every core the OS gives us. */
export function defaultThreads(): number {
  const env = Number(process.env.R1LAB_THREADS);
  return Number.isInteger(env) && env > 0 ? env : availableParallelism();
}

/** Make the `webgpu` package's Dawn visible as navigator.gpu; returns the adapter or a reason. */
export async function probeWebGPU(): Promise<{ adapter: GPUAdapterLike | null; reason: string }> {
  installPolyfills(defaultThreads());
  if (!process.env.XDG_RUNTIME_DIR) process.env.XDG_RUNTIME_DIR = "/tmp";
  const g = globalThis as any;
  let webgpu: any;
  try {
    webgpu = await import("webgpu");
  } catch (e) {
    return { adapter: null, reason: `the 'webgpu' package failed to load: ${(e as Error).message}` };
  }
  if (!g.navigator.gpu) {
    Object.assign(g, webgpu.globals);
    Object.defineProperty(g.navigator, "gpu", { value: webgpu.create([]), configurable: true });
  }
  try {
    const adapter = await g.navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
    if (!adapter) return { adapter: null, reason: `no WebGPU adapter found. ${MESA_HINT}` };
    return { adapter, reason: "" };
  } catch (e) {
    return {
      adapter: null,
      reason: `requesting a WebGPU adapter failed (${(e as Error).message}). ${MESA_HINT}`,
    };
  }
}

interface GPUAdapterLike {
  info?: { vendor?: string; architecture?: string; device?: string; description?: string };
}

export function describeAdapter(a: GPUAdapterLike): string {
  const i = a.info ?? {};
  return (
    [i.vendor, i.architecture, i.device, i.description].filter((s) => s && s.length > 0).join(" / ") ||
    "unknown adapter"
  );
}

/** Start the engine on `device` (idempotent for the same device; switching devices is refused). */
export async function initEngine(
  opts: { device?: string; threads?: number; executor?: string } = {},
): Promise<EngineInfo> {
  const device = resolveDevice(opts.device);
  const executor = resolveExecutor(opts.executor);
  if (current) {
    if (current.device !== device)
      throw new Error(`engine already started on ${current.device}; cannot switch to ${device}`);
    if (opts.executor && current.executor !== executor) {
      throw new Error(
        `engine already started with executor ${current.executor}; cannot switch to ${executor}`,
      );
    }
    return current;
  }
  setExecutor(executor);
  const threads = opts.threads ?? defaultThreads();
  installPolyfills(threads);
  const jax = await import("./jax.ts");
  if (device === "webgpu" && executor === "ort") {
    // Compiled steps run on onnxruntime's WebGPU EP; jax-js's eager work stays on its Wasm backend.
    const adapter = await ortWebGpuAdapter();
    const got = await jax.init("wasm");
    if (!got.includes("wasm")) throw new Error("the Wasm backend of @jax-js/jax failed to start");
    jax.defaultDevice("wasm");
    setOrtDevice("webgpu");
    current = { device, threads, adapter, executor };
  } else if (device === "cpu") {
    const got = await jax.init("wasm");
    if (!got.includes("wasm")) throw new Error("the Wasm backend of @jax-js/jax failed to start");
    jax.defaultDevice("wasm");
    current = { device, threads, adapter: null, executor };
  } else {
    const probe = await probeWebGPU();
    if (!probe.adapter) throw new Error(`--device webgpu: ${probe.reason}`);
    const got = await jax.init("webgpu");
    if (!got.includes("webgpu"))
      throw new Error(`--device webgpu: @jax-js/jax could not start WebGPU. ${MESA_HINT}`);
    jax.defaultDevice("webgpu");
    current = { device, threads: null, adapter: describeAdapter(probe.adapter), executor };
  }
  return current;
}

/**
 * Check that onnxruntime's WebGPU EP starts (it has its own Dawn; a tiny upload creates its
 * context) and describe the adapter the `webgpu` package sees on this machine.
 */
async function ortWebGpuAdapter(): Promise<string> {
  const probe = await probeWebGPU();
  if (!probe.adapter) throw new Error(`--device webgpu: ${probe.reason}`);
  const { upload } = await import("./ort/device-tensors.ts");
  try {
    upload(new Float32Array(1), [1], "float32").dispose();
  } catch (e) {
    throw new Error(
      `--device webgpu: onnxruntime's WebGPU execution provider failed to start (${(e as Error).message.split("\n")[0]}). ${MESA_HINT}`,
    );
  }
  return describeAdapter(probe.adapter);
}

export function engineInfo(): EngineInfo {
  if (!current) throw new Error("engine not started: call initEngine() first");
  return current;
}
