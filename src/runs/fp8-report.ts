// The FP8 error report: train the tiny DeepSeek-style model (MLA + DeepSeekMoE + MTP, the sizes of
// `pnpm start`) on the synthetic reasoning-trace corpus from the same seed and batches with the
// model's GEMMs in float32, with BF16 inputs (DeepSeek-V3's baseline; also the noise floor: how far
// any rounding moves this short, chaotic run), in simulated E4M3 with DeepSeek-V3's fine-grained
// scaling (1x128 activation tiles, 128x128 weight blocks) and in E4M3 with per-tensor scaling, and
// compare the loss curves. DeepSeek-V3 §3.3 reports a relative loss error below 0.25% for FP8
// against BF16. A short run on a tiny model is chaotic (any rounding moves the curve), so the
// report also passes one fixed batch through the FP32-trained weights with each mode's GEMMs: the
// error FP8 adds to a forward pass, free of that noise.
// Writes DIR/fp8_report.json (resolved config, machine, per-run curves and errors) and
// DIR/fp8_loss.png, both atomically.
import { availableParallelism, cpus } from "node:os";
import { join } from "node:path";
import { writeFileAtomic, writeJsonAtomic } from "../engine/atomic.ts";
import { engineInfo } from "../engine/device.ts";
import { compile } from "../engine/compile.ts";
import { disposeParams, type Params, refParams, scalar } from "../engine/params.ts";
import { Rng } from "../engine/rng.ts";
import { learningRate } from "../engine/schedule.ts";
import type * as o from "../engine/ops.ts";
import { initParams } from "../model/init.ts";
import { type Fp8Mode, setFp8Mode } from "../model/linear.ts";
import { forward } from "../model/transformer.ts";
import { makeTask, runModelConfig } from "./setup.ts";
import { ZERO_DEFAULTS } from "./zero-config.ts";
import { CharTokenizer } from "../tasks/char-tokenizer.ts";
import { buildCorpus } from "../tasks/corpus.ts";
import { makeLmBatch } from "../train/batch.ts";
import { type LmBatch, lmLoss } from "../train/lm-loss.ts";
import { Trainer } from "../train/trainer.ts";
import { lineChart, svgToPng } from "../report/plot.ts";
import { Progress } from "../report/progress.ts";

export interface Fp8ReportConfig {
  seed: number;
  steps: number;
  batch_size: number;
  learning_rate: number;
  warmup_steps: number;
  train_problems: number;
  /** The final loss is the mean training loss over the last `final_window` steps. */
  final_window: number;
  modes: Fp8Mode[];
  model: typeof ZERO_DEFAULTS.model;
  task_options: typeof ZERO_DEFAULTS.task_options;
  mtp_lambda: number;
  balance_alpha: number;
  bias_update_gamma: number;
}

export function defaultFp8ReportConfig(steps = 100, seed = 1): Fp8ReportConfig {
  const P = ZERO_DEFAULTS.pretrain;
  return {
    seed,
    steps,
    batch_size: 16,
    learning_rate: P.learning_rate,
    warmup_steps: Math.min(P.warmup_steps, Math.ceil(steps / 5)),
    train_problems: ZERO_DEFAULTS.train_problems,
    final_window: Math.max(1, Math.round(steps / 10)),
    modes: ["none", "bf16", "e4m3-tile", "e4m3-tensor"],
    model: { ...ZERO_DEFAULTS.model },
    task_options: { ...ZERO_DEFAULTS.task_options },
    mtp_lambda: P.mtp_lambda,
    balance_alpha: P.balance_alpha,
    bias_update_gamma: P.bias_update_gamma,
  };
}

export interface Fp8RunResult {
  mode: Fp8Mode;
  final_loss: number;
  final_ce: number;
  /** |final_loss - fp32| / fp32 (0 for the fp32 run). */
  rel_error: number;
  /** |final_loss - bf16| / bf16 (DeepSeek-V3's comparison), when a bf16 run is part of the report. */
  rel_error_vs_bf16: number | null;
  /** Mean over the second half of the steps of |loss_t - fp32_t| / fp32_t. */
  mean_step_rel_error: number;
  /** Loss of the FP32-trained weights on a fixed batch with this mode's GEMMs (no training chaos). */
  forward_loss: number | null;
  /** |forward_loss - fp32 forward_loss| / fp32 forward_loss. */
  forward_rel_error: number | null;
  /** ||logits - fp32 logits|| / ||fp32 logits|| on that batch (RMS; a loss error can cancel, this cannot). */
  forward_logits_rel_error: number | null;
  /** Largest |loss_t - fp32_t| / fp32_t over the steps (per-step noise included). */
  max_step_rel_error: number;
  seconds: number;
  losses: number[];
}

const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;

export async function runFp8Report(
  cfg: Fp8ReportConfig,
  outDir: string,
  log: (s: string) => void = (s) => process.stderr.write(`${s}\n`),
) {
  const task = makeTask("arithmetic", cfg.task_options);
  const corpus = buildCorpus({ task, problems: cfg.train_problems, seed: cfg.seed });
  const tok = CharTokenizer.forTexts(corpus.map((it) => it.example.prompt + it.completion));
  const mc = runModelConfig(cfg.model, tok);
  const seqs = corpus.map((it) => {
    const p = [tok.bosId, ...tok.encode(it.example.prompt)];
    return { ids: [...p, ...tok.encode(it.completion), tok.eosId], lossStart: p.length };
  });
  const seqLen = Math.ceil((Math.max(...seqs.map((s) => s.ids.length)) - 1) / 8) * 8;
  const lossW = { mtpLambda: cfg.mtp_lambda, balanceAlpha: cfg.balance_alpha };
  log(
    `r1lab fp8-report: ${corpus.length} traces, vocab ${tok.tokens.length}, seq ${seqLen}, ${cfg.steps} steps x ${cfg.modes.length} runs, device ${engineInfo().device}`,
  );

  const runs: Fp8RunResult[] = [];
  let trained: Params | null = null; // the FP32 run's weights, for the forward-only comparison
  for (const mode of cfg.modes) {
    const prev = setFp8Mode(mode); // read when the Trainer's step is traced (first update)
    const t0 = performance.now();
    const losses: number[] = [];
    const ces: number[] = [];
    try {
      const tr = new Trainer<LmBatch>({
        model: mc,
        params: initParams(mc, cfg.seed),
        loss: (tp, b, batch) => lmLoss(tp, b, mc, batch, lossW),
        optimizer: { weightDecay: 0.01 },
        biasUpdateGamma: cfg.bias_update_gamma,
      });
      const bar = new Progress({ total: cfg.steps, label: mode === "none" ? "fp32" : mode });
      for (let step = 0; step < cfg.steps; step++) {
        const rng = Rng.stream(cfg.seed, "pretrain-batch", step);
        const batch = makeLmBatch(
          mc,
          Array.from({ length: cfg.batch_size }, () => seqs[rng.int(seqs.length)]),
          seqLen,
          tok.padId,
        );
        const lr = learningRate(
          { lr: cfg.learning_rate, warmupSteps: cfg.warmup_steps, totalSteps: cfg.steps, decay: "cosine" },
          step,
        );
        const m = await tr.update(batch, lr);
        if (!Number.isFinite(m.loss))
          throw new Error(`fp8-report: loss is ${m.loss} at step ${step + 1} in mode ${mode}`);
        losses.push(m.loss);
        ces.push(m.ce);
        bar.tick(1, { loss: m.loss });
      }
      bar.done();
      if (mode === "none") trained = tr.params;
      else disposeParams(tr.params);
      disposeParams({ m: tr.optState.m, v: tr.optState.v });
    } finally {
      setFp8Mode(prev);
    }
    const w = Math.min(cfg.final_window, losses.length);
    runs.push({
      mode,
      final_loss: mean(losses.slice(-w)),
      final_ce: mean(ces.slice(-w)),
      rel_error: 0,
      rel_error_vs_bf16: null,
      mean_step_rel_error: 0,
      forward_loss: null,
      forward_rel_error: null,
      forward_logits_rel_error: null,
      max_step_rel_error: 0,
      seconds: (performance.now() - t0) / 1000,
      losses,
    });
  }
  if (trained) {
    // The same weights and batch through each mode's GEMMs: the error FP8 adds to one forward pass.
    const rng = Rng.stream(cfg.seed, "fp8-forward-batch");
    const batch = makeLmBatch(
      mc,
      Array.from({ length: cfg.batch_size }, () => seqs[rng.int(seqs.length)]),
      seqLen,
      tok.padId,
    );
    let ref: Float32Array | null = null;
    for (const r of runs) {
      const prev = setFp8Mode(r.mode);
      try {
        // Traced in this mode: [loss, logits [B, T, V]].
        const f = compile((tp: Params, b: LmBatch) => [
          lmLoss(tp, {}, mc, b, lossW)[0],
          forward(tp, mc, b.ids, b.io).logits,
        ]);
        const [loss, logits] = f(refParams(trained as Params), refParams(batch)) as o.Arr[];
        r.forward_loss = await scalar(loss);
        const lg = (await logits.data()) as Float32Array;
        loss.dispose();
        ref ??= lg;
        let num = 0;
        let den = 0;
        for (let i = 0; i < lg.length; i++) {
          num += (lg[i] - ref[i]) ** 2;
          den += ref[i] ** 2;
        }
        r.forward_logits_rel_error = Math.sqrt(num / den);
      } finally {
        setFp8Mode(prev);
      }
    }
    disposeParams({ trained, batch });
  }
  const base = runs.find((r) => r.mode === "none") ?? runs[0];
  const bf16 = runs.find((r) => r.mode === "bf16");
  const half = Math.floor(cfg.steps / 2);
  for (const r of runs) {
    r.rel_error = Math.abs(r.final_loss - base.final_loss) / base.final_loss;
    r.rel_error_vs_bf16 = bf16 ? Math.abs(r.final_loss - bf16.final_loss) / bf16.final_loss : null;
    if (r.forward_loss !== null && base.forward_loss !== null)
      r.forward_rel_error = Math.abs(r.forward_loss - base.forward_loss) / base.forward_loss;
    r.mean_step_rel_error = mean(
      r.losses.slice(half).map((l, i) => Math.abs(l - base.losses[half + i]) / base.losses[half + i]),
    );
    r.max_step_rel_error = Math.max(...r.losses.map((l, i) => Math.abs(l - base.losses[i]) / base.losses[i]));
  }
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  const report = {
    config: cfg,
    model: mc,
    machine: { ...engineInfo(), cpu, cores: availableParallelism(), node: process.version },
    reference: "DeepSeek-V3 §3.3: FP8 vs BF16 relative loss error < 0.25%",
    final_loss_definition: `mean training loss (CE + MTP + balance) over the last ${cfg.final_window} steps`,
    runs: runs.map(({ losses, ...r }) => ({ ...r, losses })),
  };
  writeJsonAtomic(join(outDir, "fp8_report.json"), report);
  const rows = base.losses.map((_, i) =>
    Object.fromEntries([
      ["step", i + 1],
      ...runs.map((r) => [r.mode === "none" ? "fp32" : r.mode, r.losses[i]]),
    ]),
  );
  const svg = await lineChart({
    title: "Training loss: FP32 vs simulated FP8 GEMMs",
    rows,
    x: "step",
    ys: runs.map((r) => (r.mode === "none" ? "fp32" : r.mode)),
    yTitle: "loss",
  });
  writeFileAtomic(join(outDir, "fp8_loss.png"), svgToPng(svg));
  const pct = (x: number | null) => (x === null ? "-" : `${(100 * x).toFixed(3)}%`);
  for (const r of runs)
    log(
      `${r.mode.padEnd(12)} final loss ${r.final_loss.toFixed(5)}  vs fp32 ${pct(r.rel_error)}  vs bf16 ${pct(r.rel_error_vs_bf16)}  forward loss ${pct(r.forward_rel_error)} logits ${pct(r.forward_logits_rel_error)}  (${r.seconds.toFixed(1)} s)`,
    );
  return report;
}
