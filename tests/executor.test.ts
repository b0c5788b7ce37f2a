// Choosing the executor: --executor, else R1LAB_EXECUTOR, else ort (on the CPU and on WebGPU, where it
// runs onnxruntime's WebGPU EP); bad names name their source; jax-js gets its worker pool only when it
// computes compiled steps itself.
import { afterEach, describe, expect, it } from "vitest";
import { resolveExecutor, wantsWasmWorkers } from "../src/engine/executor.ts";

const saved = { ex: process.env.R1LAB_EXECUTOR, dev: process.env.R1LAB_DEVICE };
afterEach(() => {
  for (const [k, v] of [
    ["R1LAB_EXECUTOR", saved.ex],
    ["R1LAB_DEVICE", saved.dev],
  ] as const) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

describe("executor choice", () => {
  it("flag, then R1LAB_EXECUTOR, then ort", () => {
    delete process.env.R1LAB_EXECUTOR;
    expect(resolveExecutor()).toBe("ort");
    process.env.R1LAB_EXECUTOR = "jax";
    expect(resolveExecutor()).toBe("jax");
    expect(resolveExecutor("ORT")).toBe("ort");
  });

  it("a bad name says where it came from", () => {
    expect(() => resolveExecutor("tpu")).toThrow(/unknown executor 'tpu' \(from --executor\)/);
    process.env.R1LAB_EXECUTOR = "wasm";
    expect(() => resolveExecutor()).toThrow(/unknown executor 'wasm' \(from R1LAB_EXECUTOR\)/);
    expect(resolveExecutor("jax")).toBe("jax");
  });

  it("jax-js starts its worker pool only for the jax executor", () => {
    delete process.env.R1LAB_EXECUTOR;
    delete process.env.R1LAB_DEVICE;
    expect(wantsWasmWorkers()).toBe(false);
    process.env.R1LAB_DEVICE = "webgpu";
    expect(wantsWasmWorkers()).toBe(false); // ort is the default on WebGPU too: jax-js's eager work stays synchronous
    process.env.R1LAB_EXECUTOR = "jax";
    expect(wantsWasmWorkers()).toBe(true);
    delete process.env.R1LAB_DEVICE;
    expect(wantsWasmWorkers()).toBe(true);
  });
});
