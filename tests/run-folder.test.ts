// A run folder where a model is expected stands for the run's final checkpoint: zero's
// checkpoints/final, the R1 pipeline's checkpoints/final_rl, else the newest checkpoint.
import { cpSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { initEngine } from "../src/engine/device.ts";
import { loadModel } from "../src/hf/checkpoint.ts";
import { runCheckpoint } from "../src/hf/run-folder.ts";

const FIXTURE = join(import.meta.dirname, "fixtures/hf-reference/tiny-qwen2");
const tmp = mkdtempSync(join(tmpdir(), "r1lab-runfolder-"));
beforeAll(async () => {
  await initEngine({ device: "cpu" });
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function run(name: string, checkpoints: string[]): string {
  const dir = join(tmp, name);
  mkdirSync(join(dir, "checkpoints"), { recursive: true });
  writeFileSync(join(dir, "config.json"), JSON.stringify({ name, template: "{problem}" }));
  checkpoints.forEach((c, i) => {
    cpSync(FIXTURE, join(dir, "checkpoints", c), { recursive: true });
    const t = new Date(Date.now() - (checkpoints.length - i) * 60_000);
    utimesSync(join(dir, "checkpoints", c, "config.json"), t, t);
  });
  return dir;
}

it("picks final, else final_rl, else the newest checkpoint; a model folder is left alone", () => {
  expect(runCheckpoint(run("zero", ["base", "final"]))).toBe(join(tmp, "zero", "checkpoints", "final"));
  expect(runCheckpoint(run("r1", ["base", "cold_start_sft", "final_rl"]))).toBe(
    join(tmp, "r1", "checkpoints", "final_rl"),
  );
  expect(runCheckpoint(run("other", ["step-10", "step-20"]))).toBe(
    join(tmp, "other", "checkpoints", "step-20"),
  );
  expect(runCheckpoint(FIXTURE)).toBeNull();
  mkdirSync(join(tmp, "empty", "checkpoints"), { recursive: true });
  expect(() => runCheckpoint(join(tmp, "empty"))).toThrow(/no finished checkpoint under checkpoints\//);
});

it("loadModel takes a run folder", async () => {
  const m = await loadModel(join(tmp, "r1"));
  expect(m.dir).toBe(join(tmp, "r1", "checkpoints", "final_rl"));
  expect(m.config.modelType).toBe("qwen2");
});
