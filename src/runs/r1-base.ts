// The base model of the R1 pipeline (DeepSeek-V3-Base's role), and of its small student: the shared
// pretraining stage (pretrain-stage.ts) on the noisy R1-Zero-format corpus, where a share of the
// traces is in the readable format (about twice as long). Rows of `max_length` tokens are packed
// with whole traces, terse and readable alike (block-diagonal attention, as `r1lab zero` packs), so
// a short trace costs its own length. Batches are a pure function of (seed, step).
import type { Params } from "../engine/params.ts";
import { Rng } from "../engine/rng.ts";
import type { ModelConfig } from "../model/config.ts";
import { packSequences, type TokenSequence } from "../train/batch.ts";
import { makeSftBatch } from "../train/sft-batch.ts";
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
  const seqs = [...a.pools.terse, ...a.pools.readable];
  if (seqs.length === 0) throw new Error("pretrain: the corpus is empty");
  const longest = Math.max(...seqs.map((s) => s.ids.length));
  if (longest > P.max_length)
    throw new Error(
      `pretrain.max_length ${P.max_length} is shorter than the longest corpus sequence (${longest} tokens)`,
    );
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
      const rows = packSequences(() => seqs[rng.int(seqs.length)], P.batch_size, P.max_length);
      const sequences = rows.reduce((n, r) => n + r.segments[r.segments.length - 1] + 1, 0);
      return {
        batch: makeSftBatch(a.mc, rows, P.max_length, a.padId).batch,
        tokens: rows.reduce((n, r) => n + r.ids.length, 0),
        row: { sequences },
      };
    },
  });
}
