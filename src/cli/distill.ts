// `r1lab distill`: DeepSeek-R1's distillation in miniature. A teacher (an r1lab / HF model run
// in-process, or an OpenAI-compatible server URL) answers a synthetic task's training problems; the
// verified, well-formed traces are kept; a small dense student is SFT'd on them; student and teacher
// are evaluated on held-out problems with R1's protocol. Writes --out/config.json first; rerunning
// with the same --out continues (traces reused, SFT resumed). See docs/sft-and-distillation.md.
import { resolveDevice } from "../engine/device.ts";
import { resolveExecutor } from "../engine/executor.ts";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { openaiTarget } from "../backends/openai.ts";
import type { GenerationBackend } from "../backends/types.ts";
import { writeJsonAtomic } from "../engine/atomic.ts";
import { runCheckpoint } from "../hf/run-folder.ts";
import { ZERO_TEMPLATE } from "../tasks/template.ts";
import { getSyntheticTask, problemsOf, SYNTHETIC_TASK_NAMES } from "../tasks/registry.ts";
import { type DistillConfig, runDistill } from "../runs/distill.ts";
import { type Command, UsageError, numberFlag, requireFlag } from "./command.ts";

/** The R1-Zero template of the run a native teacher checkpoint came from (runs/NAME/checkpoints/X). */
function runTemplate(dir: string): string | null {
  const p = join(dirname(dirname(dir)), "config.json");
  try {
    const t = JSON.parse(readFileSync(p, "utf8")).template;
    return typeof t === "string" ? t : null;
  } catch {
    return null;
  }
}

function resolveConfig(v: Record<string, any>): DistillConfig {
  const int = (name: string, min = 1) => numberFlag(v, name, { int: true, min });
  const task = requireFlag(v, "task", "distill");
  if (!SYNTHETIC_TASK_NAMES.includes(task))
    throw new UsageError(`--task must be one of ${SYNTHETIC_TASK_NAMES.join(", ")}, got '${task}'`);
  // The teacher: a model folder, a server URL, or (OPENAI_BASE_URL set) a model name on that server.
  // A run folder (runs/NAME) stands for its final checkpoint.
  if (v.teacher !== undefined && existsSync(v.teacher))
    v.teacher = runCheckpoint(resolve(v.teacher)) ?? v.teacher;
  const local = v.teacher !== undefined && existsSync(join(resolve(v.teacher), "config.json"));
  const server = local ? null : openaiTarget(v.teacher);
  if (!local && !server) {
    if (v.teacher === undefined)
      throw new UsageError(
        "r1lab distill: --teacher is required (or set OPENAI_BASE_URL to use that server)",
      );
    throw new UsageError(
      `--teacher ${v.teacher}: not a server URL and no config.json in that folder (set OPENAI_BASE_URL to name a model on a server)`,
    );
  }
  const url = server !== null;
  const teacher = server ? server.baseUrl : String(v.teacher);
  if (server?.model && v["teacher-model-name"] === undefined) v["teacher-model-name"] = server.model;
  const student = v.student ? resolve(v.student) : null;
  if (student && !existsSync(student)) throw new UsageError(`--student ${v.student}: no such file or folder`);
  const samples = int("samples");
  const seed = int("seed", 0);
  return {
    task,
    teacher: url ? teacher : resolve(teacher),
    teacher_backend: url ? "openai" : "native",
    student,
    template: v.template ?? (url ? null : runTemplate(resolve(teacher))) ?? ZERO_TEMPLATE,
    seed,
    train_problems: int("train-problems"),
    samples,
    max_per_problem: v["max-per-problem"] ? int("max-per-problem") : samples,
    temperature: numberFlag(v, "temperature", { min: 0 }),
    top_p: numberFlag(v, "top-p", { above: 0, max: 1 }),
    max_tokens: int("max-tokens"),
    sft: {
      learning_rate: numberFlag(v, "lr", { above: 0 }),
      max_steps: int("max-steps"),
      per_device_train_batch_size: int("batch-size"),
      gradient_accumulation_steps: int("grad-accum"),
      max_seq_length: int("max-seq-length", 2),
      packing: Boolean(v.packing),
      seed,
      warmup_steps: int("warmup-steps", 0),
      weight_decay: 0.01,
      lr_scheduler_type: "cosine",
      save_steps: int("save-steps"),
    },
    eval: { n_problems: int("eval-problems"), k: int("eval-k"), teacher: !v["no-teacher-eval"] },
  };
}

const cmd: Command = {
  name: "distill",
  summary:
    "distill a teacher's verified reasoning traces into a small dense student (SFT), then evaluate both",
  usage:
    "distill --teacher DIR_OR_URL --task NAME [--student CONFIG.json|DIR] [--samples K] [--train-problems N] [--max-steps N] [--out DIR]",
  options: {
    teacher: {
      type: "string",
      help: "teacher: a model folder (run in-process), an OpenAI-compatible server URL (http://host:8000/v1), or with OPENAI_BASE_URL set a model name on that server",
    },
    "teacher-model-name": {
      type: "string",
      help: "openai: the model name to send (default: the one the server lists)",
    },
    student: {
      type: "string",
      help: "student: a config.json (random init) or a model folder with r1lab's char tokenizer (default: the tiny dense preset)",
    },
    task: { type: "string", help: `synthetic task: ${SYNTHETIC_TASK_NAMES.join(", ")}` },
    out: {
      type: "string",
      help: "output folder (default runs/distill-<task>-<seed>); rerunning with it continues",
    },
    samples: { type: "string", default: "4", help: "teacher samples per training problem" },
    "train-problems": { type: "string", default: "200", help: "training problems the teacher answers" },
    "max-per-problem": {
      type: "string",
      help: "verified traces kept per problem, at most (default: --samples)",
    },
    template: {
      type: "string",
      help: "R1-Zero prompt template with {problem} (default: the teacher run's, else r1lab's)",
    },
    temperature: {
      type: "string",
      default: "0.6",
      help: "sampling temperature for traces and evaluation (R1: 0.6)",
    },
    "top-p": { type: "string", default: "0.95", help: "nucleus mass for traces and evaluation (R1: 0.95)" },
    "max-tokens": { type: "string", default: "96", help: "most new tokens per completion" },
    "max-steps": { type: "string", default: "300", help: "student SFT steps" },
    lr: { type: "string", default: "2e-3", help: "student SFT peak learning rate (cosine to 10%)" },
    "warmup-steps": { type: "string", default: "10", help: "SFT warmup steps" },
    "batch-size": { type: "string", default: "16", help: "SFT rows per micro-batch" },
    "grad-accum": { type: "string", default: "1", help: "SFT micro-batches per optimizer step" },
    "max-seq-length": { type: "string", default: "192", help: "SFT tokens per row" },
    packing: { type: "boolean", help: "pack several traces per SFT row" },
    "save-steps": { type: "string", default: "50", help: "SFT checkpoint every N steps" },
    "eval-problems": { type: "string", default: "50", help: "held-out problems for the evaluation" },
    "eval-k": {
      type: "string",
      default: "4",
      help: "samples per held-out problem (pass@1 = mean over them)",
    },
    "no-teacher-eval": { type: "boolean", help: "evaluate only the student" },
    seed: { type: "string", default: "0", help: "problems, sampling and data order" },
    "batch-size-generate": { type: "string", default: "16", help: "native teacher: rows decoded together" },
    device: { type: "string", help: "cpu or webgpu (default: R1LAB_DEVICE or cpu)" },
    executor: {
      type: "string",
      help: "ort or jax: what runs compiled steps (default: R1LAB_EXECUTOR, else ort)",
    },
  },
  details:
    "Writes OUT/: config.json, traces.jsonl (every sample, with correct/well_formed/kept), sft/ (sft_metrics.jsonl,\ncheckpoint/), student/ (HF folder), eval_student.json, eval_teacher.json, summary.json.",
  async run(v) {
    const cfg = resolveConfig(v);
    const out = resolve(v.out ?? join("runs", `distill-${cfg.task}-${cfg.seed}`));
    const cfgPath = join(out, "config.json");
    if (existsSync(cfgPath)) {
      const old = JSON.parse(readFileSync(cfgPath, "utf8")) as Record<string, unknown>;
      for (const k of new Set([...Object.keys(old), ...Object.keys(cfg)])) {
        if (k === "executor") continue; // may change between sessions: same maths
        if (JSON.stringify(old[k]) !== JSON.stringify((cfg as any)[k]))
          throw new UsageError(
            `${out} holds a distill run with ${k} = ${JSON.stringify(old[k])}, this one has ${JSON.stringify((cfg as any)[k])}; use the same settings to continue it, or another --out`,
          );
      }
    }
    resolveDevice(v.device); // a bad --device fails before the folder is written
    mkdirSync(out, { recursive: true });
    writeJsonAtomic(cfgPath, { ...cfg, executor: resolveExecutor(v.executor) });
    // The training problems the teacher answers against the held-out ones (disjoint by the task's split).
    const { warnOverlap } = await import("../data/overlap.ts");
    const task = getSyntheticTask(cfg.task);
    const prompts = (split: "train" | "test", n: number) =>
      problemsOf(task, split, n, cfg.seed).map((p) => p.prompt);
    await warnOverlap(prompts("train", cfg.train_problems), prompts("test", cfg.eval.n_problems), {
      trainLabel: `the ${cfg.task} training problems`,
      evalLabel: "the evaluation problems",
    });
    const { initEngine } = await import("../engine/device.ts");
    await initEngine({ device: v.device, executor: v.executor });
    let teacher: GenerationBackend;
    if (cfg.teacher_backend === "native") {
      const { NativeBackend } = await import("../backends/native.ts");
      teacher = await NativeBackend.load({
        model: cfg.teacher,
        batchSize: numberFlag(v, "batch-size-generate", { int: true, min: 1 }),
        bosPrefix: true,
      });
    } else {
      const { OpenAIBackend } = await import("../backends/openai.ts");
      teacher = new OpenAIBackend({ baseUrl: cfg.teacher, model: v["teacher-model-name"] });
    }
    try {
      const summary = await runDistill(cfg, teacher, out);
      console.log(JSON.stringify({ out, ...summary }));
    } finally {
      await teacher.close();
    }
  },
};

export default cmd;
