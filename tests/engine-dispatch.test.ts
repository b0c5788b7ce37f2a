// Kernel dispatch on the Wasm worker pool: the shared-memory channel and the main thread's inline
// share (src/engine/fast-worker.ts) must give exactly the results of plain worker messages, and a
// process whose workers are parked must still exit on its own. Decode-step attention over the old
// cache plus the new token (src/model/decode-attention.ts) must equal attention over the written cache.
import { spawnSync } from "node:child_process";
import { beforeAll, describe, expect, it } from "vitest";
import { initEngine, ops as o, toHost } from "../src/engine/index.ts";
import { Rng } from "../src/engine/rng.ts";
import { sdpa } from "../src/model/attention.ts";
import { sdpaDecode } from "../src/model/decode-attention.ts";
import { writeCache } from "../src/model/kv-cache.ts";
import { generate } from "../src/generate/generate.ts";
import { GREEDY } from "../src/generate/sampling.ts";
import type { ModelConfig } from "../src/model/config.ts";
import { initParams } from "../src/model/init.ts";
import { causalInputs } from "../src/model/inputs.ts";
import { tinyDeepSeek, tinyDense } from "../src/model/presets.ts";
import { forward } from "../src/model/transformer.ts";
import { tidy } from "../src/engine/scope.ts";

function check(env: Record<string, string>): { mm: number[]; ids: number[][] } {
  const r = spawnSync(process.execPath, ["--import", "tsx", "tests/helpers/dispatch-check.ts"], {
    // The jax executor: jax-js starts its worker pool only when it runs compiled steps itself.
    env: { ...process.env, R1LAB_THREADS: "2", R1LAB_EXECUTOR: "jax", ...env },
    encoding: "utf8",
    timeout: 120_000,
  });
  if (r.status !== 0) throw new Error(`dispatch-check failed (${r.status ?? r.signal}):\n${r.stderr}`);
  return JSON.parse(r.stdout);
}

describe("Wasm kernel dispatch", () => {
  it("shared-memory and inline dispatch give the same numbers as worker messages, and the process exits", () => {
    const t0 = Date.now();
    const fast = check({});
    const plain = check({ R1LAB_FAST_WORKERS: "0" });
    expect(fast.mm.length).toBe(96 * 72);
    expect(fast.mm).toEqual(plain.mm);
    expect(fast.ids).toEqual(plain.ids);
    expect(fast.ids.map((r) => r.length)).toEqual([6, 6, 6]);
    expect(Date.now() - t0).toBeLessThan(110_000); // exit is not held up by parked workers
  }, 240_000);
});

describe("decode-step attention", () => {
  beforeAll(() => initEngine({ device: "cpu" }));
  it("attending over the old cache plus the new token equals attending over the written cache", async () => {
    const [B, H, S, d] = [3, 2, 9, 8];
    const rng = Rng.stream(5, "decode-attn");
    const arr = (shape: number[]) =>
      o.fromArray(
        Float32Array.from({ length: shape.reduce((x, y) => x * y) }, () => rng.normal()),
        shape,
      );
    const slot = 6;
    const place = o.fromArray(
      Float32Array.from({ length: S }, (_, s) => (s === slot ? 1 : 0)),
      [1, S],
    );
    // Row b is left-padded by b slots; slots after `slot` are empty.
    const mask = o.fromArray(
      Float32Array.from({ length: B * S }, (_, i) =>
        i % S >= Math.floor(i / S) && i % S <= slot ? 0 : -1e9,
      ),
      [B, 1, 1, S],
    );
    const q = arr([B, H, 1, d]);
    const kOld = arr([B, H, S, d]);
    const vOld = arr([B, H, S, d]);
    const kNew = arr([B, H, 1, d]);
    const vNew = arr([B, H, 1, d]);
    const want = await toHost(
      sdpa(
        q.ref,
        writeCache(kOld.ref, kNew.ref, place.ref),
        writeCache(vOld.ref, vNew.ref, place.ref),
        mask.ref,
        0.35,
      ),
    );
    const got = await toHost(sdpaDecode(q, kOld, vOld, kNew, vNew, mask, place, 0.35));
    expect(got.length).toBe(B * H * d);
    let worst = 0;
    for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
    expect(worst).toBeLessThan(1e-5);
  });

  // Greedy tokens from the cached decode steps must be the argmax of a full forward pass over the
  // same sequence, at every generated position: MLA's absorbed latent cache and a dense MHA cache.
  const mlaConfig = tinyDeepSeek(24, { numNextnPredictLayers: 0 });
  const gqaConfig = tinyDense(24, { numAttentionHeads: 4, numKeyValueHeads: 2 });
  for (const [name, c] of [
    ["MLA + MoE", mlaConfig],
    ["dense, grouped-query", gqaConfig],
  ] as [string, ModelConfig][]) {
    it(`cached greedy decoding matches full attention at every step (${name})`, async () => {
      const p = initParams(c, 7, { std: 0.3, withMtp: false });
      const prompts = [
        [1, 2, 3, 4],
        [5, 6],
      ];
      const g = await generate(p, c, prompts, { ...GREEDY, maxNewTokens: 6, eosTokenIds: [], seed: 0 });
      for (let r = 0; r < prompts.length; r++) {
        const seq = [...prompts[r], ...g.ids[r]];
        const logits = await toHost(
          tidy(
            () =>
              forward(p, c, o.fromArray(seq, [1, seq.length], "int32"), causalInputs(c, 1, seq.length))
                .logits,
          ),
        );
        const V = c.vocabSize;
        for (let t = prompts[r].length - 1; t < seq.length - 1; t++) {
          let best = 0;
          for (let v = 1; v < V; v++) if (logits[t * V + v] > logits[t * V + best]) best = v;
          expect(seq[t + 1], `row ${r}, position ${t + 1}`).toBe(best);
        }
      }
    });
  }
});
