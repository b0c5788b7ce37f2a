// The base model of the R1 pipeline (DeepSeek-V3-Base's role), and of its small student: the shared
// pretraining stage (pretrain-stage.ts) on the noisy R1-Zero-format corpus, where a share of the
// traces is in the readable format (about twice as long). Each step's batch comes from one pool,
// terse or readable, padded to that pool's length, so short traces do not pay for long ones (two
// jit shapes). Batches are a pure function of (seed, step).
import type { Params } from "../engine/params.ts";
import { Rng } from "../engine/rng.ts";
import type { ModelConfig } from "../model/config.ts";
import { makeLmBatch, type TokenSequence } from "../train/batch.ts";
import { pretrainStage } from "./pretrain-stage.ts";
import type { R1Config } from "./r1-config.ts";

export interface R1BaseArgs {
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

/** Pretrain (or resume, or load) the base and return its parameters. */
export async function pretrainBase(a: R1BaseArgs): Promise<Params> {
  const P = a.cfg.pretrain;
  const lenOf = (seqs: TokenSequence[]) =>
    Math.ceil((Math.max(...seqs.map((s) => s.ids.length)) - 1) / 8) * 8;
  const pools = [a.pools.terse, a.pools.readable]
    .filter((p) => p.length > 0)
    .map((seqs) => ({ seqs, seqLen: lenOf(seqs) }));
  if (pools.length === 0) throw new Error("pretrain: the corpus is empty");
  const readableShare = a.pools.readable.length / (a.pools.terse.length + a.pools.readable.length);
  return pretrainStage({
    stage: "pretrain",
    p: P,
    mc: a.mc,
    seed: a.cfg.seed,
    checkpointEvery: a.cfg.checkpoint_every * 5,
    tokenizerJson: a.tokenizerJson,
    dir: a.dir,
    metricsFile: a.metricsFile,
    log: a.log,
    batchAt: (step) => {
      const rng = Rng.stream(a.cfg.seed, "r1-pretrain-batch", step);
      const { seqs, seqLen } = pools.length === 2 && rng.float() < readableShare ? pools[1] : pools[0];
      return {
        batch: makeLmBatch(
          a.mc,
          Array.from({ length: P.batch_size }, () => seqs[rng.int(seqs.length)]),
          seqLen,
          a.padId,
        ),
        tokens: P.batch_size * seqLen,
      };
    },
  });
}
