// The memory discipline holds over a real training loop: the number of live device buffers and the
// process RSS stay flat across many steps (no per-step leak). This is jax-js's own memory, so the
// loop runs on the jax executor (on `ort` the state is resident: tests/ort-resident.test.ts).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AdamW,
  type Params,
  initEngine,
  jaxKey,
  normalInit,
  ops as o,
  refParams,
  tidy,
} from "../src/engine/index.ts";
import { setExecutor } from "../src/engine/executor.ts";
import { jit, valueAndGrad } from "../src/engine/jax.ts";
import { countBuffers, rssMiB } from "../src/engine/memory.ts";

beforeAll(async () => {
  await initEngine({ device: "cpu" });
  setExecutor("jax");
});
afterAll(() => setExecutor("ort"));

function mlpLoss(p: Params, x: o.Arr, y: o.Arr): o.Arr {
  return tidy(() => {
    const h = o.silu(o.linear(x, p.w1, p.b1));
    const out = o.linear(h, p.w2);
    return o.mean(o.square(o.sub(out, y)));
  });
}

describe("memory discipline", () => {
  it("keeps live buffers and RSS flat over 300 training steps", async () => {
    const counter = await countBuffers("wasm");
    let params: Params = {
      w1: normalInit([64, 32], 0.1, jaxKey(0, "w1")),
      b1: o.zeros([64]),
      w2: normalInit([8, 64], 0.1, jaxKey(0, "w2")),
    };
    const opt = new AdamW({ weightDecay: 0.01 });
    let state = opt.init(params);
    const step = jit(valueAndGrad(mlpLoss));
    const liveAt: number[] = [];
    const rssAt: number[] = [];
    let firstLoss = 0;
    let lastLoss = 0;
    for (let i = 0; i < 300; i++) {
      const x = normalInit([16, 32], 1, jaxKey(1, "x", i % 4));
      const y = normalInit([16, 8], 1, jaxKey(1, "y", i % 4));
      const [loss, grads] = step(refParams(params), x, y);
      const l = (await loss.data())[0];
      if (i === 0) firstLoss = l;
      lastLoss = l;
      const res = opt.update(params, grads as Params, state, 3e-3);
      params = res.params;
      state = res.state;
      res.gradNorm.dispose();
      if (i % 50 === 49) {
        liveAt.push(counter.live());
        rssAt.push(rssMiB());
      }
    }
    expect(lastLoss).toBeLessThan(firstLoss);
    // params, two moment trees: at least 9 buffers are alive, and the counter sees them.
    expect(liveAt[1]).toBeGreaterThanOrEqual(9);
    // After warm-up (jit compiled at step 0), the count of live buffers must not move at all.
    expect(new Set(liveAt.slice(1)).size).toBe(1);
    // RSS may wobble with the allocator and GC, but not grow step over step.
    expect(rssAt[rssAt.length - 1] - rssAt[1]).toBeLessThan(40);
  });

  it("tidy frees intermediates and keeps results", async () => {
    const counter = await countBuffers("wasm");
    const a = o.fromArray([1, 2, 3], [3]);
    const before = counter.live();
    const out = tidy(() => {
      const b = o.mul(a, 2);
      const c = o.add(b, 1);
      return o.sum(o.mul(c, c));
    });
    expect((await out.data())[0]).toBe(9 + 25 + 49);
    // Only `a` remains (out was consumed by data()).
    expect(counter.live()).toBeLessThanOrEqual(before);
    expect(Array.from(await a.ref.data())).toEqual([1, 2, 3]);
  });
});
