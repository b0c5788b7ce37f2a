// The Trainer on the ORT CPU executor writes each step's gradients into the buffers of the last
// step's spent gradients (donation of an unread argument), in update() and in gradient
// accumulation: checked by the step's donation count, and by identical losses, gradient norms and
// parameters against a Trainer that gets fresh buffers every step.
import { beforeAll, describe, expect, it } from "vitest";
import { initEngine } from "../src/engine/device.ts";
import { initParams } from "../src/model/init.ts";
import { tinyDense } from "../src/model/presets.ts";
import { type LmBatch, lmLoss } from "../src/train/lm-loss.ts";
import { Trainer } from "../src/train/trainer.ts";
import { hostParams, randomBatch } from "./helpers/executor-compare.ts";

beforeAll(async () => {
  await initEngine({ device: "cpu", executor: "ort" });
});

const c = tinyDense(40, { hiddenSize: 32, intermediateSize: 48, numHiddenLayers: 2, headDim: 16 });
const batchAt = (seed: number): LmBatch => randomBatch(c, seed, "trainer-recycle", 2, 9);
const trainer = () =>
  new Trainer<LmBatch>({
    model: c,
    params: initParams(c, 0),
    loss: (t, b, batch) => lmLoss(t, b, c, batch, { mtpLambda: 0, balanceAlpha: 0 }),
    withMtp: false,
  });

describe("Trainer gradient buffers", () => {
  it("reuses the spent gradients' buffers, with the same numbers as fresh ones", async () => {
    const a = trainer();
    const b = trainer();
    const logs: Record<string, number>[][] = [[], []];
    const hosts = (t: Trainer<LmBatch>) => Object.values((t as any).spare).map((x: any) => x.host);
    const expectSameBuffers = (now: unknown[], then: unknown[]) => {
      for (let i = 0; i < now.length; i++) expect(now[i]).toBe(then[i]); // the very same buffers
    };
    let first: unknown[] = [];
    for (let s = 0; s < 3; s++) {
      logs[0].push(await a.update(batchAt(s), 1e-3));
      if (s === 0) first = hosts(a);
      else expectSameBuffers(hosts(a), first);
      (b as any).spare = null; // fresh zero buffers every step
      logs[1].push(await b.update(batchAt(s), 1e-3));
    }
    expect(first.length).toBe(Object.keys(a.trainable).length);
    // Accumulation: the second micro-batch's buffers are spent once added into the first's.
    for (const t of [a, b]) {
      await t.accumulate(batchAt(7));
      if (t === b) (b as any).spare = null;
      await t.accumulate(batchAt(8));
      if (t === b) (b as any).spare = null;
      logs[t === a ? 0 : 1].push({ grad_norm: await t.applyAccumulated(1e-3) });
    }
    expectSameBuffers(hosts(a), first);
    expect(logs[0]).toEqual(logs[1]);
    const pa = await hostParams(a.params);
    const pb = await hostParams(b.params);
    for (const k of Object.keys(pa)) expect(pa[k]).toEqual(pb[k]);
  });
});
