// The ORT executor against jax-js on whole programs, for a dense model and for DeepSeek-V3 in
// miniature (MLA + DeepSeekMoE + MTP): loss and every gradient of one step, the Trainer's losses,
// gradient norms and parameters after several AdamW steps (with the router-bias update), and
// greedy generation token for token.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile } from "../src/engine/compile.ts";
import { initEngine } from "../src/engine/device.ts";
import { setExecutor } from "../src/engine/executor.ts";
import type { ModelConfig } from "../src/model/config.ts";
import type { LmBatch } from "../src/train/lm-loss.ts";
import {
  comparedModels,
  expectSameGreedy,
  expectSameTraining,
  hostLeaves,
  hostParams,
  lossAndGrad,
  randomBatch,
  relDiff,
  trainSteps,
} from "./helpers/executor-compare.ts";

beforeAll(async () => {
  await initEngine({ device: "cpu", executor: "ort" });
});
afterAll(() => setExecutor("ort"));

const MODELS = comparedModels(48, 64, 2);
const batchOf = (c: ModelConfig, seed: number): LmBatch => randomBatch(c, seed, "ort-train", 3, 13);

describe.each(MODELS)("ORT executor on the %s model", (_name, c) => {
  it("one step: loss, aux values and every gradient match jax-js (<= 1e-5 relative)", async () => {
    const { f, args } = lossAndGrad(c, batchOf(c, 1));
    const run = (executor: "ort" | "jax") => compile(f, { executor })(...args());
    const o = await hostLeaves(run("ort"));
    const j = await hostLeaves(run("jax"));
    expect(o.length).toBe(j.length);
    expect(o.length).toBeGreaterThan(10);
    for (let i = 0; i < o.length; i++) expect(relDiff(o[i], j[i])).toBeLessThan(1e-5);
  });

  it("Trainer: losses, grad norms and parameters after 4 AdamW steps match jax-js", async () => {
    const runTrainer = async (executor: "ort" | "jax") => {
      setExecutor(executor);
      const { tr, logs } = await trainSteps(c, 4, (seed) => batchOf(c, seed));
      return { logs, params: await hostParams(tr.params) };
    };
    const o = await runTrainer("ort");
    const j = await runTrainer("jax");
    setExecutor("ort");
    expectSameTraining(o, j, 8e-3);
  });

  it("greedy generation is identical token for token", async () => {
    await expectSameGreedy(c, [5, 3, 7], 10, (side) => setExecutor(side === "a" ? "ort" : "jax"));
    setExecutor("ort");
  });

  it("greedy generation with repeated prompts (one prefill per distinct prompt on ORT) is identical", async () => {
    const use = (side: "a" | "b") => setExecutor(side === "a" ? "ort" : "jax");
    await expectSameGreedy(c, [5, 3, 7], 6, use, [0, 1, 0, 2, 1, 0]);
    setExecutor("ort");
  });
});
