// The compact GRPO update batch (rows with zero advantage left out, shapes bucketed) must give the
// same loss and the same gradient as the full batch under every loss aggregation.
import { beforeAll, describe, expect, it } from "vitest";
import { initEngine, scalar } from "../src/engine/index.ts";
import { valueAndGrad } from "../src/engine/jax.ts";
import { refParams, toHost } from "../src/engine/params.ts";
import { initParams } from "../src/model/init.ts";
import { tinyDense } from "../src/model/presets.ts";
import { groupAdvantages } from "../src/rl/advantages.ts";
import { type Row, updateBatch } from "../src/rl/grpo.ts";
import { grpoLoss, type LossType } from "../src/rl/grpo-loss.ts";
import type { Rollout } from "../src/rl/rollout.ts";

beforeAll(async () => {
  await initEngine({ device: "cpu" });
});

describe("compact GRPO update batch", () => {
  const c = tinyDense(12, {
    hiddenSize: 16,
    numHiddenLayers: 1,
    numAttentionHeads: 2,
    numKeyValueHeads: 1,
    headDim: 8,
    intermediateSize: 32,
  });
  // 3 groups of 4: one with mixed rewards, one all-equal (zero variance), one mixed with lengths 1..7.
  const rewards = [
    [1, 0, 0, 1],
    [0, 0, 0, 0],
    [1, 0, 0.5, 0],
  ];
  const rollout = (g: number, j: number): Rollout => ({
    example: { id: `p${g}`, prompt: "", answer: "" } as any,
    promptIds: [1, 3 + g, 4],
    completionIds: Array.from({ length: 1 + ((g * 4 + j) % 7) }, (_, t) => 5 + ((t + j) % 6)),
    completion: "",
    rewards: {},
    reward: rewards[g][j],
    finishReason: "stop",
  });
  const adv = groupAdvantages(rewards, "group");
  const rows: Row[] = rewards.flatMap((g, i) =>
    g.map((_, j) => ({ r: rollout(i, j), a: adv[i][j], live: true })),
  );
  // one masked-out row, as dynamic sampling pads a short batch
  rows.push({ r: rollout(0, 0), a: 0, live: false });
  const seqLen = 3 + 8;

  for (const lossType of ["grpo", "bnpo", "dapo", "dr_grpo"] as LossType[]) {
    it(`${lossType}: same loss and gradient as the full batch, with fewer rows`, async () => {
      const p = initParams(c, 5);
      const cfg = {
        lossType,
        beta: 0,
        epsilon: 0.2,
        epsilonHigh: 0.28,
        maxCompletionLength: 8,
        temperature: 1,
      };
      const f = valueAndGrad((pp: typeof p, b: any) => grpoLoss(pp, {}, c, b, cfg), { hasAux: true });
      const full = updateBatch(c, 0, rows, seqLen);
      const compact = updateBatch(c, 0, rows, seqLen, lossType);
      expect(full.ids.shape).toEqual([13, seqLen]);
      // 12 live rows, 4 with zero advantage (the equal group): 8 remain, padded to one bucket of 16.
      expect(compact.ids.shape[0]).toBe(16);
      expect(compact.ids.shape[1]).toBeLessThanOrEqual(seqLen);
      const [[lf], gf] = f(refParams(p), full) as any;
      const [[lc], gc] = f(refParams(p), compact) as any;
      expect(await scalar(lc)).toBeCloseTo(await scalar(lf), 6);
      let maxDiff = 0;
      let maxAbs = 0;
      for (const k of Object.keys(p)) {
        const a = await toHost(gf[k]);
        const b = await toHost(gc[k]);
        for (let i = 0; i < a.length; i++) {
          maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
          maxAbs = Math.max(maxAbs, Math.abs(a[i]));
        }
      }
      expect(maxAbs).toBeGreaterThan(1e-4); // the gradient is not trivially zero
      expect(maxDiff).toBeLessThan(1e-6 + 1e-4 * maxAbs);
    });
  }
});
