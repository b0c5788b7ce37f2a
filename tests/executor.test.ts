// Choosing the executor: --executor, else R1LAB_EXECUTOR, else ort on the CPU and jax on WebGPU;
// bad names name their source; ort runs on WebGPU too (its WebGPU EP); jax-js gets its worker pool only when
// it computes compiled steps itself.
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
  it("flag, then R1LAB_EXECUTOR, then the device's default", () => {
    delete process.env.R1LAB_EXECUTOR;
    expect(resolveExecutor()).toBe("ort");
    expect(resolveExecutor(undefined, "webgpu")).toBe("jax");
    process.env.R1LAB_EXECUTOR = "jax";
    expect(resolveExecutor()).toBe("jax");
    expect(resolveExecutor("ORT")).toBe("ort");
  });

  it("a bad name says where it came from; ort on WebGPU is allowed", () => {
    expect(() => resolveExecutor("tpu")).toThrow(/unknown executor 'tpu' \(from --executor\)/);
    process.env.R1LAB_EXECUTOR = "wasm";
    expect(() => resolveExecutor()).toThrow(/unknown executor 'wasm' \(from R1LAB_EXECUTOR\)/);
    expect(resolveExecutor("ort", "webgpu")).toBe("ort");
  });

  it("jax-js starts its worker pool only for the jax executor or WebGPU", () => {
    delete process.env.R1LAB_EXECUTOR;
    delete process.env.R1LAB_DEVICE;
    expect(wantsWasmWorkers()).toBe(false);
    process.env.R1LAB_EXECUTOR = "jax";
    expect(wantsWasmWorkers()).toBe(true);
    process.env.R1LAB_DEVICE = "webgpu";
    expect(wantsWasmWorkers()).toBe(true); // jax is the default executor there
    process.env.R1LAB_EXECUTOR = "ort";
    expect(wantsWasmWorkers()).toBe(false); // ort on WebGPU: jax-js's eager work stays synchronous
  });
});
