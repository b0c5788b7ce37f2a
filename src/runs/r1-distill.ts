// The R1 paper's last comparison (section 4.1), in miniature: is it better to distill the big
// model's reasoning into a small one, or to run RL on the small one directly? After the pipeline,
// the final_rl model is the teacher (a native backend over its checkpoint folder). A smaller dense
// student (Qwen2-style, tinyDense) is pretrained on the same corpus, then
//   distilled  SFT on the teacher's verified traces (train/distill-traces.ts collectTraces, then
//              train/distill.ts traceExamples + sftTrain): R1's distillation recipe
//   rl_only    GRPO on the same student base for rl_steps updates (its CPU time, reported beside the
//              distillation's, teacher traces included, is the compute compared)
// and both, with the student base and the teacher, are measured on the pipeline's held-out problems.
// Results go to summary.json `distill` and the report; folders under checkpoints/distill_*.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { NativeBackend } from "../backends/native.ts";
import { writeJsonAtomic } from "../engine/atomic.ts";
import { readJsonl, writeJsonl } from "../engine/jsonl.ts";
import { type Params, disposeParams, paramCount } from "../engine/params.ts";
import { deriveSeed } from "../engine/rng.ts";
import type { ModelConfig } from "../model/config.ts";
import { tinyDense } from "../model/presets.ts";
import type { CharTokenizer } from "../tasks/char-tokenizer.ts";
import type { TaskExample } from "../tasks/types.ts";
import type { TokenSequence } from "../train/batch.ts";
import { loadCheckpoint, saveCheckpoint } from "../train/checkpoint.ts";
import { traceExamples } from "./distill.ts";
import { type DistillTrace, collectTraces, traceStats } from "./distill-traces.ts";
import { sftTrain } from "../train/sft.ts";
import { pretrainBase } from "./r1-base.ts";
import type { R1Config } from "./r1-config.ts";
import { type StageEval, stageColumns } from "./eval-stage.ts";
import { r1RlStage } from "./r1-rl.ts";

export interface DistillArgs {
  cfg: R1Config;
  runDir: string;
  tok: CharTokenizer;
  tokenizerJson: unknown;
  trainProblems: TaskExample[];
  maxPromptTokens: number;
  pools: { terse: TokenSequence[]; readable: TokenSequence[] };
  evalModel: (name: string, p: Params, mc: ModelConfig) => Promise<StageEval>;
  log: (s: string) => void;
}

const pick = (e: StageEval, wall: number, cpu: number) => ({
  ...stageColumns(e),
  wall_seconds: wall,
  cpu_seconds: cpu,
});

/** CPU seconds (user + system, all threads) since `from`. */
const cpuSince = (from: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(from);
  return (u.user + u.system) / 1e6;
};

export async function distillComparison(a: DistillArgs) {
  const { cfg, tok } = a;
  const D = cfg.distill;
  const ck = (n: string) => join(a.runDir, "checkpoints", n);
  const out = join(a.runDir, "distill.json");
  if (existsSync(out)) return JSON.parse(readFileSync(out, "utf8"));
  const s = D.student;
  const mc = tinyDense(tok.vocabSize, {
    hiddenSize: s.hidden_size,
    numHiddenLayers: s.num_hidden_layers,
    intermediateSize: s.intermediate_size,
    numAttentionHeads: s.num_attention_heads,
    numKeyValueHeads: s.num_attention_heads,
    headDim: s.hidden_size / s.num_attention_heads,
    bosTokenId: tok.bosId,
    eosTokenId: tok.eosId,
    padTokenId: tok.padId,
  });

  let t = performance.now();
  let cpu = process.cpuUsage();
  const baseParams = await pretrainBase({
    cfg: { ...cfg, pretrain: { ...cfg.pretrain, steps: D.pretrain_steps } },
    mc,
    pools: a.pools,
    padId: tok.padId,
    tokenizerJson: a.tokenizerJson,
    dir: ck("distill_student_base"),
    metricsFile: join(a.runDir, "distill_pretrain.jsonl"),
    log: a.log,
  });
  const nParams = paramCount(baseParams);
  const base = pick(
    await a.evalModel("student base", baseParams, mc),
    (performance.now() - t) / 1000,
    cpuSince(cpu),
  );
  disposeParams(baseParams);

  // Teacher traces: the final_rl model through the native backend, verified and deduplicated.
  t = performance.now();
  cpu = process.cpuUsage();
  const tracesPath = join(a.runDir, "distill_traces.jsonl");
  let traces: DistillTrace[];
  if (existsSync(tracesPath)) traces = readJsonl<DistillTrace>(tracesPath);
  else {
    const teacher = await NativeBackend.load({ model: ck("final_rl"), bosPrefix: true, batchSize: 64 });
    const problems = a.trainProblems.slice(0, D.prompts);
    traces = await collectTraces({
      backend: teacher,
      problems,
      samples: D.samples,
      sampling: {
        temperature: cfg.eval.temperature,
        topP: cfg.eval.top_p,
        maxTokens: cfg.max_completion_length,
        seed: deriveSeed(cfg.seed, "distill-traces"),
      },
      template: cfg.template,
      chat: false,
    });
    writeJsonl(tracesPath, traces);
  }
  const stats = traceStats(traces);
  const { examples } = traceExamples(tok, traces, cfg.template);
  const traceSeconds = (performance.now() - t) / 1000;
  const traceCpu = cpuSince(cpu);
  a.log(
    `distill: teacher kept ${stats.kept} of ${stats.samples} traces over ${stats.problems_covered} problems`,
  );

  // Arm 1: distillation (SFT on the teacher's kept traces). Its CPU time counts the teacher's traces.
  t = performance.now();
  cpu = process.cpuUsage();
  let distilled = null;
  if (examples.length > 0) {
    const r = await sftTrain({
      config: mc,
      params: loadCheckpoint(ck("distill_student_base")).params,
      train: examples,
      cfg: { ...D.sft, seed: deriveSeed(cfg.seed, "distill-sft") },
      outDir: join(a.runDir, "sft", "distill_student"),
      padId: tok.padId,
      tokenizerJson: a.tokenizerJson,
      log: a.log,
    });
    await saveCheckpoint(ck("distill_student"), {
      config: mc,
      params: r.params,
      state: { phase: "distill_student", step: D.sft.max_steps, done: true },
      tokenizerJson: a.tokenizerJson,
    });
    distilled = pick(
      await a.evalModel("distilled student", r.params, mc),
      (performance.now() - t) / 1000,
      cpuSince(cpu) + traceCpu,
    );
    disposeParams(r.params);
  }

  // Arm 2: RL only, rl_steps GRPO updates (sized so that its CPU time is at least the distillation's).
  t = performance.now();
  cpu = process.cpuUsage();
  const rl = await r1RlStage({
    stage: "distill_rl_only",
    g: { ...cfg.final_rl, steps: D.rl_steps },
    seed: cfg.seed,
    template: cfg.template,
    checkpointEvery: cfg.checkpoint_every,
    params: loadCheckpoint(ck("distill_student_base")).params,
    mc,
    tok,
    tokenizerJson: a.tokenizerJson,
    prompts: a.trainProblems,
    maxPromptTokens: a.maxPromptTokens,
    dir: ck("distill_rl_only"),
    metricsFile: join(a.runDir, "distill_rl_only.jsonl"),
    log: a.log,
  });
  const rlOnly = pick(
    await a.evalModel("RL-only student", rl, mc),
    (performance.now() - t) / 1000,
    cpuSince(cpu),
  );
  disposeParams(rl);

  const result = {
    student: {
      model_type: mc.modelType,
      hidden_size: mc.hiddenSize,
      num_hidden_layers: mc.numHiddenLayers,
      param_count: nParams,
      pretrain_steps: D.pretrain_steps,
    },
    teacher: "final_rl",
    traces: { ...stats, sft_examples: examples.length, seconds: traceSeconds, cpu_seconds: traceCpu },
    rl_steps: D.rl_steps,
    sft_steps: D.sft.max_steps,
    student_base: base,
    distilled,
    rl_only: rlOnly,
  };
  writeJsonAtomic(out, result);
  return result;
}
