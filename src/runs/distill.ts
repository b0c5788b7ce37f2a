// Distillation in miniature (DeepSeek-R1 §2.4): sample reasoning traces from a teacher on a
// synthetic task's training problems, keep the verified ones (distill-traces.ts), SFT a small dense
// student on them (sft.ts), then evaluate student and teacher on held-out problems with R1's
// protocol (k samples at T 0.6, top-p 0.95; pass@1 = mean correctness; same verifier for both).
// Everything lands in outDir; rerunning with the same outDir reuses the traces, resumes the SFT
// from its checkpoint and skips finished evaluations:
//   config.json  traces.jsonl  sft/  student/ (HF folder)  eval_student.json  eval_teacher.json  summary.json
// The pieces (teacher traces, student set-up, SFT examples, teacher evaluation) are exported so the
// r1 pipeline can compare distillation with RL on the same student.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { GenerationBackend } from "../backends/types.ts";
import { writeJsonAtomic } from "../engine/atomic.ts";
import { readJsonl, writeJsonl } from "../engine/jsonl.ts";
import { type Params, disposeParams, paramCount } from "../engine/params.ts";
import { deriveSeed } from "../engine/rng.ts";
import { passAtK } from "../eval/metrics.ts";
import { loadModel, saveModel } from "../hf/checkpoint.ts";
import { parseHfConfig } from "../hf/config.ts";
import type { ModelConfig } from "../model/config.ts";
import { initParams } from "../model/init.ts";
import { tinyDense } from "../model/presets.ts";
import { type SyntheticEval, evaluateSynthetic } from "../rl/evaluate.ts";
import { applyTemplate } from "../tasks/template.ts";
import { CharTokenizer } from "../tasks/char-tokenizer.ts";
import { getSyntheticTask, problemsOf } from "../tasks/registry.ts";
import type { TaskExample } from "../tasks/types.ts";
import {
  type DistillTrace,
  collectTraces,
  teacherRequest,
  traceStats,
  verifyTrace,
} from "./distill-traces.ts";
import type { SftExample } from "../train/sft-batch.ts";
import { promptCompletionToExample } from "../train/sft-data.ts";
import { type SftConfig, sftTrain } from "../train/sft.ts";

export interface DistillConfig {
  task: string;
  /** Teacher: model folder (native) or server URL (openai). */
  teacher: string;
  teacher_backend: "native" | "openai";
  /** Student: null = tinyDense preset, a config.json file, or a model folder with r1lab's char tokenizer. */
  student: string | null;
  template: string;
  seed: number;
  train_problems: number;
  /** Teacher samples per training problem. */
  samples: number;
  /** Verified traces kept per problem (distinct), at most. */
  max_per_problem: number;
  /** R1's sampling for traces and evaluation. */
  temperature: number;
  top_p: number;
  max_tokens: number;
  sft: SftConfig;
  eval: { n_problems: number; k: number; teacher: boolean };
}

export interface TeacherEval {
  pass1: number;
  passk: number;
  k: number;
  n_problems: number;
  format_rate: number;
}

/** The student's character tokenizer: covers the template, the problems and the kept traces. */
export function studentTokenizer(
  template: string,
  problems: TaskExample[],
  traces: DistillTrace[],
): CharTokenizer {
  return CharTokenizer.forTexts([
    applyTemplate("", template),
    ...problems.map((p) => p.prompt),
    ...traces.map((t) => t.completion),
    "0123456789+-*/() =;",
  ]);
}

/** The student: its config and initial weights (random for a preset or config file, loaded for a folder). */
export async function loadStudent(
  spec: string | null,
  tok: CharTokenizer,
  seed: number,
): Promise<{ config: ModelConfig; params: Params; tok: CharTokenizer }> {
  const ids = { bosTokenId: tok.bosId, eosTokenId: tok.eosId, padTokenId: tok.padId };
  if (spec === null) {
    const config = tinyDense(tok.vocabSize, ids);
    return { config, params: initParams(config, seed), tok };
  }
  if (spec.endsWith(".json")) {
    const config = { ...parseHfConfig(JSON.parse(readFileSync(spec, "utf8")), spec), ...ids };
    if (config.vocabSize < tok.vocabSize)
      throw new Error(
        `${spec}: vocab_size ${config.vocabSize} is smaller than the student tokenizer's ${tok.vocabSize}`,
      );
    return { config, params: initParams(config, seed), tok };
  }
  const m = await loadModel(spec);
  const own = CharTokenizer.fromTokenizerJson(
    JSON.parse(readFileSync(join(m.dir, "tokenizer.json"), "utf8")),
    join(m.dir, "tokenizer.json"),
  );
  return { config: m.config, params: m.params, tok: own };
}

/** SFT examples from kept traces; traces the tokenizer cannot encode are skipped and counted. */
export function traceExamples(
  tok: CharTokenizer,
  traces: DistillTrace[],
  template: string,
): { examples: SftExample[]; skipped: number } {
  const examples: SftExample[] = [];
  let skipped = 0;
  for (const t of traces.filter((x) => x.kept)) {
    try {
      examples.push(promptCompletionToExample(tok, t.prompt, t.completion, template));
    } catch {
      skipped++;
    }
  }
  return { examples, skipped };
}

/** The teacher on held-out problems, scored exactly as the student (accuracy + format rewards). */
export async function evaluateTeacher(
  backend: GenerationBackend,
  problems: TaskExample[],
  o: {
    k: number;
    temperature: number;
    topP: number;
    maxTokens: number;
    seed: number;
    template: string;
    chat: boolean;
  },
): Promise<TeacherEval> {
  const res = await backend.generate(
    problems.map((p) => teacherRequest(p, o.template, o.chat)),
    { temperature: o.temperature, topP: o.topP, maxTokens: o.maxTokens, n: o.k, seed: o.seed },
  );
  let pass1 = 0;
  let passk = 0;
  let formatted = 0;
  res.forEach((r, i) => {
    const v = r.completions.map((c) => verifyTrace(c, problems[i]));
    const c = v.filter((x) => x.correct).length;
    pass1 += c / v.length;
    passk += passAtK(v.length, c, o.k);
    formatted += v.filter((x) => x.well_formed).length;
  });
  return {
    pass1: pass1 / problems.length,
    passk: passk / problems.length,
    k: o.k,
    n_problems: problems.length,
    format_rate: formatted / (problems.length * o.k),
  };
}

function readTraces(path: string, expected: number): DistillTrace[] | null {
  if (!existsSync(path)) return null;
  const traces = readJsonl<DistillTrace>(path);
  return traces.length === expected ? traces : null;
}

export async function runDistill(
  cfg: DistillConfig,
  teacher: GenerationBackend,
  outDir: string,
  log: (s: string) => void = (s) => process.stderr.write(`${s}\n`),
) {
  const t0 = performance.now();
  const task = getSyntheticTask(cfg.task);
  const chat = cfg.teacher_backend === "openai";
  const train = problemsOf(task, "train", cfg.train_problems, cfg.seed);
  const test = problemsOf(task, "test", cfg.eval.n_problems, cfg.seed);
  const sampling = { temperature: cfg.temperature, topP: cfg.top_p, maxTokens: cfg.max_tokens };

  const tracesPath = join(outDir, "traces.jsonl");
  let traces = readTraces(tracesPath, train.length * cfg.samples);
  if (traces) log(`distill: reusing ${traces.length} teacher samples from ${tracesPath}`);
  else {
    log(
      `distill: sampling ${cfg.samples} traces for each of ${train.length} ${cfg.task} problems from ${teacher.name}`,
    );
    traces = await collectTraces({
      backend: teacher,
      problems: train,
      samples: cfg.samples,
      sampling: { ...sampling, seed: deriveSeed(cfg.seed, "traces") },
      template: cfg.template,
      chat,
      maxPerProblem: cfg.max_per_problem,
    });
    writeJsonl(tracesPath, traces);
  }
  const stats = traceStats(traces);
  log(
    `distill: ${stats.kept} kept of ${stats.samples} (${stats.correct} correct, ${stats.well_formed} well formed), ${stats.problems_covered}/${train.length} problems covered`,
  );
  if (stats.kept === 0)
    throw new Error(
      `distill: the teacher produced no verified trace on ${train.length} problems x ${cfg.samples} samples; nothing to train on`,
    );

  const student = await loadStudent(
    cfg.student,
    studentTokenizer(cfg.template, [...train, ...test], traces),
    cfg.seed,
  );
  const { examples, skipped } = traceExamples(student.tok, traces, cfg.template);
  if (examples.length === 0)
    throw new Error(
      `distill: none of the ${stats.kept} kept traces can be encoded by the student's tokenizer`,
    );
  const sft = await sftTrain({
    config: student.config,
    params: student.params,
    train: examples,
    cfg: cfg.sft,
    outDir: join(outDir, "sft"),
    padId: student.tok.padId,
    tokenizerJson: student.tok.toTokenizerJson(),
    log,
  });
  await saveModel(join(outDir, "student"), {
    config: student.config,
    params: sft.params,
    tokenizerJson: student.tok.toTokenizerJson(),
  });

  const evalOpts = {
    k: cfg.eval.k,
    temperature: cfg.temperature,
    topP: cfg.top_p,
    seed: deriveSeed(cfg.seed, "eval"),
    template: cfg.template,
  };
  const studentPath = join(outDir, "eval_student.json");
  let studentEval: SyntheticEval;
  if (existsSync(studentPath)) studentEval = JSON.parse(readFileSync(studentPath, "utf8"));
  else {
    studentEval = (
      await evaluateSynthetic(sft.params, student.config, student.tok, test, {
        ...evalOpts,
        maxCompletionLength: cfg.max_tokens,
      })
    ).result;
    writeJsonAtomic(studentPath, studentEval);
  }
  const nParams = paramCount(sft.params);
  disposeParams(sft.params);
  const teacherPath = join(outDir, "eval_teacher.json");
  let teacherEval: TeacherEval | null = null;
  if (cfg.eval.teacher) {
    if (existsSync(teacherPath)) teacherEval = JSON.parse(readFileSync(teacherPath, "utf8"));
    else {
      teacherEval = await evaluateTeacher(teacher, test, { ...evalOpts, maxTokens: cfg.max_tokens, chat });
      writeJsonAtomic(teacherPath, teacherEval);
    }
  }
  const summary = {
    task: cfg.task,
    teacher: teacher.name,
    traces: { ...stats, skipped_unencodable: skipped, sft_examples: examples.length },
    sft: {
      steps: sft.metrics.length,
      first_loss: sft.metrics[0]?.loss ?? null,
      last_loss: sft.metrics.at(-1)?.loss ?? null,
    },
    student: {
      pass1: studentEval.pass1,
      passk: studentEval.passk,
      k: studentEval.k,
      format_rate: studentEval.format_rate,
      param_count: nParams,
      model_type: student.config.modelType,
    },
    teacher_eval: teacherEval,
    wall_seconds: (performance.now() - t0) / 1000,
  };
  writeJsonAtomic(join(outDir, "summary.json"), summary);
  log(
    `distill: student pass@1 ${studentEval.pass1.toFixed(3)} (pass@${studentEval.k} ${studentEval.passk.toFixed(3)})${teacherEval ? `, teacher pass@1 ${teacherEval.pass1.toFixed(3)}` : ""}; ${join(outDir, "summary.json")}`,
  );
  return summary;
}
