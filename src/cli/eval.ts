// `r1lab eval`: evaluate a model on a benchmark with R1's protocol (no system prompt, K sampled
// completions per problem at temperature 0.6 / top-p 0.95, pass@1 = mean over the K, cons@K,
// unbiased pass@k). The model is an r1lab / Hugging Face folder run in-process (native), an ONNX
// folder or file run by onnxruntime (onnx), or any OpenAI-compatible server (openai). Writes
// DIR/results.json and DIR/samples.jsonl; rerunning with the same --out resumes. See
// docs/evaluation.md. Three steps, three files: the flags become EvalArgs here (parseEvalArgs),
// eval-backend.ts finds and opens the model, eval-run.ts runs the evaluation and prints it.
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { OUTPUT_FORMATS, type OutputFormat, parseOutputFormat } from "../eval/output-formats.ts";
import { sandboxAvailable } from "../eval/sandbox.ts";
import { EVAL_TASK_NAMES, getEvalTask, hasEvalTask } from "../eval/tasks/index.ts";
import type { EvalTask } from "../eval/tasks/types.ts";
import { runCheckpoint } from "../hf/run-folder.ts";
import { type Command, numberFlag, requireFlag, UsageError } from "./command.ts";
import type { BackendKind } from "./eval-backend.ts";

/** Problems drawn from a synthetic task's generator when --data is not given (and no --limit). */
export const SYNTHETIC_DEFAULT_PROBLEMS = 200;

const cmd: Command = {
  name: "eval",
  summary: "evaluate a model on a benchmark with R1's protocol (pass@1 over K samples, cons@K, pass@k)",
  usage:
    "eval --model DIR_OR_URL --backend native|openai|onnx --task NAME [--data FILE|DIR] --out DIR [--output-format lighteval|lm-eval] [--samples K] [--temperature T] [--top-p P] [--max-tokens N] [--limit N] [--seed S]",
  options: {
    model: {
      type: "string",
      help: "native: model folder or org/name; onnx: an ONNX model folder or .onnx file; openai: the server URL (http://host:8000/v1), or with OPENAI_BASE_URL set a model name (or nothing)",
    },
    backend: {
      type: "string",
      default: "native",
      help: "native (r1lab, in-process), openai (a server) or onnx (onnxruntime, CPU)",
    },
    "onnx-file": {
      type: "string",
      help: "onnx: the graph under DIR/onnx/ (default model.onnx; e.g. model_quantized.onnx)",
    },
    task: { type: "string", help: `benchmark: ${EVAL_TASK_NAMES.join(", ")}` },
    data: {
      type: "string",
      help: "the benchmark's data (.jsonl, .json, .parquet, a dataset folder); synthetic tasks: optional",
    },
    split: { type: "string", help: "split to read from a dataset folder (default: the task's)" },
    out: { type: "string", help: "output folder: results.json, samples.jsonl (an existing one is resumed)" },
    samples: { type: "string", default: "4", help: "K: completions sampled per problem" },
    temperature: { type: "string", default: "0.6", help: "sampling temperature (0 = greedy)" },
    "top-p": { type: "string", default: "0.95", help: "nucleus sampling mass (1 = off)" },
    "max-tokens": {
      type: "string",
      help: "most new tokens per completion (default 32768; native: also the model's positions)",
    },
    limit: { type: "string", help: "evaluate only the first N problems" },
    "output-format": {
      type: "string",
      help: `also write the results in another tool's layout: ${OUTPUT_FORMATS.filter((f) => f !== "r1lab").join(", ")} (DIR/results_FORMAT.json)`,
    },
    seed: {
      type: "string",
      default: "0",
      help: "sampling seed (and GPQA option order, synthetic problem draw)",
    },
    "batch-size": { type: "string", default: "16", help: "native, onnx: rows (samples) decoded together" },
    concurrency: { type: "string", default: "8", help: "openai: HTTP requests in flight" },
    device: { type: "string", help: "native: cpu or webgpu (default: R1LAB_DEVICE, else cpu)" },
    executor: {
      type: "string",
      help: "native: ort or jax: what runs compiled steps (default: R1LAB_EXECUTOR, else ort)",
    },
    "model-name": {
      type: "string",
      help: "openai: the model name to send (default: the one the server lists)",
    },
    endpoint: {
      type: "string",
      default: "chat",
      help: "openai: chat (server applies the chat template) or completions",
    },
    "api-key-env": {
      type: "string",
      help: "openai: environment variable with the API key (default OPENAI_API_KEY)",
    },
    "timeout-ms": { type: "string", help: "code tasks: time limit per program (default 10000)" },
    "unsafe-no-sandbox": { type: "boolean", help: "code tasks: run generated code without a sandbox" },
  },
  details: [
    "Synthetic tasks (arithmetic, countdown): without --data the problems come from the generator's test",
    `split drawn with --seed (the first --limit, default ${SYNTHETIC_DEFAULT_PROBLEMS}), and the prompt is the R1-Zero template the run trained`,
    "with (read from the run's config.json beside checkpoints/, or from r1lab_run.json in a folder that",
    "export-onnx wrote from a run, else the default); a run's held-out problems and completion budget",
    "likewise (test_problems.jsonl; max_completion_length). Native and ONNX models get BOS first.",
    "Resuming: run the same command again; samples already in DIR/samples.jsonl are not generated again.",
    "--limit and --samples may grow between runs; other settings must match (eval_config.json).",
  ].join("\n"),
  async run(v) {
    await evalCommand(v);
  },
};

/** What `r1lab eval` was asked to do, every flag checked and typed. */
export interface EvalArgs {
  taskName: string;
  task: EvalTask;
  backendKind: BackendKind;
  /** The model as given (a run folder stands for its final checkpoint); the server URL for openai. */
  model: string;
  modelName: string | undefined;
  onnxFile: string | undefined;
  out: string;
  format: OutputFormat;
  /** --data (resolved, or gen:SPLIT:N as given); undefined: a synthetic task's generator or its run's problems. */
  data: string | undefined;
  split: string | undefined;
  K: number;
  temperature: number;
  topP: number;
  seed: number;
  limit: number | undefined;
  /** --max-tokens, when given. */
  maxTokens: number | undefined;
  batchSize: number;
  concurrency: number;
  timeoutMs: number | undefined;
  unsafe: boolean;
  endpoint: "chat" | "completions";
  device: string | undefined;
  executor: string | undefined;
  apiKeyEnv: string | undefined;
}

/** The flags as EvalArgs; a bad or missing one is a UsageError naming it. */
export async function parseEvalArgs(v: Record<string, any>): Promise<EvalArgs> {
  v = { ...defaults(), ...v };
  const taskName = requireFlag(v, "task", "eval");
  if (!hasEvalTask(taskName))
    throw new UsageError(`unknown --task '${taskName}'; known: ${EVAL_TASK_NAMES.join(", ")}`);
  const task = getEvalTask(taskName);
  const backendKind = String(v.backend);
  // openai: --model is the server URL, or with OPENAI_BASE_URL set the model name (or absent).
  const { openaiTarget } = await import("../backends/openai.ts");
  const target = backendKind === "openai" ? openaiTarget(v.model) : null;
  const given = target ? target.baseUrl : requireFlag(v, "model", "eval");
  // A run folder (runs/NAME) stands for its final checkpoint, whatever the run kind names it.
  const model = !target && existsSync(given) ? (runCheckpoint(resolve(given)) ?? given) : given;
  const modelName: string | undefined = v["model-name"] ?? target?.model;
  if (!["native", "openai", "onnx"].includes(backendKind))
    throw new UsageError(`--backend must be native, openai or onnx, got '${backendKind}'`);
  const out = resolve(requireFlag(v, "out", "eval"));
  let format: OutputFormat;
  try {
    format = parseOutputFormat(v["output-format"]);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const K = numberFlag(v, "samples", { int: true, min: 1 });
  const temperature = numberFlag(v, "temperature", { min: 0 });
  const topP = numberFlag(v, "top-p", { above: 0, max: 1 });
  if (!(topP > 0 && topP <= 1)) throw new UsageError(`--top-p must be in (0, 1], got ${topP}`);
  const seed = numberFlag(v, "seed", { int: true, min: 0 });
  const limit = v.limit !== undefined ? numberFlag(v, "limit", { int: true, min: 1 }) : undefined;
  const batchSize = numberFlag(v, "batch-size", { int: true, min: 1 });
  const concurrency = numberFlag(v, "concurrency", { int: true, min: 1 });
  const timeoutMs =
    v["timeout-ms"] !== undefined ? numberFlag(v, "timeout-ms", { int: true, min: 1 }) : undefined;
  const unsafe = Boolean(v["unsafe-no-sandbox"]);
  const endpoint = String(v.endpoint);
  if (endpoint !== "chat" && endpoint !== "completions")
    throw new UsageError(`--endpoint must be chat or completions, got '${endpoint}'`);
  const synthetic = task.kind === "synthetic";

  if (v.data === undefined && !synthetic)
    throw new UsageError(
      `r1lab eval: --data is required for --task ${taskName} (a .jsonl, .parquet or dataset folder)`,
    );
  if (task.kind === "code" && !unsafe) {
    const sb = sandboxAvailable();
    if (!sb.ok)
      throw new UsageError(
        `--task ${taskName} runs generated code, and no sandbox works here: ${sb.reason}. Pass --unsafe-no-sandbox only for trusted models.`,
      );
  }
  const maxTokens =
    v["max-tokens"] !== undefined ? numberFlag(v, "max-tokens", { int: true, min: 1 }) : undefined;
  return {
    taskName,
    task,
    backendKind: backendKind as BackendKind,
    model,
    modelName,
    onnxFile: v["onnx-file"],
    out,
    format,
    data: v.data === undefined || /^gen:/.test(v.data) ? v.data : resolve(v.data),
    split: v.split,
    K,
    temperature,
    topP,
    seed,
    limit,
    maxTokens,
    batchSize,
    concurrency,
    timeoutMs,
    unsafe,
    endpoint,
    device: v.device,
    executor: v.executor,
    apiKeyEnv: v["api-key-env"],
  };
}

/** The whole command, without the process exit (tests call this in-process). */
export async function evalCommand(v: Record<string, any>): Promise<void> {
  const { runEvalArgs } = await import("./eval-run.ts");
  await runEvalArgs(await parseEvalArgs(v));
}

/** The option defaults, for callers that pass values without the flag parser. */
function defaults(): Record<string, any> {
  return Object.fromEntries(
    Object.entries(cmd.options)
      .filter(([, o]) => o.default !== undefined)
      .map(([k, o]) => [k, o.default]),
  );
}

export default cmd;
