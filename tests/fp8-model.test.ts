// The model's GEMMs through the FP8 simulation (src/model/linear.ts): the default mode leaves the
// forward pass bit for bit as it was, the FP8 modes change it by about FP8 rounding, and under jit
// every projection, expert and norm still gets a gradient (straight-through estimator). The bf16
// mode (DeepSeek-V3's baseline) is much closer to float32 than E4M3.
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { initEngine, ops as o, refParams, tidy, toHost } from "../src/engine/index.ts";
import { jit, valueAndGrad } from "../src/engine/jax.ts";
import { initParams } from "../src/model/init.ts";
import { causalInputs } from "../src/model/inputs.ts";
import { fp8Mode, setFp8Mode } from "../src/model/linear.ts";
import { tinyDeepSeek } from "../src/model/presets.ts";
import { forward } from "../src/model/transformer.ts";
import { makeLmBatch } from "../src/train/batch.ts";
import { lmLoss } from "../src/train/lm-loss.ts";

beforeAll(async () => {
  await initEngine({ device: "cpu" });
});
afterEach(() => {
  setFp8Mode("none");
});

const c = tinyDeepSeek(20, {
  hiddenSize: 32,
  numHiddenLayers: 2,
  nRoutedExperts: 4,
  nGroup: 2,
  topkGroup: 1,
  numExpertsPerTok: 2,
  moeIntermediateSize: 16,
  intermediateSize: 48,
  qLoraRank: 16,
  kvLoraRank: 8,
  qkNopeHeadDim: 8,
  qkRopeHeadDim: 4,
  vHeadDim: 8,
  numAttentionHeads: 2,
});
const ids = [1, 5, 6, 7, 8, 9, 2, 4];

async function logits(p: ReturnType<typeof initParams>): Promise<Float32Array> {
  return (await toHost(
    tidy(
      () => forward(p, c, o.fromArray(ids, [1, ids.length], "int32"), causalInputs(c, 1, ids.length)).logits,
    ),
  )) as Float32Array;
}

describe("FP8 GEMMs in the model", () => {
  it("mode none is bit-identical before and after an FP8 forward; FP8 modes differ by about FP8 rounding", async () => {
    const p = initParams(c, 3, { std: 0.2 });
    const before = await logits(p);
    const rel = (a: Float32Array) =>
      Math.sqrt(a.reduce((s, v, i) => s + (v - before[i]) ** 2, 0) / before.reduce((s, v) => s + v * v, 0));
    expect(setFp8Mode("bf16")).toBe("none");
    const b = await logits(p);
    expect(rel(b)).toBeGreaterThan(1e-6);
    expect(rel(b)).toBeLessThan(0.02); // 8 significant bits
    for (const mode of ["e4m3-tile", "e4m3-tensor"] as const) {
      setFp8Mode(mode);
      const q = await logits(p);
      expect(rel(q)).toBeGreaterThan(3 * rel(b));
      expect(rel(q)).toBeGreaterThan(1e-4);
      // Each E4M3 GEMM is ~4-5% off (3 mantissa bits on both inputs); MLA chains two per path.
      expect(rel(q)).toBeLessThan(0.25);
      setFp8Mode("none");
    }
    expect(Array.from(await logits(p))).toEqual(Array.from(before));
    expect(() => setFp8Mode("fp4" as any)).toThrow(/none, bf16, e4m3-tile, e4m3-tensor/);
    expect(fp8Mode()).toBe("none");
  });

  it("under jit, FP8 training gets a gradient for every projection, expert and norm", async () => {
    setFp8Mode("e4m3-tile");
    const p = initParams(c, 5);
    const trainable = Object.fromEntries(
      Object.entries(p).filter(([k]) => !k.endsWith("e_score_correction_bias")),
    );
    const buffers = Object.fromEntries(
      Object.entries(p).filter(([k]) => k.endsWith("e_score_correction_bias")),
    );
    const seq = { ids: [1, 5, 6, 7, 8, 9, 2], lossStart: 1 };
    const step = jit(
      valueAndGrad((t: any, b: any, bt: any) => lmLoss(t, b, c, bt, { mtpLambda: 0.3, balanceAlpha: 0.01 }), {
        hasAux: true,
      }),
    );
    const [[loss], grads] = step(
      refParams(trainable),
      refParams(buffers),
      makeLmBatch(c, [seq, seq], 8, 0),
    ) as any;
    expect(Number.isFinite((await loss.data())[0])).toBe(true);
    const names = [
      "model.layers.0.self_attn.q_a_proj.weight",
      "model.layers.0.self_attn.kv_b_proj.weight",
      "model.layers.0.mlp.down_proj.weight",
      "model.layers.1.mlp.experts.3.down_proj.weight",
      "model.layers.1.mlp.shared_experts.up_proj.weight",
      "model.layers.1.self_attn.o_proj.weight",
      "model.layers.0.input_layernorm.weight",
    ];
    for (const name of names) {
      const g = await toHost(grads[name]);
      expect(g.every(Number.isFinite), name).toBe(true);
      expect(
        g.some((x) => x !== 0),
        name,
      ).toBe(true);
    }
  });
});
