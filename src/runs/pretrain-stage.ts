// The base model of the R1 pipeline (DeepSeek-V3-Base's role): a tiny DeepSeek-style model
// pretrained, as in `r1lab zero`, on the noisy R1-Zero-format corpus (tasks/corpus.ts) with
// next-token + MTP loss and auxiliary-loss-free expert balancing. A share of the traces is in the
// readable format (about twice as long): each step's batch comes from one pool, terse or readable,
// padded to that pool's length, so short traces do not pay for long ones (two jit shapes). Batches
// are a pure function of (seed, step); a partial checkpoint every checkpoint_every * 5 steps lets a
// killed run resume.
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { appendJsonl, truncateJsonl } from "../engine/jsonl.ts";
import type { AdamWState } from "../engine/optim.ts";
import { type Params, disposeParams } from "../engine/params.ts";
import { Rng } from "../engine/rng.ts";
import { learningRate } from "../engine/schedule.ts";
import type { ModelConfig } from "../model/config.ts";
import { initParams } from "../model/init.ts";
import { Progress } from "../report/progress.ts";
import { makeLmBatch, type TokenSequence } from "../train/batch.ts";
import { loadCheckpoint, saveCheckpoint } from "../train/checkpoint.ts";
import { type LmBatch, lmLoss } from "../train/lm-loss.ts";
import { Trainer } from "../train/trainer.ts";
import type { R1Config } from "./r1-config.ts";

export interface PretrainArgs {
  cfg: R1Config;
  mc: ModelConfig;
  /** Encoded corpus traces (prompt + completion, loss from the completion): terse and readable ones. */
  pools: { terse: TokenSequence[]; readable: TokenSequence[] };
  padId: number;
  tokenizerJson: unknown;
  /** Final checkpoint folder (checkpoints/base); the partial one is `${dir}.partial`. */
  dir: string;
  metricsFile: string;
  log: (s: string) => void;
}


/** Pretrain (or resume pretraining) and save the base checkpoint; returns its parameters. */
export async function pretrainBase(a: PretrainArgs): Promise<Params> {
  const { cfg, mc } = a;
  const P = cfg.pretrain;
  const partial = `${a.dir}.partial`;
  let params = initParams(mc, cfg.seed);
  let optState: AdamWState | undefined;
  let step0 = 0;
  if (existsSync(join(partial, "trainer_state.json"))) {
    disposeParams(params);
    const c = loadCheckpoint(partial);
    params = c.params;
    optState = c.opt ?? undefined;
    step0 = c.state.step;
    a.log(`resuming pretraining at step ${step0}`);
  }
  truncateJsonl(a.metricsFile, step0);
  const lenOf = (seqs: TokenSequence[]) => Math.ceil((Math.max(...seqs.map((s) => s.ids.length)) - 1) / 8) * 8;
  const pools = [a.pools.terse, a.pools.readable].filter((p) => p.length > 0).map((seqs) => ({ seqs, seqLen: lenOf(seqs) }));
  if (pools.length === 0) throw new Error("pretrain: the corpus is empty");
  const readableShare = a.pools.readable.length / (a.pools.terse.length + a.pools.readable.length);
  const lossW = { mtpLambda: P.mtp_lambda, balanceAlpha: P.balance_alpha };
  const tr = new Trainer<LmBatch>(mc, params, (t, b, batch) => lmLoss(t, b, mc, batch, lossW) as any, { weightDecay: 0.01 }, optState, P.bias_update_gamma);
  const bar = new Progress({ total: P.steps, label: "pretrain" });
  bar.tick(step0);
  for (let step = step0; step < P.steps; step++) {
    const ts = performance.now();
    const rng = Rng.stream(cfg.seed, "r1-pretrain-batch", step);
    const { seqs, seqLen } = pools.length === 2 && rng.float() < readableShare ? pools[1] : pools[0];
    const batch = makeLmBatch(mc, Array.from({ length: P.batch_size }, () => seqs[rng.int(seqs.length)]), seqLen, a.padId);
    const lr = learningRate({ lr: P.learning_rate, warmupSteps: P.warmup_steps, totalSteps: P.steps, decay: "cosine" }, step);
    const m = await tr.update(batch, lr);
    const tokensPerS = (P.batch_size * seqLen) / ((performance.now() - ts) / 1000);
    appendJsonl(a.metricsFile, { step: step + 1, ...m, lr, tokens_per_s: tokensPerS });
    bar.tick(1, { loss: m.loss, ce: m.ce, "tok/s": Math.round(tokensPerS) });
    if ((step + 1) % (cfg.checkpoint_every * 5) === 0 && step + 1 < P.steps) {
      await saveCheckpoint(partial, { config: mc, params: tr.params, opt: tr.optState, state: { phase: "pretrain", step: step + 1 }, tokenizerJson: a.tokenizerJson });
    }
  }
  bar.done();
  disposeParams({ m: tr.optState.m, v: tr.optState.v });
  await saveCheckpoint(a.dir, { config: mc, params: tr.params, state: { phase: "base", step: P.steps, done: true }, tokenizerJson: a.tokenizerJson });
  rmSync(partial, { recursive: true, force: true }); // the finished checkpoint supersedes it
  return tr.params;
}
