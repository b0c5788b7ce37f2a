// `r1lab fp8-report` end to end with a tiny --steps: four training runs of the tiny DeepSeek-style
// model (FP32, BF16, E4M3 tile/block scales, E4M3 per-tensor scales) from one seed, written atomically
// as DIR/fp8_report.json (config, machine, curves, relative errors) and DIR/fp8_loss.png.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runR1lab } from "./helpers/run-r1lab.ts";

const dir = mkdtempSync(join(tmpdir(), "r1lab-fp8-report-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("r1lab fp8-report", () => {
  it("writes the report JSON and the loss plot", async () => {
    const out = join(dir, "report");
    const r = await runR1lab(["fp8-report", "--steps", "2", "--batch-size", "2", "--out", out], {
      timeoutMs: 110_000,
    });
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    const rep = JSON.parse(readFileSync(join(out, "fp8_report.json"), "utf8"));
    expect(rep.config.steps).toBe(2);
    expect(rep.config.batch_size).toBe(2);
    expect(rep.model.modelType).toBe("deepseek_v3");
    expect(rep.machine.device).toBe("cpu");
    expect(rep.runs.map((x: any) => x.mode)).toEqual(["none", "bf16", "e4m3-tile", "e4m3-tensor"]);
    const [fp32, bf16, tile, tensor] = rep.runs;
    for (const run of rep.runs) {
      expect(run.losses).toHaveLength(2);
      for (const l of run.losses) expect(Number.isFinite(l) && l > 0).toBe(true);
      // Same seed, same first batch: the first losses agree to within FP8 rounding, not exactly.
      expect(Math.abs(run.losses[0] - fp32.losses[0]) / fp32.losses[0]).toBeLessThan(0.02);
      expect(run.rel_error).toBeCloseTo(Math.abs(run.final_loss - fp32.final_loss) / fp32.final_loss, 12);
      expect(run.rel_error_vs_bf16).toBeCloseTo(
        Math.abs(run.final_loss - bf16.final_loss) / bf16.final_loss,
        12,
      );
    }
    expect(fp32.rel_error).toBe(0);
    expect(fp32.forward_rel_error).toBe(0);
    expect(fp32.forward_logits_rel_error).toBe(0);
    // BF16 keeps 8 significant bits, E4M3 4: a smaller error on the same logits.
    expect(bf16.forward_logits_rel_error).toBeLessThan(tile.forward_logits_rel_error);
    for (const run of [bf16, tile, tensor]) {
      expect(run.forward_rel_error).toBeGreaterThan(0);
      expect(run.forward_rel_error).toBeLessThan(0.05);
      expect(run.forward_logits_rel_error).toBeGreaterThan(0);
      expect(run.forward_logits_rel_error).toBeLessThan(0.3);
    }
    expect(bf16.rel_error_vs_bf16).toBe(0);
    expect(tile.losses[0]).not.toBe(fp32.losses[0]);
    expect(tensor.losses[0]).not.toBe(fp32.losses[0]);
    // stdout: the summary as JSON.
    expect(JSON.parse(r.stdout).runs).toHaveLength(4);
    const png = readFileSync(join(out, "fp8_loss.png"));
    expect([...png.subarray(0, 4)]).toEqual([0x89, 0x50, 0x4e, 0x47]);
    expect(readdirSync(out).sort()).toEqual(["fp8_loss.png", "fp8_report.json"]); // no temp files left
  }, 120_000);

  it("rejects a bad --steps with exit code 2", async () => {
    const r = await runR1lab(["fp8-report", "--steps", "zero", "--out", join(dir, "bad")], {
      timeoutMs: 30_000,
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--steps must be an integer/);
    expect(existsSync(join(dir, "bad", "fp8_report.json"))).toBe(false);
  });
});
