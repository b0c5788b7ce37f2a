// policyLoss against hand-computed values for every loss type (TRL's _compute_loss on the same
// numbers): loss, per-token gradients d loss / d logp, clip fractions on both sides, GSPO's
// sequence-level weights, CISPO, k3 KL with beta > 0, truncated importance sampling, and dapo's
// normalisation across gradient-accumulation micro-batches.
import { beforeAll, describe, expect, it } from "vitest";
import { initEngine, ops as o, scalar } from "../src/engine/index.ts";
import { grad } from "../src/engine/jax.ts";
import { toHost } from "../src/engine/params.ts";
import { type GrpoBatch, type GrpoLossConfig, type LossType, policyLoss } from "../src/rl/grpo-loss.ts";

beforeAll(async () => {
  await initEngine({ device: "cpu" });
});

// Two completions, three positions. Row 0 has 3 completion tokens, row 1 has 2.
const logp = [
  [-1.0, -0.5, -2.0],
  [-0.2, -1.5, -3.0],
];
const old = [
  [-1.5, -0.5, -1.8], // ratios e^0.5 = 1.6487, 1, e^-0.2 = 0.8187
  [-0.2, -1.0, -3.0], // ratios 1, e^-0.5 = 0.6065, (masked)
];
const mask = [
  [1, 1, 1],
  [1, 1, 0],
];
const adv = [2, -1];
const ref = [
  [-1.2, -0.5, -2.5],
  [-0.1, -1.5, -2.0],
];
const base: GrpoLossConfig = {
  lossType: "grpo",
  beta: 0,
  epsilon: 0.2,
  epsilonHigh: 0.28,
  maxCompletionLength: 4,
  temperature: 1,
};

function batch(extra: Partial<GrpoBatch> = {}): GrpoBatch {
  return {
    ids: o.zeros([2, 3]),
    targets: o.zeros([2, 3]),
    mask: o.fromArray(mask.flat(), [2, 3]),
    advantages: o.fromArray(adv, [2]),
    io: {} as any,
    oldLogp: o.fromArray(old.flat(), [2, 3]),
    ...extra,
  };
}

async function run(cfg: GrpoLossConfig, extra: Partial<GrpoBatch> = {}) {
  const lp = o.fromArray(logp.flat(), [2, 3]);
  const ent = o.fromArray([1, 1, 1, 2, 2, 2], [2, 3]);
  const [loss, aux] = policyLoss(lp, ent, batch(extra), cfg);
  const g = grad((x: o.Arr) => policyLoss(x, ent, batch(extra), cfg)[0])(lp) as o.Arr;
  return {
    loss: await scalar(loss),
    grad: Array.from(await toHost(g)),
    clipLow: await scalar(aux.clipLow),
    clipHigh: await scalar(aux.clipHigh),
    clipFrac: await scalar(aux.clipFrac),
    kl: await scalar(aux.kl),
    entropy: await scalar(aux.entropy),
  };
}

// Hand computation, token-level PPO clip with epsilon 0.2 / epsilon_high 0.28:
// row 0 (A = 2): w = 1.6487 -> clipped to 1.28 (min picks 2.56; no gradient), w = 1 -> 2, w = 0.8187 -> 1.6375
//   (min(0.8187*2, 0.8*2 = 1.6) = 1.6 is the clipped one: 0.8187 > 0.8, so the ratio itself: 1.6375).
// row 1 (A = -1): w = 1 -> -1, w = 0.6065 -> min(-0.6065, -0.8) = -0.8 (clipped, no gradient).
const r0 = [Math.exp(0.5), 1, Math.exp(-0.2)];
const r1 = [1, Math.exp(-0.5)];
const l0 = [-2.56, -2, -2 * r0[2]];
const l1 = [1, 0.8];
const sum0 = l0.reduce((a, b) => a + b);
const sum1 = l1.reduce((a, b) => a + b);
// d l / d logp = -A w where the unclipped term is the min, else 0.
const g0 = [0, -2, -2 * r0[2]];
const g1 = [1, 0];

describe("policyLoss: aggregation per loss type", () => {
  const cases: [LossType, number, number[]][] = [
    ["grpo", (sum0 / 3 + sum1 / 2) / 2, [...g0.map((g) => g / 3 / 2), ...g1.map((g) => g / 2 / 2), 0]],
    ["bnpo", (sum0 + sum1) / 5, [...g0, ...g1, 0].map((g) => g / 5)],
    ["dapo", (sum0 + sum1) / 5, [...g0, ...g1, 0].map((g) => g / 5)],
    ["dr_grpo", (sum0 + sum1) / (2 * 4), [...g0, ...g1, 0].map((g) => g / 8)],
  ];
  for (const [lt, loss, grads] of cases) {
    it(`${lt}: loss and per-token gradients`, async () => {
      const r = await run({ ...base, lossType: lt });
      expect(r.loss).toBeCloseTo(loss, 5);
      for (const [i, g] of r.grad.entries()) expect(g).toBeCloseTo(grads[i], 5);
      // one high-clipped token (row 0, A > 0), one low-clipped (row 1, A < 0), of 5
      expect(r.clipHigh).toBeCloseTo(1 / 5, 6);
      expect(r.clipLow).toBeCloseTo(1 / 5, 6);
      expect(r.clipFrac).toBeCloseTo(2 / 5, 6);
      expect(r.entropy).toBeCloseTo((3 * 1 + 2 * 2) / 5, 6);
    });
  }

  it("gradient accumulation: grpo/bnpo/dr_grpo divide by the steps, dapo by the tokens of the whole batch", async () => {
    const ga = { ...base, gradientAccumulationSteps: 4 };
    expect((await run({ ...ga, lossType: "bnpo" })).loss).toBeCloseTo((sum0 + sum1) / 5 / 4, 5);
    expect((await run({ ...ga, lossType: "grpo" })).loss).toBeCloseTo((sum0 / 3 + sum1 / 2) / 2 / 4, 5);
    expect((await run({ ...ga, lossType: "dr_grpo" })).loss).toBeCloseTo((sum0 + sum1) / 8 / 4, 5);
    // dapo: 5 tokens here, 12 in the whole generation batch; GA does not enter
    const d = await run({ ...ga, lossType: "dapo" }, { numItemsInBatch: o.fromArray([12], []) });
    expect(d.loss).toBeCloseTo((sum0 + sum1) / 12, 5);
    expect(d.grad[1]).toBeCloseTo(-2 / 12, 5);
  });
});

describe("policyLoss: GSPO, CISPO, KL, importance sampling", () => {
  it("sequence-level weights (GSPO): one clipped weight per completion", async () => {
    const r = await run({ ...base, lossType: "grpo", importanceSamplingLevel: "sequence" });
    // row 0: mean log-ratio (0.5 + 0 - 0.2) / 3 = 0.1 -> w = e^0.1 = 1.105 (inside [0.8, 1.28]);
    // row 1: (0 - 0.5) / 2 = -0.25 -> w = 0.7788 < 0.8 with A < 0: clipped to 0.8.
    const w0 = Math.exp(0.1);
    const loss = ((3 * -2 * w0) / 3 + (2 * 0.8) / 2) / 2;
    expect(r.loss).toBeCloseTo(loss, 5);
    // d/d logp_{0,t} of -2 w0 = -2 w0 / 3 (each token moves the mean log-ratio by 1/3); /2 rows
    for (const t of [0, 1, 2]) expect(r.grad[t]).toBeCloseTo((-2 * w0) / 3 / 2, 5);
    for (const t of [3, 4, 5]) expect(r.grad[t]).toBeCloseTo(0, 6);
    expect(r.clipLow).toBeCloseTo(2 / 5, 6); // both tokens of row 1
    expect(r.clipHigh).toBe(0);
  });

  it("cispo: -sg(min(w, epsilon_high)) A log pi, token-normalised", async () => {
    const r = await run({ ...base, lossType: "cispo", epsilonHigh: 1.5 });
    const w = [...r0.map((x) => Math.min(x, 1.5)), ...r1];
    const A = [2, 2, 2, -1, -1];
    const lp = [...logp[0], logp[1][0], logp[1][1]];
    const loss = w.reduce((s, wi, i) => s - wi * A[i] * lp[i], 0) / 5;
    expect(r.loss).toBeCloseTo(loss, 5);
    for (const [i, wi] of w.entries()) expect(r.grad[i]).toBeCloseTo((-wi * A[i]) / 5, 5);
    expect(r.clipHigh).toBeCloseTo(1 / 5, 6); // e^0.5 > 1.5 with A > 0
    expect(r.clipFrac).toBeCloseTo(1 / 5, 6);
  });

  it("beta > 0 adds beta * k3 KL against the reference and reports its mean", async () => {
    const beta = 0.1;
    const r = await run({ ...base, lossType: "bnpo", beta }, { refLogp: o.fromArray(ref.flat(), [2, 3]) });
    const k3 = (rf: number, lp: number) => Math.exp(rf - lp) - (rf - lp) - 1;
    const kls = [0, 1, 2]
      .map((t) => k3(ref[0][t], logp[0][t]))
      .concat([0, 1].map((t) => k3(ref[1][t], logp[1][t])));
    const klSum = kls.reduce((a, b) => a + b);
    expect(r.kl).toBeCloseTo(klSum / 5, 6);
    expect(r.loss).toBeCloseTo((sum0 + sum1 + beta * klSum) / 5, 5);
    // d k3 / d logp = 1 - e^(ref - logp)
    const lps = [...logp[0], logp[1][0], logp[1][1]];
    const refs = [...ref[0], ref[1][0], ref[1][1]];
    const pg = [...g0, ...g1];
    for (const [i, g] of pg.entries())
      expect(r.grad[i]).toBeCloseTo((g + beta * (1 - Math.exp(refs[i] - lps[i]))) / 5, 5);
  });

  it("beta > 0 without reference log-probs is an error, not a silent skip", () => {
    const lp = o.fromArray(logp.flat(), [2, 3]);
    expect(() => policyLoss(lp, lp, batch(), { ...base, beta: 0.04 })).toThrow(
      /beta = 0.04 > 0 needs the reference model's log-probs/,
    );
  });

  it("importance-sampling weights scale each token's policy term", async () => {
    const is = [0.5, 1, 2, 1, 3, 1];
    const r = await run({ ...base, lossType: "bnpo" }, { isWeights: o.fromArray(is, [2, 3]) });
    const l = [...l0, ...l1];
    const isM = [0.5, 1, 2, 1, 3];
    expect(r.loss).toBeCloseTo(l.reduce((s, x, i) => s + x * isM[i], 0) / 5, 5);
    expect(r.grad[1]).toBeCloseTo((-2 * 1) / 5, 5);
    expect(r.grad[2]).toBeCloseTo((-2 * r0[2] * 2) / 5, 5);
  });

  it("without old log-probs (mu = 1) the ratio is 1 and the gradient is -A per token", async () => {
    const lp = o.fromArray(logp.flat(), [2, 3]);
    const ent = o.zeros([2, 3]);
    const cfg = { ...base, lossType: "bnpo" as const };
    const b = () => batch({ oldLogp: undefined });
    const loss = await scalar(policyLoss(lp, ent, b(), cfg)[0]);
    expect(loss).toBeCloseTo((-2 * 3 + 1 * 2) / 5, 6);
    const g = await toHost(grad((x: o.Arr) => policyLoss(x, ent, b(), cfg)[0])(lp) as o.Arr);
    expect(Array.from(g).map((x) => Number(x.toFixed(5)))).toEqual([-0.4, -0.4, -0.4, 0.2, 0.2, 0]);
  });
});
