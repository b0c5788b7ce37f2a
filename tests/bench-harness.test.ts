// `pnpm bench` in its smallest form: the tiny model's training benchmark (one warm-up, two timed
// steps) on r1lab and, when Debian's python3-torch imports, on the PyTorch peer, checked against the
// JSON schema docs/performance.md describes.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { peakModule, wasmPeakGflops } from "../bench/ceiling.ts";
import { runBench } from "../bench/main.ts";

function torchReason(): string | null {
  try {
    execFileSync(process.env.R1LAB_TORCH_PYTHON ?? "/usr/bin/python3", ["-c", "import torch"], {
      stdio: "pipe",
      timeout: 30_000,
    });
    return null;
  } catch (e) {
    return `torch does not import: ${(e as Error).message.split("\n")[0]}`;
  }
}

const dir = mkdtempSync(join(tmpdir(), "r1lab-bench-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("pnpm bench harness", () => {
  it("refuses an unknown benchmark name, naming the known ones", async () => {
    await expect(runBench({ only: ["train_huge"], torch: false, log: () => {} })).rejects.toThrow(
      /unknown benchmark 'train_huge'.*train_tiny/,
    );
  });

  it("runs train_tiny and writes the report schema", async () => {
    const reason = torchReason();
    if (reason) console.warn(`bench test: PyTorch side skipped (${reason})`);
    const file = join(dir, "bench.json");
    // One warm-up and two timed steps on each side.
    await runBench({
      only: ["train_tiny"],
      quick: true,
      reps: { warmup: 1, steps: 2 },
      json: file,
      torch: reason === null,
      log: () => {},
    });
    const report = JSON.parse(readFileSync(file, "utf8"));
    expect(report.device).toBe("cpu");
    expect(report.mode).toBe("quick");
    expect(typeof report.machine.cpu_model).toBe("string");
    expect(report.machine.cores).toBeGreaterThan(0);
    expect(report.machine.memory_gib).toBeGreaterThan(0);
    expect(report.machine.node).toBe(process.version);
    expect(Object.keys(report.results)).toEqual(["train_tiny"]);
    const row = report.results.train_tiny;
    expect(row.error).toBeUndefined();
    expect(row.r1lab_tokens_per_s).toBeGreaterThan(0);
    if (reason) {
      expect(row.torch_tokens_per_s).toBeNull();
      expect(row.ratio).toBeNull();
      expect(report.torch_unavailable).toBeTruthy();
    } else {
      expect(typeof report.machine.torch).toBe("string");
      expect(row.torch_tokens_per_s).toBeGreaterThan(0);
      expect(row.ratio).toBeCloseTo(row.r1lab_tokens_per_s / row.torch_tokens_per_s, 6);
    }
  });

  it("measures the Wasm SIMD ceiling with a valid hand-assembled module", () => {
    const wasm = (globalThis as any).WebAssembly;
    expect(wasm.validate(peakModule(false))).toBe(true);
    // 12 accumulators a <- a * 0.999 + 0.001 from a_i = i / 1000, n steps: a_i -> 1 - (1 - a_i) 0.999^n.
    const run = new wasm.Instance(new wasm.Module(peakModule(false)), {}).exports.run as (
      n: number,
    ) => number;
    const n = 1000;
    let want = 0;
    for (let i = 1; i <= 12; i++) want += 1 - (1 - i / 1000) * 0.999 ** n;
    expect(run(n)).toBeCloseTo(want, 3);
    const peak = wasmPeakGflops(false, 2e6);
    expect(peak).toBeGreaterThan(0.1);
    // Relaxed SIMD needs --experimental-wasm-relaxed-simd on Node 20: a number with it, null without.
    const fma = wasmPeakGflops(true, 2e6);
    expect(fma === null || fma > 0.1).toBe(true);
  });
});
