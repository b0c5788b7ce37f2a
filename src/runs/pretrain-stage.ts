// The pretraining stage shared by `r1lab zero`, `r1lab r1` (its base) and the r1 pipeline's small
// student: next-token + MTP loss with DeepSeek-V3's auxiliary-loss-free expert balancing, AdamW at a
// warmup-then-cosine learning rate. The caller supplies the batches as a pure function of the step
// (`batchAt`), so a killed run resumes from the partial checkpoint (`${dir}.partial`, every
// `checkpointEvery` steps, with the AdamW moments) and trains on what the uninterrupted run would
// have. When it finishes it writes `dir` (the model without optimizer state) and drops the partial.
// Not here: the corpus and how rows are packed (the run's business), data-parallel anything.
import { appendJsonl, truncateJsonl } from "../engine/jsonl.ts";
import type { Params } from "../engine/params.ts";
import { learningRate } from "../engine/schedule.ts";
import type { ModelConfig } from "../model/config.ts";
import { initParams } from "../model/init.ts";
import { Progress } from "../report/progress.ts";
import { finishStage, isFinished, loadCheckpoint, resumeFrom, savePartial } from "../train/checkpoint.ts";
import { type LmBatch, lmLoss } from "../train/lm-loss.ts";
import { Trainer } from "../train/trainer.ts";

/** The pretraining settings every run config shares (names as in the run configs). */
export interface PretrainSettings {
  steps: number;
  learning_rate: number;
  warmup_steps: number;
  mtp_lambda: number;
  balance_alpha: number;
  bias_update_gamma: number;
}

/** One step's batch, how many tokens it holds (for tokens/s), and extra fields for its metrics row. */
export interface PretrainStep {
  batch: LmBatch;
  tokens: number;
  row?: Record<string, number>;
}

export interface PretrainStageArgs {
  /** Progress label and checkpoint phase (e.g. "pretrain"). */
  stage: string;
  p: PretrainSettings;
  mc: ModelConfig;
  /** Seed of the initial weights. */
  seed: number;
  batchAt: (step: number) => PretrainStep;
  checkpointEvery: number;
  tokenizerJson: unknown;
  /** Final checkpoint folder; the partial one is `${dir}.partial`. */
  dir: string;
  metricsFile: string;
  log: (s: string) => void;
}

/** Pretrain (or resume, or load the finished stage) and return the parameters. */
export async function pretrainStage(a: PretrainStageArgs): Promise<Params> {
  if (isFinished(a.dir)) return loadCheckpoint(a.dir).params;
  const { p, mc } = a;
  const from = resumeFrom(`${a.dir}.partial`);
  if (from) a.log(`${a.stage}: resuming at step ${from.step}`);
  const step0 = from?.step ?? 0;
  truncateJsonl(a.metricsFile, step0);
  const tr = new Trainer<LmBatch>({
    model: mc,
    params: from?.params ?? initParams(mc, a.seed),
    loss: (t, b, batch) =>
      lmLoss(t, b, mc, batch, { mtpLambda: p.mtp_lambda, balanceAlpha: p.balance_alpha }),
    optimizer: { weightDecay: 0.01 },
    optState: from?.opt,
    biasUpdateGamma: p.bias_update_gamma,
  });
  const ck = { ...a, config: mc, steps: p.steps };
  const bar = new Progress({ total: p.steps, label: a.stage });
  bar.tick(step0);
  for (let step = step0; step < p.steps; step++) {
    const ts = performance.now();
    const { batch, tokens, row } = a.batchAt(step);
    const lr = learningRate(
      { lr: p.learning_rate, warmupSteps: p.warmup_steps, totalSteps: p.steps, decay: "cosine" },
      step,
    );
    const m = await tr.update(batch, lr);
    const tokensPerS = tokens / ((performance.now() - ts) / 1000);
    appendJsonl(a.metricsFile, { step: step + 1, ...m, lr, ...row, tokens_per_s: tokensPerS });
    bar.tick(1, {
      loss: m.loss,
      ce: m.ce,
      mtp: m.mtp,
      imb: m.expert_imbalance ?? 1,
      "tok/s": Math.round(tokensPerS),
    });
    await savePartial(ck, step + 1, tr);
  }
  bar.done();
  await finishStage(ck, tr);
  return tr.params;
}
