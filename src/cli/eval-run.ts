// Running `r1lab eval` on parsed flags (cli/eval.ts's EvalArgs): locate the model before the data
// is read (so a wrong path fails fast), take a synthetic task's template, completion budget and
// held-out problems from the r1lab run the model came from, load the problems, build each request
// with R1's protocol (no system prompt), open the backend (cli/eval-backend.ts), and hand it all to
// eval/run-eval.ts, which writes results.json and samples.jsonl and resumes. Prints the results.
import type { GenRequest } from "../backends/types.ts";
import { currentExecutor } from "../engine/executor.ts";
import { REL_TOL } from "../eval/cas.ts";
import { writeResultsFormat } from "../eval/output-formats.ts";
import { formatResultsTable } from "../eval/results.ts";
import { runEval } from "../eval/run-eval.ts";
import type { EvalProblem } from "../eval/tasks/types.ts";
import { runEvalSettings } from "../hf/run-folder.ts";
import { ZERO_TEMPLATE, applyTemplate } from "../tasks/template.ts";
import { UsageError } from "./command.ts";
import { type EvalArgs, SYNTHETIC_DEFAULT_PROBLEMS } from "./eval.ts";
import { locateModel, openBackend } from "./eval-backend.ts";
import { r1labVersion } from "./version.ts";

export async function runEvalArgs(a: EvalArgs): Promise<void> {
  const { task, backendKind, model, K, temperature, topP, seed, limit, out } = a;
  const synthetic = task.kind === "synthetic";
  // The model: checked before the data is read, so a wrong path fails fast.
  const where = await locateModel({ backendKind, model, onnxFile: a.onnxFile });
  const { modelDir, onnxPath } = where;
  // A synthetic task on a model from an r1lab run (its checkpoint, or an ONNX export of it): the
  // run's template, completion budget and held-out problems, the same for every backend.
  let run: ReturnType<typeof runEvalSettings> = null;
  try {
    run = synthetic && modelDir ? runEvalSettings(modelDir) : null;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }

  let data: string;
  if (a.data !== undefined) data = a.data;
  else if (run?.problems) data = run.problems;
  // Generated problems: a draw of N is a prefix of a larger draw, so --limit may grow on resume.
  else data = `gen:test:${Math.max(limit ?? 0, SYNTHETIC_DEFAULT_PROBLEMS)}`;

  const all = await task.load(data, { seed, split: a.split });
  const problems = limit !== undefined ? all.slice(0, limit) : all;
  if (problems.length === 0) throw new UsageError(`${data}: no problems to evaluate`);

  const zero = !synthetic ? null : (run ?? { template: ZERO_TEMPLATE, maxTokens: null, source: "default" });
  const maxTokens = a.maxTokens ?? zero?.maxTokens ?? 32768;
  // R1: no system prompt, the problem as the user turn. Synthetic tasks: the R1-Zero template, sent
  // as plain text to a native model (r1lab's models have no chat template).
  const request = (p: EvalProblem): GenRequest => {
    const text = zero ? applyTemplate(task.buildPrompt(p), zero.template) : task.buildPrompt(p);
    if ((synthetic && backendKind !== "openai") || (backendKind === "openai" && a.endpoint === "completions"))
      return { prompt: text };
    return { messages: [{ role: "user", content: text }] };
  };

  const backend = await openBackend(a, where, synthetic);
  const identity = {
    task: a.taskName,
    data: a.data === undefined && !data.endsWith("test_problems.jsonl") ? "gen:test" : data,
    split: a.split ?? null,
    backend: backendKind,
    model: onnxPath ?? modelDir ?? model,
    model_name: a.modelName ?? null,
    endpoint: backendKind === "openai" ? a.endpoint : null,
    temperature,
    top_p: topP,
    max_tokens: maxTokens,
    seed,
    prompt_template: zero?.template ?? null,
  };
  const config = {
    command: "eval",
    r1lab_version: r1labVersion(),
    ...identity,
    samples_per_problem: K,
    limit: limit ?? null,
    n_problems_in_data: all.length,
    batch_size: backendKind !== "openai" ? a.batchSize : null,
    concurrency: backendKind === "openai" ? a.concurrency : null,
    device: backendKind === "native" ? (a.device ?? process.env.R1LAB_DEVICE ?? "cpu") : null,
    executor: backendKind === "native" ? currentExecutor() : null,
    prompt_template_source: zero?.source ?? null,
    system_prompt: null,
    unsafe_no_sandbox: a.unsafe,
    timeout_ms: a.timeoutMs ?? null,
    math_relative_tolerance: REL_TOL,
  };
  try {
    const { results, generated, resumed } = await runEval({
      task,
      problems,
      backend,
      request,
      sampling: { temperature, topP, maxTokens, seed },
      samples: K,
      outDir: out,
      scoreOptions: { timeoutMs: a.timeoutMs, unsafeNoSandbox: a.unsafe },
      identity,
      config,
    });
    if (resumed > 0)
      console.error(
        `resumed: ${resumed} samples were already in ${out}/samples.jsonl, ${generated} generated now`,
      );
    console.log(formatResultsTable(results));
    console.log(`\nwrote ${out}/results.json and ${out}/samples.jsonl`);
    if (a.format !== "r1lab") console.log(`wrote ${writeResultsFormat(out, results, a.format)}`);
  } finally {
    await backend.close();
  }
}
