// The R1-Zero run end to end on the tiny preset: every output file is written, two runs with the
// same seed give identical metrics, and a run killed (kill -9) in every phase and resumed each time
// gives the same logged numbers and the same weights, bit for bit, as an uninterrupted one.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const runs = mkdtempSync(join(tmpdir(), "r1lab-zero-"));
afterAll(() => rmSync(runs, { recursive: true, force: true }));
const cli = ["--import", "tsx", "src/cli/main.ts"];
const env = { ...process.env, R1LAB_THREADS: "1" };
// Checkpoints at every GRPO step and every 5 pretraining steps (the tiny preset's 6 steps have none),
// and enough held-out problems that each evaluation lasts long enough to be killed in.
const overrides = join(runs, "overrides.json");
writeFileSync(
  overrides,
  JSON.stringify({ checkpoint_every: 1, pretrain: { steps: 12 }, eval: { n_problems: 16 } }),
);

/** Run `r1lab zero` in a child process without blocking the test worker's event loop. */
function zero(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...cli, "zero", "--preset", "tiny", "--runs-dir", runs, ...args], {
      env,
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr!.on("data", (d) => {
      stderr += d;
    });
    child.on("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`zero ${args.join(" ")} failed (${code}):\n${stderr}`)),
    );
  });
}

const jsonl = (p: string) =>
  readFileSync(p, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
/** Metrics without wall-clock fields. */
const strip = (rows: any[]) => rows.map(({ tokens_per_s, rollout_seconds, step_seconds, ...rest }) => rest);

describe("r1lab zero (tiny preset)", () => {
  it("writes config, metrics, samples, summary, report and HF checkpoints; same seed, same metrics", async () => {
    await zero(["--name", "a", "--seed", "7", "--config", overrides]);
    await zero(["--name", "b", "--seed", "7", "--config", overrides]);
    const a = join(runs, "a");
    for (const f of [
      "config.json",
      "pretrain.jsonl",
      "metrics.jsonl",
      "samples.jsonl",
      "summary.json",
      "report.html",
      "eval_base.json",
      "checkpoints/final/model.safetensors",
      "checkpoints/final/config.json",
      "checkpoints/final/tokenizer.json",
    ]) {
      expect(existsSync(join(a, f)), f).toBe(true);
    }
    expect(readlinkSync(join(runs, "latest"))).toBe("b");
    const summary = JSON.parse(readFileSync(join(a, "summary.json"), "utf8"));
    for (const k of ["base", "final"]) {
      expect(summary[k]).toMatchObject({ k: 2 });
      expect(summary[k].pass1).toBeGreaterThanOrEqual(0);
      expect(summary[k].passk).toBeGreaterThanOrEqual(summary[k].pass1);
      const [lo, hi] = summary[k].pass1_ci95;
      expect(lo).toBeLessThanOrEqual(summary[k].pass1);
      expect(hi).toBeGreaterThanOrEqual(summary[k].pass1);
      expect(hi - lo).toBeCloseTo(
        Math.min(1, summary[k].pass1 + 1.96 * summary[k].pass1_se) -
          Math.max(0, summary[k].pass1 - 1.96 * summary[k].pass1_se),
        12,
      );
    }
    // eval_base.json keeps each problem's pass@1: their mean is pass@1, and the paired gain interval is centred on the gain.
    const evalBase = JSON.parse(readFileSync(join(a, "eval_base.json"), "utf8"));
    expect(evalBase.per_problem_pass1).toHaveLength(summary.base_detail.n_problems);
    const meanBase =
      evalBase.per_problem_pass1.reduce((x: number, y: number) => x + y, 0) /
      evalBase.per_problem_pass1.length;
    expect(meanBase).toBeCloseTo(summary.base.pass1, 12);
    expect(summary.base_detail.per_problem_pass1).toBeUndefined();
    expect(summary.gain_pass1).toBeCloseTo(summary.final.pass1 - summary.base.pass1, 12);
    expect(summary.gain_pass1_se).toBeGreaterThanOrEqual(0);
    expect((summary.gain_pass1_ci95[0] + summary.gain_pass1_ci95[1]) / 2).toBeCloseTo(summary.gain_pass1, 12);
    expect(summary.wall_seconds).toBeGreaterThan(0);
    expect(summary.cpu_seconds).toBeGreaterThan(0);
    const cfg = JSON.parse(readFileSync(join(a, "config.json"), "utf8"));
    expect(cfg.grpo).toMatchObject({ num_generations: 4, loss_type: "grpo", epsilon_high: 0.28 });
    const ma = jsonl(join(a, "metrics.jsonl"));
    expect(ma.length).toBe(4);
    for (const k of [
      "reward_mean",
      "reward_std",
      "accuracy",
      "format_rate",
      "completion_length",
      "kl",
      "clip_fraction",
      "zero_variance_fraction",
      "entropy",
      "expert_imbalance",
      "tokens_per_s",
    ]) {
      expect(typeof ma[0][k], k).toBe("number");
    }
    expect(strip(jsonl(join(runs, "b", "metrics.jsonl")))).toEqual(strip(ma));
    expect(strip(jsonl(join(runs, "b", "pretrain.jsonl")))).toEqual(strip(jsonl(join(a, "pretrain.jsonl"))));
    expect(readFileSync(join(a, "report.html"), "utf8")).toContain("<svg");
    // Finished stages leave their final checkpoints only; the partial ones are gone.
    for (const n of ["base", "final"])
      expect(existsSync(join(a, "checkpoints", n, "trainer_state.json")), n).toBe(true);
    for (const n of ["base.partial", "final.partial"])
      expect(existsSync(join(a, "checkpoints", n)), n).toBe(false);
    // Per-reward means (TRL's rewards/<name>/mean) and format_rate = the share of well-formed completions.
    expect(ma[0]["rewards/format/mean"]).toBe(ma[0].format_rate);
    expect(typeof ma[0]["rewards/accuracy/mean"]).toBe("number");
  }, 300_000);

  it("killed (kill -9) in pretraining, base eval, GRPO and final eval, resumes bit-identical: every logged number and the final weights", async () => {
    const dir = join(runs, "c");
    const state = (n: string) => {
      try {
        return JSON.parse(readFileSync(join(dir, "checkpoints", n, "trainer_state.json"), "utf8"))
          .step as number;
      } catch {
        return -1; // not there, or being renamed into place
      }
    };
    // Each point: when to kill, so that the next start resumes inside that phase.
    const points: [string, () => boolean][] = [
      ["pretraining", () => state("base.partial") >= 5],
      ["base evaluation", () => state("base") > 0 && !existsSync(join(dir, "eval_base.json"))],
      ["GRPO", () => state("final.partial") >= 2],
      ["final evaluation", () => state("final") === 4 && !existsSync(join(dir, "summary.json"))],
    ];
    let first = true;
    for (const [phase, due] of points) {
      const args = first
        ? ["--preset", "tiny", "--runs-dir", runs, "--name", "c", "--seed", "7", "--config", overrides]
        : ["--resume", dir];
      first = false;
      const child: ChildProcess = spawn(process.execPath, [...cli, "zero", ...args], {
        env,
        stdio: "ignore",
      });
      await new Promise<void>((resolve, reject) => {
        const t = setInterval(() => {
          if (due()) {
            clearInterval(t);
            child.kill("SIGKILL");
            resolve();
          }
        }, 20);
        child.on("exit", () => {
          clearInterval(t);
          reject(new Error(`run finished before it could be killed in ${phase}`));
        });
      });
      await new Promise((r) => child.on("exit", r));
      expect(existsSync(join(dir, "summary.json")), phase).toBe(false);
    }
    await zero(["--resume", dir]);
    const a = join(runs, "a");
    for (const f of ["pretrain.jsonl", "metrics.jsonl", "samples.jsonl"])
      expect(strip(jsonl(join(dir, f))), f).toEqual(strip(jsonl(join(a, f))));
    expect(JSON.parse(readFileSync(join(dir, "eval_base.json"), "utf8"))).toEqual(
      JSON.parse(readFileSync(join(a, "eval_base.json"), "utf8")),
    );
    const {
      wall_seconds: _w,
      cpu_seconds: _c,
      resumed,
      ...rest
    } = JSON.parse(readFileSync(join(dir, "summary.json"), "utf8"));
    const {
      wall_seconds: _w2,
      cpu_seconds: _c2,
      resumed: _r,
      ...full
    } = JSON.parse(readFileSync(join(a, "summary.json"), "utf8"));
    expect(resumed).toBe(true);
    expect(rest).toEqual(full);
    for (const ck of ["base", "final"]) {
      const got = readFileSync(join(dir, "checkpoints", ck, "model.safetensors"));
      expect(got.equals(readFileSync(join(a, "checkpoints", ck, "model.safetensors"))), `${ck} weights`).toBe(
        true,
      );
    }
  }, 400_000);

  it("refuses a wrong flag and an existing run name with a clear message", () => {
    const bad = spawnSync(process.execPath, [...cli, "zero", "--nope"], { env, encoding: "utf8" });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--nope/);
    const dup = spawnSync(
      process.execPath,
      [...cli, "zero", "--preset", "tiny", "--runs-dir", runs, "--name", "a"],
      { env, encoding: "utf8" },
    );
    expect(dup.status).toBe(2);
    expect(dup.stderr).toMatch(/--resume/);
  });
});
