// `r1lab r1` end to end on the micro preset (every stage, seconds): summary.json lists the stages
// in order with exactly the specified fields, every stage leaves its checkpoint, and a run killed
// (kill -9) inside the reasoning RL stage resumes there and ends with the same stage metrics as an
// uninterrupted run with the same seed.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const runs = mkdtempSync(join(tmpdir(), "r1lab-r1-"));
afterAll(() => rmSync(runs, { recursive: true, force: true }));
const cli = ["--import", "tsx", "src/cli/main.ts"];
const env = { ...process.env, R1LAB_THREADS: "1" };
const STAGES = ["base", "cold_start_sft", "reasoning_rl", "rejection_sampling", "sft", "final_rl"];

function r1(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...cli, "r1", "--preset", "micro", "--runs-dir", runs, ...args], {
      env,
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr!.on("data", (d) => {
      stderr += d;
    });
    child.on("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`r1 ${args.join(" ")} failed (${code}):\n${stderr}`)),
    );
  });
}

const summaryOf = (dir: string) => JSON.parse(readFileSync(join(dir, "summary.json"), "utf8"));
/** Stage rows without wall-clock and CPU time. */
const metricsOf = (s: any) => s.stages.map(({ wall_seconds, cpu_seconds, ...rest }: any) => rest);

describe("r1lab r1 (micro preset)", () => {
  it("runs every stage: summary.json stages in order with the specified fields, a checkpoint per stage", async () => {
    await r1(["--name", "a", "--seed", "5"]);
    const a = join(runs, "a");
    expect(readlinkSync(join(runs, "latest"))).toBe("a");
    const s = summaryOf(a);
    expect(s.stages.map((r: any) => r.name)).toEqual(STAGES);
    for (const row of s.stages) {
      expect(Object.keys(row).sort()).toEqual([
        "consK",
        "consK_se",
        "cpu_seconds",
        "mean_length",
        "name",
        "pass1",
        "pass1_ci95",
        "pass1_se",
        "readability",
        "readability_se",
        "wall_seconds",
      ]);
      for (const k of ["pass1", "consK", "readability"]) {
        expect(row[k], `${row.name}.${k}`).toBeGreaterThanOrEqual(0);
        expect(row[k], `${row.name}.${k}`).toBeLessThanOrEqual(1);
        // a standard error over n problems of values in [0, 1] is at most 0.5 / sqrt(n - 1)
        expect(row[`${k}_se`], `${row.name}.${k}_se`).toBeGreaterThanOrEqual(0);
        expect(row[`${k}_se`], `${row.name}.${k}_se`).toBeLessThanOrEqual(0.5 / Math.sqrt(3) + 1e-12);
      }
      const [lo, hi] = row.pass1_ci95;
      expect(lo).toBeCloseTo(Math.max(0, row.pass1 - 1.96 * row.pass1_se), 12);
      expect(hi).toBeCloseTo(Math.min(1, row.pass1 + 1.96 * row.pass1_se), 12);
      expect(row.mean_length, row.name).toBeGreaterThan(0);
      expect(row.wall_seconds, row.name).toBeGreaterThan(0);
      expect(row.cpu_seconds, row.name).toBeGreaterThan(0);
    }
    expect(s.resumed).toBe(false);
    for (const stage of STAGES.filter((n) => n !== "rejection_sampling")) {
      for (const f of ["config.json", "model.safetensors", "tokenizer.json", "trainer_state.json"])
        expect(existsSync(join(a, "checkpoints", stage, f)), `${stage}/${f}`).toBe(true);
    }
    for (const partial of ["base.partial", "reasoning_rl.partial", "final_rl.partial"])
      expect(existsSync(join(a, "checkpoints", partial)), partial).toBe(false);
    const stats = JSON.parse(
      readFileSync(join(a, "checkpoints", "rejection_sampling", "stats.json"), "utf8"),
    );
    expect(stats.samples).toBe(4 * 2); // micro: 4 prompts x K = 2
    expect(
      readFileSync(join(a, "checkpoints", "rejection_sampling", "kept.jsonl"), "utf8")
        .trim()
        .split("\n")
        .filter(Boolean).length,
    ).toBe(stats.kept);
    const cfg = JSON.parse(readFileSync(join(a, "config.json"), "utf8"));
    expect(cfg).toMatchObject({
      seed: 5,
      reasoning_rl: { num_generations: 2, reward_weights: { consistency: 0.2 } },
      rejection_sampling: { num_samples: 2 },
    });
    expect(readFileSync(join(a, "reasoning_rl.jsonl"), "utf8").trim().split("\n").length).toBe(2);
    // The R1-Zero-style side-by-side: RL from the base, R1-Zero's rewards, reasoning_rl's steps.
    const z = s.r1_zero_rl;
    expect(z.reward_weights).toEqual({ accuracy: 1, format: 0.1 });
    expect(z.row.name).toBe("r1_zero_rl");
    expect(z.row.pass1).toBeGreaterThanOrEqual(0);
    expect(z.row.pass1).toBeLessThanOrEqual(1);
    expect(z.curves.r1_zero_rl.steps).toBe(2);
    expect(z.curves.reasoning_rl.steps).toBe(2);
    const zeroRows = readFileSync(join(a, "r1_zero_rl.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(zeroRows.map((r) => r.step)).toEqual([1, 2]);
    expect(zeroRows[0]).not.toHaveProperty("rewards/consistency/mean");
    expect(existsSync(join(a, "checkpoints", "r1_zero_rl", "model.safetensors"))).toBe(true);
    const html = readFileSync(join(a, "report.html"), "utf8");
    expect(html).toContain("<svg");
    expect(html).toContain("rejection_sampling");
    expect(html).toContain("Cold start vs R1-Zero-style RL from the same base");
    expect(html).toContain("pass@1 95% CI");
  }, 600_000);

  it("resumes a run killed inside reasoning RL with the same stage metrics as an uninterrupted run", async () => {
    const dir = join(runs, "b");
    const child: ChildProcess = spawn(
      process.execPath,
      [...cli, "r1", "--preset", "micro", "--runs-dir", runs, "--name", "b", "--seed", "5"],
      { env, stdio: "ignore" },
    );
    // Kill as soon as reasoning RL's partial checkpoint (step 1 of 2) exists.
    await new Promise<void>((resolve, reject) => {
      const t = setInterval(() => {
        if (existsSync(join(dir, "checkpoints", "reasoning_rl.partial", "trainer_state.json"))) {
          clearInterval(t);
          child.kill("SIGKILL");
          resolve();
        }
      }, 20);
      child.on("exit", () => {
        clearInterval(t);
        reject(new Error("run finished before it could be killed"));
      });
    });
    await new Promise((r) => child.on("exit", r));
    expect(existsSync(join(dir, "summary.json"))).toBe(false);
    expect(existsSync(join(dir, "stages", "cold_start_sft.json"))).toBe(true);
    expect(existsSync(join(dir, "stages", "reasoning_rl.json"))).toBe(false);
    await r1(["--resume", dir]);
    const resumed = summaryOf(dir);
    expect(resumed.resumed).toBe(true);
    const steps = readFileSync(join(dir, "reasoning_rl.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l).step);
    expect(steps).toEqual([1, 2]);
    expect(metricsOf(resumed)).toEqual(metricsOf(summaryOf(join(runs, "a"))));
  }, 600_000);

  it("refuses an unknown preset and an existing run name with a clear message", () => {
    const bad = spawnSync(process.execPath, [...cli, "r1", "--preset", "huge", "--runs-dir", runs], {
      env,
      encoding: "utf8",
    });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--preset must be default, tiny or micro, got 'huge'/);
    const dup = spawnSync(
      process.execPath,
      [...cli, "r1", "--preset", "micro", "--runs-dir", runs, "--name", "a"],
      { env, encoding: "utf8" },
    );
    expect(dup.status).toBe(2);
    expect(dup.stderr).toMatch(/--resume/);
  });
});
