// GRPO math: group advantages, the clipped surrogate and its aggregations, checked against
// plain-JS computations on hand-made batches.
import { beforeAll, describe, expect, it } from "vitest";
import { initEngine, ops as o, scalar } from "../src/engine/index.ts";
import { groupAdvantages, isZeroVariance } from "../src/rl/advantages.ts";
import { grpoLoss } from "../src/rl/grpo-loss.ts";
import { initParams } from "../src/model/init.ts";
import { causalInputs } from "../src/model/inputs.ts";
import { tinyDense } from "../src/model/presets.ts";
import { tokenLogprobs } from "../src/rl/grpo-loss.ts";
import { tidy } from "../src/engine/scope.ts";
import { valueAndGrad } from "../src/engine/jax.ts";
import { refParams, toHost } from "../src/engine/params.ts";

beforeAll(async () => {
  await initEngine({ device: "cpu" });
});

describe("group advantages", () => {
  it("normalises within groups (grpo), by the batch std, or not at all (dr_grpo)", () => {
    const groups = [
      [1, 0, 0, 1],
      [1, 1, 1, 1],
    ];
    const g = groupAdvantages(groups, "group", 0);
    const std = Math.sqrt((0.5 ** 2 * 4) / 3);
    expect(g[0]).toEqual([0.5 / std, -0.5 / std, -0.5 / std, 0.5 / std].map((x) => expect.closeTo(x, 10)));
    expect(g[1]).toEqual([0, 0, 0, 0]);
    expect(groupAdvantages(groups, "none")[0]).toEqual([0.5, -0.5, -0.5, 0.5]);
    const flat = groups.flat();
    const m = flat.reduce((a, b) => a + b) / flat.length;
    const bstd = Math.sqrt(flat.reduce((a, b) => a + (b - m) ** 2, 0) / (flat.length - 1));
    expect(groupAdvantages(groups, "batch", 0)[0][0]).toBeCloseTo(0.5 / bstd, 10);
    expect(isZeroVariance(groups[1])).toBe(true);
    expect(isZeroVariance(groups[0])).toBe(false);
  });
});

describe("GRPO loss", () => {
  const c = tinyDense(12, {
    hiddenSize: 16,
    numHiddenLayers: 1,
    numAttentionHeads: 2,
    numKeyValueHeads: 1,
    headDim: 8,
    intermediateSize: 32,
  });
  const N = 3;
  const T = 5;
  const ids = [
    [1, 4, 5, 6, 2],
    [1, 4, 7, 2, 0],
    [1, 3, 3, 3, 8],
  ];
  const targets = ids.map((r) => [...r.slice(1), 0]);
  const mask = [
    [0, 1, 1, 1, 0],
    [0, 1, 1, 0, 0],
    [0, 0, 1, 1, 1],
  ];
  const adv = [1.5, -0.5, 0.25];

  async function run(lossType: "grpo" | "bnpo" | "dapo" | "dr_grpo", oldShift = 0) {
    const p = initParams(c, 3);
    const io = causalInputs(c, N, T);
    const idsA = o.fromArray(ids.flat(), [N, T], "int32");
    const tgtA = o.fromArray(targets.flat(), [N, T], "int32");
    const logp = await toHost(tidy(() => tokenLogprobs(p, c, idsA, tgtA, causalInputs(c, N, T), 1).picked));
    const old = Float32Array.from(logp, (x) => x + oldShift);
    const [loss, aux] = grpoLoss(
      p,
      {},
      c,
      {
        ids: idsA,
        targets: tgtA,
        mask: o.fromArray(mask.flat(), [N, T]),
        advantages: o.fromArray(adv, [N]),
        io,
        oldLogp: oldShift ? o.fromArray(old, [N, T]) : undefined,
      },
      { lossType, beta: 0, epsilon: 0.2, epsilonHigh: 0.28, maxCompletionLength: 4, temperature: 1 },
    );
    return { loss: await scalar(loss), clip: await scalar(aux.clipFrac), logp, old };
  }

  /** Plain-JS reference of the surrogate with aggregation. */
  function reference(logp: ArrayLike<number>, old: ArrayLike<number>, lossType: string) {
    const per: number[][] = ids.map((_, i) =>
      mask[i].map((_, t) => {
        const r = Math.exp(logp[i * T + t] - old[i * T + t]);
        const clipped = Math.min(Math.max(r, 0.8), 1.28);
        return -Math.min(r * adv[i], clipped * adv[i]);
      }),
    );
    const tok = mask.flat().reduce((a, b) => a + b);
    const sumAll = per.reduce((s, row, i) => s + row.reduce((a, l, t) => a + l * mask[i][t], 0), 0);
    if (lossType === "grpo")
      return (
        per.reduce(
          (s, row, i) => s + row.reduce((a, l, t) => a + l * mask[i][t], 0) / mask[i].reduce((a, b) => a + b),
          0,
        ) / N
      );
    if (lossType === "dr_grpo") return sumAll / (N * 4);
    return sumAll / tok;
  }

  for (const lt of ["grpo", "bnpo", "dapo", "dr_grpo"] as const) {
    it(`${lt}: with mu = 1 the ratio is 1 and the loss is the aggregated -A`, async () => {
      const r = await run(lt);
      expect(r.loss).toBeCloseTo(reference(r.logp, r.logp, lt), 5);
      expect(r.clip).toBe(0);
    });
  }

  it("clips ratios outside [1 - epsilon, 1 + epsilon_high] and reports the clipped share", async () => {
    const r = await run("dapo", -0.5); // old log-probs lower by 0.5: ratio e^0.5 = 1.65 > 1.28
    expect(r.loss).toBeCloseTo(reference(r.logp, r.old, "dapo"), 5);
    // Positive-advantage rows are clipped (rows 0 and 2), the negative one is not.
    const clippedTokens = mask[0].reduce((a, b) => a + b) + mask[2].reduce((a, b) => a + b);
    expect(r.clip).toBeCloseTo(clippedTokens / mask.flat().reduce((a, b) => a + b), 5);
  });

  it("its gradient raises the log-probability of positive-advantage completions", async () => {
    const p = initParams(c, 4);
    const io = () => causalInputs(c, N, T);
    const batch = () => ({
      ids: o.fromArray(ids.flat(), [N, T], "int32"),
      targets: o.fromArray(targets.flat(), [N, T], "int32"),
      mask: o.fromArray(mask.flat(), [N, T]),
      advantages: o.fromArray([1, -1, 0], [N]),
      io: io(),
    });
    const cfg = {
      lossType: "grpo" as const,
      beta: 0,
      epsilon: 0.2,
      epsilonHigh: 0.2,
      maxCompletionLength: 4,
      temperature: 1,
    };
    const seqLogp = async (params: typeof p) => {
      const lp = await toHost(
        tidy(
          () =>
            tokenLogprobs(
              params,
              c,
              o.fromArray(ids.flat(), [N, T], "int32"),
              o.fromArray(targets.flat(), [N, T], "int32"),
              io(),
              1,
            ).picked,
        ),
      );
      return [0, 1].map((i) => mask[i].reduce((a, m, t) => a + m * lp[i * T + t], 0));
    };
    const before = await seqLogp(p);
    const [, grads] = valueAndGrad((pp: typeof p, b: any) => grpoLoss(pp, {}, c, b, cfg), { hasAux: true })(
      refParams(p),
      batch(),
    ) as any;
    const stepped: typeof p = {};
    for (const k of Object.keys(p)) stepped[k] = o.sub(p[k], o.mul(grads[k], 0.05));
    const after = await seqLogp(stepped);
    expect(after[0]).toBeGreaterThan(before[0]);
    expect(after[1]).toBeLessThan(before[1]);
  });
});
