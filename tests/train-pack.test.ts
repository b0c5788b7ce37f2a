// Packed pretraining rows (train/batch.ts packSequences): whole sequences per row, targets from each
// sequence's lossStart, and the same losses as one sequence per padded row.
import { beforeAll, describe, expect, it } from "vitest";
import { initEngine } from "../src/engine/index.ts";
import { disposeParams, scalar } from "../src/engine/params.ts";
import { tidy } from "../src/engine/scope.ts";
import { initParams } from "../src/model/init.ts";
import { tinyDeepSeek } from "../src/model/presets.ts";
import { makeLmBatch, packSequences, type TokenSequence } from "../src/train/batch.ts";
import { lmLoss } from "../src/train/lm-loss.ts";
import { makeSftBatch } from "../src/train/sft-batch.ts";

beforeAll(async () => {
  await initEngine({ device: "cpu" });
});

// A "prompt" of 1 + n tokens (not trained) and a 3-token completion + EOS.
const seq = (n: number, k: number): TokenSequence => {
  const prompt = [1, ...Array.from({ length: n }, (_, i) => 3 + ((i + k) % 5))];
  return { ids: [...prompt, 9, 10 + (k % 4), 11, 2], lossStart: prompt.length };
};

describe("packSequences", () => {
  it("fills rows with whole sequences in draw order and flags targets from lossStart", () => {
    const pool = [seq(2, 0), seq(5, 1), seq(1, 2), seq(3, 3), seq(6, 4), seq(2, 5)];
    let i = 0;
    const rows = packSequences(() => pool[i++ % pool.length], 2, 16);
    // lengths 7, 10, 6, 8, 11: 7 fits, 7+10 > 16 opens row 2 (10 + 6 = 16), 8 would open a third: dropped.
    expect(rows.map((r) => r.ids.length)).toEqual([7, 16]);
    expect(i).toBe(4);
    expect(rows[1].segments).toEqual([...Array(10).fill(0), ...Array(6).fill(1)]);
    expect(rows[1].positions).toEqual([
      ...Array.from({ length: 10 }, (_, t) => t),
      ...Array.from({ length: 6 }, (_, t) => t),
    ]);
    // targetFlags[t] = 1 for t >= lossStart: the completion tokens and EOS.
    expect(rows[0].targetFlags).toEqual([0, 0, 0, 1, 1, 1, 1]);
    expect(() => packSequences(() => seq(20, 0), 1, 16)).toThrow(/25 tokens; the row length is 16/);
    expect(() => packSequences(() => seq(2, 0), 1, undefined as unknown as number)).toThrow(
      /row length must be a positive integer/,
    );
  });

  it("gives the same CE and MTP losses as one padded row per sequence", async () => {
    const c = tinyDeepSeek(16, {
      hiddenSize: 32,
      numHiddenLayers: 1,
      numAttentionHeads: 2,
      numKeyValueHeads: 2,
      headDim: 16,
      intermediateSize: 48,
      numNextnPredictLayers: 1,
    });
    const params = initParams(c, 4);
    const pool = [seq(2, 0), seq(4, 1), seq(3, 2)];
    let i = 0;
    const rows = packSequences(() => pool[i++ % pool.length], 1, 24);
    expect(rows[0].segments.at(-1)).toBe(2);
    const losses = async (batch: ReturnType<typeof makeLmBatch>) => {
      const [l, aux] = tidy(() => lmLoss(params, {}, c, batch, { mtpLambda: 1, balanceAlpha: 0 }));
      const out = { ce: await scalar(aux.ce), mtp: await scalar(aux.mtp) };
      disposeParams([l, aux, batch]);
      return out;
    };
    const packed = await losses(makeSftBatch(c, rows, 32, 0).batch);
    const padded = await losses(makeLmBatch(c, pool, 16, 0));
    expect(packed.ce).toBeCloseTo(padded.ce, 4);
    expect(packed.mtp).toBeCloseTo(padded.mtp, 4);
    expect(packed.ce).toBeGreaterThan(1);
    disposeParams(params);
  });
});
