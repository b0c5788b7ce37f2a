// `pnpm bench --profile --only ROW` reads onnxruntime's own profiler output: sessions created with
// R1LAB_ORT_PROFILE set write a JSON trace when profiling ends, and bench/ort-profile.ts sums its
// kernel times per operator type and per node. Checked on a real session running a MatMul graph.
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatOrtProfile, readOrtProfiles } from "../bench/ort-profile.ts";
import { compile } from "../src/engine/compile.ts";
import { initEngine } from "../src/engine/device.ts";
import { type Array as JArray, numpy as np } from "../src/engine/jax.ts";
import { endOrtProfiling } from "../src/engine/ort/session.ts";

const dir = mkdtempSync(join(tmpdir(), "r1lab-ort-profile-test-"));
beforeAll(async () => {
  await initEngine({ device: "cpu", executor: "ort" });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("onnxruntime profile of compiled steps", () => {
  it("counts every run of every node, by op type and by node", () => {
    process.env.R1LAB_ORT_PROFILE = join(dir, "ort");
    try {
      // A graph no other test compiles (sessions are shared by model bytes).
      const f = compile((a: JArray, b: JArray) => np.exp(np.matmul(a, b).mul(0.123)), { executor: "ort" });
      for (let i = 0; i < 4; i++) f(np.ones([33, 17]), np.ones([17, 5]));
    } finally {
      delete process.env.R1LAB_ORT_PROFILE;
    }
    endOrtProfiling();
    expect(readdirSync(dir).some((f) => f.endsWith(".json"))).toBe(true);
    const p = readOrtProfiles(dir);
    const ops = Object.fromEntries(p.byOp.map((o) => [o.name, o.calls]));
    expect(ops.Exp).toBe(4);
    expect((ops.MatMul ?? 0) + (ops.FusedMatMul ?? 0)).toBe(4);
    expect(p.totalUs).toBeGreaterThan(0);
    expect(p.byNode.reduce((s, n) => s + n.us, 0)).toBeCloseTo(p.totalUs, 6);
    const text = formatOrtProfile("test_row", p);
    expect(text).toMatch(/^profile of test_row: \d+ ms in onnxruntime kernels over 1 session/);
    expect(text).toMatch(/\nExp +[\d.]+ +[\d.]+% +4\n/);
  });
});
