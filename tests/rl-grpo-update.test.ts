// grpoUpdate: num_iterations updates on one batch with pi_old kept from before the first, and the
// k3 KL against a frozen reference when beta > 0: the first update sees ratio 1 and KL 0, the
// second a moved policy (KL > 0, the same batch); beta > 0 without a reference is an error.
import { beforeAll, describe, expect, it } from "vitest";
import { initEngine, ops as o } from "../src/engine/index.ts";
import { initParams } from "../src/model/init.ts";
import { causalInputs } from "../src/model/inputs.ts";
import { tinyDense } from "../src/model/presets.ts";
import { type GrpoBatch, grpoLoss } from "../src/rl/grpo-loss.ts";
import { grpoUpdate } from "../src/rl/grpo-update.ts";
import { Trainer } from "../src/train/trainer.ts";

beforeAll(async () => {
  await initEngine({ device: "cpu" });
});

const c = tinyDense(12, {
  hiddenSize: 16,
  numHiddenLayers: 1,
  numAttentionHeads: 2,
  numKeyValueHeads: 1,
  headDim: 8,
  intermediateSize: 32,
});
const N = 4;
const T = 5;
const batch = (): GrpoBatch => ({
  ids: o.fromArray([1, 4, 5, 6, 2, 1, 4, 7, 2, 0, 1, 3, 3, 3, 8, 1, 9, 9, 2, 0], [N, T], "int32"),
  targets: o.fromArray([4, 5, 6, 2, 0, 4, 7, 2, 0, 0, 3, 3, 3, 8, 0, 9, 9, 2, 0, 0], [N, T], "int32"),
  mask: o.fromArray([0, 1, 1, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 0, 0], [N, T]),
  advantages: o.fromArray([1, -1, 0.5, -0.5], [N]),
  io: causalInputs(c, N, T),
});

describe("grpoUpdate", () => {
  it("num_iterations 2 with beta > 0: pi_old and pi_ref fixed over the batch", async () => {
    const cfg = {
      lossType: "bnpo" as const,
      beta: 0.1,
      epsilon: 0.2,
      epsilonHigh: 0.2,
      maxCompletionLength: 4,
      temperature: 1,
    };
    const ref = initParams(c, 5);
    const tr = new Trainer<GrpoBatch>({
      model: c,
      params: initParams(c, 5),
      loss: (t, b, x) => grpoLoss(t, b, c, x, cfg),
      optimizer: { weightDecay: 0 },
    });
    const ms = await grpoUpdate(tr, c, batch(), {
      beta: 0.1,
      numIterations: 2,
      temperature: 1,
      lr: 0.05,
      ref,
    });
    expect(ms).toHaveLength(2);
    expect(tr.optState.step).toBe(2);
    expect(ms[0].kl).toBeCloseTo(0, 6); // starts at the reference
    expect(ms[1].kl).toBeGreaterThan(0);
    expect(ms[1].loss).not.toBe(ms[0].loss);
    await expect(
      grpoUpdate(tr, c, batch(), { beta: 0.1, numIterations: 1, temperature: 1, lr: 0.05 }),
    ).rejects.toThrow(/beta = 0.1 > 0 needs the reference/);
  });
});
