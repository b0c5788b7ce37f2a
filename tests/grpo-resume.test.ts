// `r1lab grpo` resumes: a run killed with kill -9 (the whole process group) and started again with
// the same command ends with the same metrics and samples as an uninterrupted run; the same folder
// with other settings is refused, naming the option. (Own file, so it runs beside grpo-run.test.ts.)
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, runR1lab } from "./helpers/run-r1lab.ts";

const FIX = join(ROOT, "tests/fixtures/hf-reference");
const tmp = mkdtempSync(join(tmpdir(), "r1lab-grpo-resume-"));
const data = join(tmp, "train.jsonl");
const rows = (f: string) =>
  readFileSync(f, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l));

beforeAll(() => {
  const qa = [
    ["Tom has 3 apples and buys 2 more. How many?", "5"],
    ["What is 6 plus 6?", "12"],
  ];
  writeFileSync(data, qa.map(([q, a]) => JSON.stringify({ question: q, answer: `#### ${a}` })).join("\n"));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.each([
  ["LoRA", ["--use-peft", "--lora-r", "4"]],
  ["full fine-tuning with beta > 0", ["--beta", "0.1"]],
])("r1lab grpo resume (%s)", (_name, extra) => {
  const args = (out: string) => [
    "grpo",
    "--model",
    join(FIX, "tiny-qwen2"),
    "--data",
    data,
    "--task",
    "gsm8k",
    "--out",
    out,
    "--reward_funcs",
    "accuracy,language_consistency",
    "--max-steps",
    "3",
    "--save-steps",
    "1",
    "--per-device-train-batch-size",
    "4",
    "--num-generations",
    "4",
    "--max-completion-length",
    "8",
    "--max-prompt-length",
    "24",
    "--learning-rate",
    "0.01",
    "--logging-steps",
    "1",
    ...extra,
  ];
  const timing = new Set(["rollout_seconds", "step_seconds", "tokens_per_s"]);
  const strip = (rs: Record<string, unknown>[]) =>
    rs.map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => !timing.has(k))));

  it("a run killed with kill -9 and started again ends with the uninterrupted run's metrics", async () => {
    const whole = join(tmp, `whole-${extra[0]}`);
    const killed = join(tmp, `killed-${extra[0]}`);
    expect((await runR1lab(args(whole), { timeoutMs: 120_000 })).code).toBe(0);
    await new Promise<void>((resolve, reject) => {
      const child: ChildProcess = spawn(process.execPath, [join(ROOT, "bin/r1lab.js"), ...args(killed)], {
        cwd: ROOT,
        stdio: "ignore",
        detached: true,
      });
      const timer = setInterval(() => {
        const st = join(killed, "checkpoint", "trainer_state.json");
        if (existsSync(st) && JSON.parse(readFileSync(st, "utf8")).step >= 1) {
          clearInterval(timer);
          process.kill(-child.pid!, "SIGKILL"); // the whole group: bin/r1lab.js runs the CLI in a child
        }
      }, 50);
      child.on("exit", (code, signal) => {
        clearInterval(timer);
        signal === "SIGKILL" ? resolve() : reject(new Error(`run ended (${code}) before it could be killed`));
      });
    });
    expect(rows(join(killed, "metrics.jsonl")).length).toBeLessThan(3);
    const again = await runR1lab(args(killed), { timeoutMs: 120_000 });
    expect(again.code).toBe(0);
    expect(Number(/resuming at step (\d)/.exec(again.stderr)?.[1])).toBeLessThan(3);
    expect(strip(rows(join(killed, "metrics.jsonl")))).toEqual(strip(rows(join(whole, "metrics.jsonl"))));
    expect(rows(join(killed, "samples.jsonl"))).toEqual(rows(join(whole, "samples.jsonl")));
    // a different setting in the same folder is refused
    const other = await runR1lab([...args(killed), "--seed", "5"], { timeoutMs: 60_000 });
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/started with seed = 42, now 5/);
  }, 300_000);
});
