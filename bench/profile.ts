// `pnpm bench --profile`: where the time of one training step of the small model goes.
// The Trainer's step is taken apart into its pieces, each followed by a read-back so its work is
// finished before the clock stops: host batch building (makeLmBatch: ids, targets, loss mask, RoPE
// tables and the [B,1,T,T] mask, uploaded), the jitted value-and-gradient, the jitted AdamW update,
// and reading the scalars back. jax-js dispatches lazily: a read-back of the loss alone would leave
// the backward pass to run inside the optimizer's wait, so each piece waits on all of its outputs. The first call of each jitted function includes its compilation.
import { blockUntilReady, jit, valueAndGrad } from "../src/engine/jax.ts";
import { AdamW } from "../src/engine/optim.ts";
import { disposeParams, refParams, scalar } from "../src/engine/params.ts";
import { splitParams } from "../src/train/trainer.ts";
import { initParams } from "../src/model/init.ts";
import { lmLoss } from "../src/train/lm-loss.ts";
import { TRAIN_SHAPES } from "./models.ts";
import { lmTrainer, median } from "./r1lab-side.ts";

const ms = (t0: number) => performance.now() - t0;

export async function runProfile(steps: number, shapeName = "small"): Promise<string> {
  const s = TRAIN_SHAPES[shapeName];
  const c = s.config;
  const { nextBatch } = lmTrainer(s);
  const { trainable, buffers } = splitParams(initParams(c, 0, { withMtp: false }));
  let params = trainable;
  const w = { mtpLambda: 0, balanceAlpha: 0 };
  const grad = jit(
    valueAndGrad((t: any, b: any, batch: any) => lmLoss(t, b, c, batch, w) as any, { hasAux: true }),
  ) as any;
  const opt = new AdamW({ weightDecay: 0.01 });
  let state = opt.init(params);
  const rows: Record<string, number[]> = {
    batch: [],
    grad_dispatch: [],
    grad_wait: [],
    adamw_dispatch: [],
    adamw_wait: [],
    readback: [],
    total: [],
  };
  const first: Record<string, number> = {};
  for (let i = 0; i <= steps; i++) {
    const tStart = performance.now();
    let t = performance.now();
    const batch = nextBatch();
    const tb = ms(t);
    t = performance.now();
    const [[loss, aux], grads] = grad(refParams(params), refParams(buffers), batch);
    const gd = ms(t);
    t = performance.now();
    await blockUntilReady([loss, grads]);
    const gw = ms(t);
    t = performance.now();
    const res = opt.update(params, grads, state, 1e-3);
    const ad = ms(t);
    t = performance.now();
    await blockUntilReady([res.params, res.state.m, res.state.v, res.gradNorm]);
    const aw = ms(t);
    t = performance.now();
    for (const v of Object.values(aux)) if (!Array.isArray(v)) await scalar(v as any);
    const rb = ms(t);
    params = res.params;
    state = res.state;
    disposeParams([loss, aux, res.gradNorm]);
    const total = ms(tStart);
    const vals = {
      batch: tb,
      grad_dispatch: gd,
      grad_wait: gw,
      adamw_dispatch: ad,
      adamw_wait: aw,
      readback: rb,
      total,
    };
    if (i === 0) Object.assign(first, vals);
    else for (const [k, v] of Object.entries(vals)) rows[k].push(v);
  }
  disposeParams([params, buffers, state.m, state.v]);
  const tokens = s.batch * s.seq;
  const lines = [
    `profile: train_${shapeName} (d${c.hiddenSize} L${c.numHiddenLayers} T${s.seq} B${s.batch}), ${steps} steps after the first`,
    `${"piece".padEnd(16)} ${"first (ms)".padStart(11)} ${"median (ms)".padStart(12)} ${"share".padStart(6)}`,
  ];
  const tot = median(rows.total);
  for (const k of Object.keys(rows)) {
    const m = median(rows[k]);
    lines.push(
      `${k.padEnd(16)} ${first[k].toFixed(1).padStart(11)} ${m.toFixed(1).padStart(12)} ${k === "total" ? "" : `${((100 * m) / tot).toFixed(1)}%`.padStart(6)}`,
    );
  }
  lines.push(
    `tokens/s (median step): ${((tokens * 1000) / tot).toFixed(0)} (the read-backs between pieces cost a little)`,
  );
  return lines.join("\n");
}
