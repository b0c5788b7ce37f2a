// Supervised fine-tuning (R1's cold start and distillation stages; TRL's SFTTrainer in miniature).
// Loss: mean cross-entropy over target (assistant) tokens, plus lambda * the MTP loss masked the
// same way when the model has MTP modules (lm-loss.ts). Each optimizer step averages gradients over
// gradient_accumulation_steps micro-batches, weighting each by its share of the step's target
// tokens, so the update equals one big batch's (and peak memory is one micro-batch's). Batches are a
// pure function of (seed, step), and checkpoints hold the parameters, the AdamW moments and the
// step, so a resumed run reproduces an uninterrupted one. outDir holds:
//   checkpoint/          HF folder + optimizer.safetensors + trainer_state.json (atomic, latest)
//   sft_metrics.jsonl    one row per optimizer step
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { compile } from "../engine/compile.ts";
import { appendJsonl, readJsonl, writeJsonl } from "../engine/jsonl.ts";
import { valueAndGrad } from "../engine/jax.ts";
import * as o from "../engine/ops.ts";
import { AdamW, type AdamWState } from "../engine/optim.ts";
import { type Params, disposeParams, refParams } from "../engine/params.ts";
import { Rng } from "../engine/rng.ts";
import { learningRate } from "../engine/schedule.ts";
import { tidy } from "../engine/scope.ts";
import type { ModelConfig } from "../model/config.ts";
import { Progress } from "../report/progress.ts";
import { type SftExample, type SftRow, buildRows, makeSftBatch, rowLength } from "./sft-batch.ts";
import { loadCheckpoint, saveCheckpoint } from "./checkpoint.ts";
import { type LmBatch, lmLoss } from "./lm-loss.ts";
import { splitParams } from "./trainer.ts";

export type { SftExample } from "./sft-batch.ts";

/** TRL SFTConfig names. */
export interface SftConfig {
  learning_rate: number;
  max_steps: number;
  per_device_train_batch_size: number;
  gradient_accumulation_steps: number;
  max_seq_length: number;
  packing: boolean;
  seed: number;
  warmup_steps?: number;
  weight_decay?: number;
  /** "linear" (HF default, decays to 0), "cosine" (to 10%) or "constant". */
  lr_scheduler_type?: "linear" | "cosine" | "constant";
  /** Call `evaluate` every this many steps (and after the last). */
  eval_steps?: number;
  /** Write outDir/checkpoint every this many steps (and after the last). */
  save_steps?: number;
  /** MTP loss weight lambda (DeepSeek-V3: 0.1 late in training); used only when the model has MTP modules. */
  mtp_lambda?: number;
}

export interface SftStepMetrics {
  step: number;
  epoch: number;
  loss: number;
  ce: number;
  mtp: number;
  grad_norm: number;
  lr: number;
  target_tokens: number;
  tokens_per_s: number;
  [evalKey: string]: number;
}

export interface SftArgs {
  config: ModelConfig;
  /** Taken over by sftTrain (the optimizer updates them in place); use the returned params. */
  params: Params;
  train: SftExample[];
  cfg: SftConfig;
  /** Checkpoints + sft_metrics.jsonl; a run resumes from outDir/checkpoint when present. */
  outDir?: string;
  evaluate?: (params: Params) => Promise<Record<string, number>>;
  onStep?: (m: SftStepMetrics) => void;
  /** Padding id for batches (default config.padTokenId, else eos, else 0). */
  padId?: number;
  /** Written into checkpoints as tokenizer.json. */
  tokenizerJson?: unknown;
  log?: (s: string) => void;
  /** Progress bar (default on). */
  progress?: boolean;
}

type SftBatch = { lm: LmBatch; scale: o.Arr };

function firstId(x: number | number[] | null): number | null {
  return Array.isArray(x) ? (x[0] ?? null) : x;
}

/** Rows of optimizer step `step`: micro-batch j takes the next B rows of a per-epoch seeded shuffle. */
export function stepRows(rows: SftRow[], cfg: SftConfig, step: number): { micro: SftRow[][]; epoch: number } {
  const B = cfg.per_device_train_batch_size;
  const perStep = B * cfg.gradient_accumulation_steps;
  const perms = new Map<number, number[]>();
  const at = (s: number): SftRow => {
    const epoch = Math.floor(s / rows.length);
    if (!perms.has(epoch))
      perms.set(epoch, Rng.stream(cfg.seed, "sft-epoch", epoch).shuffle(rows.map((_, i) => i)));
    return rows[perms.get(epoch)![s % rows.length]];
  };
  const micro = Array.from({ length: cfg.gradient_accumulation_steps }, (_, j) =>
    Array.from({ length: B }, (_, i) => at(step * perStep + j * B + i)),
  );
  return { micro, epoch: (step * perStep) / rows.length };
}

function checkConfig(cfg: SftConfig): void {
  for (const k of [
    "learning_rate",
    "max_steps",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "max_seq_length",
  ] as const) {
    if (!(Number.isFinite(cfg[k]) && cfg[k] > 0))
      throw new Error(`SftConfig.${k} must be > 0, got ${cfg[k]}`);
  }
}

/** The metrics rows up to maxStep (a crash may have torn the last line). */
function readMetrics(path: string, maxStep: number): SftStepMetrics[] {
  return readJsonl<SftStepMetrics>(path, { missingOk: true, torn: "skip" }).filter((r) => r.step <= maxStep);
}

export async function sftTrain(args: SftArgs): Promise<{ params: Params; metrics: SftStepMetrics[] }> {
  const { config: c, cfg } = args;
  checkConfig(cfg);
  const log = args.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const padId = args.padId ?? c.padTokenId ?? firstId(c.eosTokenId) ?? 0;
  const { rows, truncated, dropped } = buildRows(args.train, cfg.max_seq_length, cfg.packing);
  if (rows.length === 0) throw new Error(`SFT: none of the ${args.train.length} examples has a target token`);
  const T = rowLength(rows, cfg.max_seq_length);
  log(
    `sft: ${args.train.length} examples -> ${rows.length} rows of <= ${T} tokens${cfg.packing ? " (packed)" : ""}; ${truncated} truncated, ${dropped} without targets dropped`,
  );

  let params = args.params;
  let optState: AdamWState | undefined;
  let start = 0;
  const ckDir = args.outDir ? join(args.outDir, "checkpoint") : null;
  const metricsPath = args.outDir ? join(args.outDir, "sft_metrics.jsonl") : null;
  if (args.outDir) mkdirSync(args.outDir, { recursive: true });
  if (ckDir && existsSync(join(ckDir, "trainer_state.json"))) {
    const ck = loadCheckpoint(ckDir);
    const saved = JSON.stringify(ck.state.sft_config);
    if (saved !== JSON.stringify(cfg))
      throw new Error(
        `${ckDir}: checkpoint was written with SFT config ${saved}, this run has ${JSON.stringify(cfg)}; use another --out or the same settings`,
      );
    disposeParams(params);
    params = ck.params;
    optState = ck.opt ?? undefined;
    start = ck.state.step;
    log(`sft: resuming at step ${start} from ${ckDir}`);
  }
  const metrics = metricsPath ? readMetrics(metricsPath, start) : [];
  if (metricsPath) writeJsonl(metricsPath, metrics);

  // Sorted names: a checkpoint reads tensors back in sorted order, and the gradient norm sums over
  // the tree in key order, so a fresh and a resumed run must see the same order to match bit for bit.
  const sorted = (p: Params): Params =>
    Object.fromEntries(
      Object.keys(p)
        .sort()
        .map((k) => [k, p[k]]),
    );
  const split = splitParams(params);
  let trainable = sorted(split.trainable);
  const buffers = sorted(split.buffers);
  const opt = new AdamW({ weightDecay: cfg.weight_decay ?? 0 });
  optState ??= opt.init(trainable);
  const hasMtp =
    c.numNextnPredictLayers > 0 && `model.layers.${c.numHiddenLayers}.eh_proj.weight` in trainable;
  const w = { mtpLambda: hasMtp ? (cfg.mtp_lambda ?? 0.1) : 0, balanceAlpha: 0 };
  const loss = (t: Params, b: Params, batch: SftBatch) =>
    tidy(() => {
      const [l, aux] = lmLoss(t, b, c, batch.lm, w);
      return [o.mul(l, batch.scale), { ce: aux.ce, mtp: aux.mtp }] as [o.Arr, { ce: o.Arr; mtp: o.Arr }];
    });
  const grad = compile(valueAndGrad(loss, { hasAux: true }) as any, { name: "SFT step" }) as unknown as (
    t: Params,
    b: Params,
    batch: SftBatch,
  ) => [[o.Arr, { ce: o.Arr; mtp: o.Arr }], Params];
  const addTrees = compile(
    (a: Params, b: Params) =>
      tidy(() => Object.fromEntries(Object.keys(a).map((k) => [k, o.add(a[k], b[k])]))),
    { name: "gradient sum", donate: [0] },
  ) as unknown as (a: Params, b: Params) => Params;
  const save = async (step: number) => {
    if (!ckDir) return;
    await saveCheckpoint(ckDir, {
      config: c,
      params: { ...trainable, ...buffers },
      opt: optState,
      state: { phase: "sft", step, sft_config: cfg },
      tokenizerJson: args.tokenizerJson,
    });
  };

  const bar = args.progress === false ? null : new Progress({ total: cfg.max_steps, label: "sft" });
  bar?.tick(start);
  for (let step = start; step < cfg.max_steps; step++) {
    const ts = performance.now();
    const { micro, epoch } = stepRows(rows, cfg, step);
    const batches = micro.map((r) => makeSftBatch(c, r, T, padId));
    const N = batches.reduce((a, b) => a + b.targetTokens, 0);
    let grads: Params | null = null;
    const sums = { loss: 0, ce: 0, mtp: 0 };
    for (const b of batches) {
      const share = b.targetTokens / N;
      const [[l, aux], g] = grad(refParams(trainable), refParams(buffers), {
        lm: b.batch,
        scale: o.fromArray([share], []),
      });
      sums.loss += (await l.data())[0];
      sums.ce += share * (await aux.ce.data())[0];
      sums.mtp += share * (await aux.mtp.data())[0];
      grads = grads ? addTrees(grads, g) : g;
    }
    const lr = learningRate(
      {
        lr: cfg.learning_rate,
        warmupSteps: cfg.warmup_steps ?? 0,
        totalSteps: cfg.max_steps,
        decay: cfg.lr_scheduler_type ?? "linear",
        minLrRatio: cfg.lr_scheduler_type === "cosine" ? 0.1 : 0,
      },
      step,
    );
    const res = opt.update(trainable, grads!, optState, lr);
    trainable = res.params;
    optState = res.state;
    const gradNorm = (await res.gradNorm.data())[0];
    const dt = (performance.now() - ts) / 1000;
    const row: SftStepMetrics = {
      step: step + 1,
      epoch,
      ...sums,
      grad_norm: gradNorm,
      lr,
      target_tokens: N,
      tokens_per_s: (batches.length * cfg.per_device_train_batch_size * T) / dt,
    };
    const last = step + 1 === cfg.max_steps;
    if (args.evaluate && (last || (cfg.eval_steps && (step + 1) % cfg.eval_steps === 0))) {
      for (const [k, v] of Object.entries(await args.evaluate({ ...trainable, ...buffers })))
        row[k.startsWith("eval_") ? k : `eval_${k}`] = v;
    }
    metrics.push(row);
    if (metricsPath) appendJsonl(metricsPath, row);
    args.onStep?.(row);
    bar?.tick(1, { loss: row.loss, lr, "tok/s": Math.round(row.tokens_per_s) });
    if (last || (cfg.save_steps && (step + 1) % cfg.save_steps === 0)) await save(step + 1);
  }
  bar?.done();
  disposeParams({ m: optState.m, v: optState.v });
  return { params: { ...trainable, ...buffers }, metrics };
}

// Jitted (compiled once per model config): the eager MoE forward leaves a few arrays per call.
const evalCeFns = new WeakMap<ModelConfig, (p: Params, batch: LmBatch) => o.Arr>();
function evalCe(c: ModelConfig): (p: Params, batch: LmBatch) => o.Arr {
  let f = evalCeFns.get(c);
  if (!f) {
    f = compile((p: Params, batch: LmBatch) =>
      tidy(() => lmLoss(p, {}, c, batch, { mtpLambda: 0, balanceAlpha: 0 })[1].ce),
    ) as unknown as (p: Params, batch: LmBatch) => o.Arr;
    evalCeFns.set(c, f);
  }
  return f;
}

/** Mean cross-entropy over the target tokens of `examples` (no gradient), in batches of `batchSize` rows. */
export async function sftEvalLoss(
  c: ModelConfig,
  params: Params,
  examples: SftExample[],
  o: { maxSeqLength: number; batchSize: number; padId?: number },
): Promise<number> {
  const { rows } = buildRows(examples, o.maxSeqLength, false);
  if (rows.length === 0) throw new Error("sftEvalLoss: no example has a target token");
  const T = rowLength(rows, o.maxSeqLength);
  const padId = o.padId ?? c.padTokenId ?? firstId(c.eosTokenId) ?? 0;
  let sum = 0;
  let n = 0;
  for (let i = 0; i < rows.length; i += o.batchSize) {
    const { batch, targetTokens } = makeSftBatch(c, rows.slice(i, i + o.batchSize), T, padId);
    const ce = evalCe(c)(refParams(params), batch);
    sum += (await ce.data())[0] * targetTokens;
    n += targetTokens;
  }
  return sum / n;
}
