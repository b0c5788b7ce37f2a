// The R1-Zero run end to end on the tiny preset: every output file is written, two runs with the
// same seed give identical metrics, and a run killed mid-way (kill -9) and resumed gives the same
// metrics as an uninterrupted one.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const runs = mkdtempSync(join(tmpdir(), "r1lab-zero-"));
afterAll(() => rmSync(runs, { recursive: true, force: true }));
const cli = ["--import", "tsx", "src/cli/main.ts"];
const env = { ...process.env, R1LAB_THREADS: "1" };

/** Run `r1lab zero` in a child process without blocking the test worker's event loop. */
function zero(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...cli, "zero", "--preset", "tiny", "--runs-dir", runs, ...args], { env, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (d) => {
      stderr += d;
    });
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`zero ${args.join(" ")} failed (${code}):\n${stderr}`))));
  });
}

const jsonl = (p: string) => readFileSync(p, "utf8").trim().split("\n").map((l) => JSON.parse(l));
/** Metrics without wall-clock fields. */
const strip = (rows: any[]) => rows.map(({ tokens_per_s, rollout_seconds, step_seconds, ...rest }) => rest);

describe("r1lab zero (tiny preset)", () => {
  it("writes config, metrics, samples, summary, report and HF checkpoints; same seed, same metrics", async () => {
    await zero(["--name", "a", "--seed", "7"]);
    await zero(["--name", "b", "--seed", "7"]);
    const a = join(runs, "a");
    for (const f of ["config.json", "pretrain.jsonl", "metrics.jsonl", "samples.jsonl", "summary.json", "report.html", "eval_base.json", "checkpoints/final/model.safetensors", "checkpoints/final/config.json", "checkpoints/final/tokenizer.json"]) {
      expect(existsSync(join(a, f)), f).toBe(true);
    }
    expect(readlinkSync(join(runs, "latest"))).toBe("b");
    const summary = JSON.parse(readFileSync(join(a, "summary.json"), "utf8"));
    for (const k of ["base", "final"]) {
      expect(summary[k]).toMatchObject({ k: 2 });
      expect(summary[k].pass1).toBeGreaterThanOrEqual(0);
      expect(summary[k].passk).toBeGreaterThanOrEqual(summary[k].pass1);
    }
    expect(summary.wall_seconds).toBeGreaterThan(0);
    const cfg = JSON.parse(readFileSync(join(a, "config.json"), "utf8"));
    expect(cfg.grpo).toMatchObject({ num_generations: 4, loss_type: "grpo", epsilon_high: 0.28 });
    const ma = jsonl(join(a, "metrics.jsonl"));
    expect(ma.length).toBe(4);
    for (const k of ["reward_mean", "reward_std", "accuracy", "format_rate", "completion_length", "kl", "clip_fraction", "zero_variance_fraction", "entropy", "expert_imbalance", "tokens_per_s"]) {
      expect(typeof ma[0][k], k).toBe("number");
    }
    expect(strip(jsonl(join(runs, "b", "metrics.jsonl")))).toEqual(strip(ma));
    expect(strip(jsonl(join(runs, "b", "pretrain.jsonl")))).toEqual(strip(jsonl(join(a, "pretrain.jsonl"))));
    expect(readFileSync(join(a, "report.html"), "utf8")).toContain("<svg");
    // Finished stages leave their final checkpoints only; the partial ones are gone.
    for (const n of ["base", "final"]) expect(existsSync(join(a, "checkpoints", n, "trainer_state.json")), n).toBe(true);
    for (const n of ["base.partial", "final.partial"]) expect(existsSync(join(a, "checkpoints", n)), n).toBe(false);
    // Per-reward means (TRL's rewards/<name>/mean) and format_rate = the share of well-formed completions.
    expect(ma[0]["rewards/format/mean"]).toBe(ma[0].format_rate);
    expect(typeof ma[0]["rewards/accuracy/mean"]).toBe("number");
  });

  it("resumes after kill -9 during GRPO with the same metrics as an uninterrupted run", async () => {
    const dir = join(runs, "c");
    const child: ChildProcess = spawn(process.execPath, [...cli, "zero", "--preset", "tiny", "--runs-dir", runs, "--name", "c", "--seed", "7"], { env, stdio: "ignore" });
    // Kill as soon as the first GRPO checkpoint exists (step 2 of 4).
    await new Promise<void>((resolve, reject) => {
      const t = setInterval(() => {
        if (existsSync(join(dir, "checkpoints", "final.partial", "trainer_state.json"))) {
          clearInterval(t);
          child.kill("SIGKILL");
          resolve();
        }
      }, 50);
      child.on("exit", () => {
        clearInterval(t);
        reject(new Error("run finished before it could be killed"));
      });
    });
    await new Promise((r) => child.on("exit", r));
    expect(existsSync(join(dir, "summary.json"))).toBe(false);
    await zero(["--resume", dir]);
    const resumed = JSON.parse(readFileSync(join(dir, "summary.json"), "utf8"));
    expect(resumed.resumed).toBe(true);
    expect(strip(jsonl(join(dir, "metrics.jsonl")))).toEqual(strip(jsonl(join(runs, "a", "metrics.jsonl"))));
    const full = JSON.parse(readFileSync(join(runs, "a", "summary.json"), "utf8"));
    expect(resumed.final).toEqual(full.final);
  });

  it("refuses a wrong flag and an existing run name with a clear message", () => {
    const bad = spawnSync(process.execPath, [...cli, "zero", "--nope"], { env, encoding: "utf8" });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--nope/);
    const dup = spawnSync(process.execPath, [...cli, "zero", "--preset", "tiny", "--runs-dir", runs, "--name", "a"], { env, encoding: "utf8" });
    expect(dup.status).toBe(2);
    expect(dup.stderr).toMatch(/--resume/);
  });
});
