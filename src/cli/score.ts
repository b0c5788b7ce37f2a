// `r1lab score`: score completions produced elsewhere (vLLM, SGLang, an API) with R1's protocol and
// write the same results.json / samples.jsonl as an r1lab evaluation. See docs/evaluation.md.
import { resolve } from "node:path";
import { REL_TOL } from "../eval/cas.ts";
import { formatResultsTable } from "../eval/results.ts";
import { OUTPUT_FORMATS, parseOutputFormat, writeResultsFormat } from "../eval/output-formats.ts";
import { scoreCompletionsFile } from "../eval/score-run.ts";
import { EVAL_TASK_NAMES, getEvalTask, hasEvalTask } from "../eval/tasks/index.ts";
import { type Command, numberFlag, requireFlag, UsageError } from "./command.ts";
import { r1labVersion } from "./version.ts";

const cmd: Command = {
  name: "score",
  summary: "score completions of a benchmark (pass@1, cons@K, pass@k) with R1's protocol",
  usage:
    "score --task NAME --data FILE|DIR --completions FILE.jsonl --out DIR [--output-format lighteval|lm-eval] [--samples-per-problem K] [--seed S] [--unsafe-no-sandbox]",
  options: {
    task: { type: "string", help: `benchmark: ${EVAL_TASK_NAMES.join(", ")}` },
    data: {
      type: "string",
      help: "the benchmark's data: .jsonl, .json, .parquet, or a downloaded dataset folder",
    },
    split: { type: "string", help: "split to read from a dataset folder (default: the task's)" },
    completions: { type: "string", help: 'JSONL, one {"id": ..., "completion": "..."} per line' },
    out: { type: "string", help: "output folder for results.json and samples.jsonl" },
    "samples-per-problem": {
      type: "string",
      help: "K: use the first K completions of each problem (each must have K)",
    },
    "output-format": {
      type: "string",
      help: `also write the results in another tool's layout: ${OUTPUT_FORMATS.filter((f) => f !== "r1lab").join(", ")} (DIR/results_FORMAT.json)`,
    },
    seed: { type: "string", default: "0", help: "eval seed (GPQA option order)" },
    "timeout-ms": { type: "string", help: "code tasks: time limit per program (default 10000)" },
    concurrency: { type: "string", help: "programs run at once for code tasks (default: CPU count)" },
    "unsafe-no-sandbox": { type: "boolean", help: "code tasks: run generated code without a sandbox" },
  },
  details: [
    'The completion id is the problem\'s id field (e.g. "HumanEval/0") or the 0-based row index of the data;',
    "several lines with one id are several samples. A completion may contain <think>...</think>: the answer",
    "is taken after it. Problems without completions are left out of the metrics (with a warning).",
  ].join("\n"),
  async run(v) {
    const name = requireFlag(v, "task", "score");
    if (!hasEvalTask(name))
      throw new UsageError(`unknown --task '${name}'; known: ${EVAL_TASK_NAMES.join(", ")}`);
    const task = getEvalTask(name);
    const data = requireFlag(v, "data", "score");
    const completions = resolve(requireFlag(v, "completions", "score"));
    const out = resolve(requireFlag(v, "out", "score"));
    let format: ReturnType<typeof parseOutputFormat>;
    try {
      format = parseOutputFormat(v["output-format"]);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const seed = numberFlag(v, "seed", { int: true, min: 0 });
    const K =
      v["samples-per-problem"] !== undefined
        ? numberFlag(v, "samples-per-problem", { int: true, min: 1 })
        : undefined;
    const timeoutMs =
      v["timeout-ms"] !== undefined ? numberFlag(v, "timeout-ms", { int: true, min: 1 }) : undefined;
    const concurrency =
      v.concurrency !== undefined ? numberFlag(v, "concurrency", { int: true, min: 1 }) : undefined;
    const unsafe = Boolean(v["unsafe-no-sandbox"]);

    const problems = await task.load(/^gen:/.test(data) ? data : resolve(data), { seed, split: v.split });
    const config = {
      command: "score",
      r1lab_version: r1labVersion(),
      task: name,
      data: /^gen:/.test(data) ? data : resolve(data),
      split: v.split ?? null,
      completions,
      seed,
      samples_per_problem: K ?? null,
      unsafe_no_sandbox: unsafe,
      timeout_ms: timeoutMs ?? null,
      math_relative_tolerance: REL_TOL,
    };
    const { results, missing, resumed, errors } = await scoreCompletionsFile({
      task,
      problems,
      completionsPath: completions,
      outDir: out,
      samplesPerProblem: K,
      scoreOptions: { timeoutMs, unsafeNoSandbox: unsafe },
      concurrency,
      config,
    });
    if (resumed > 0) console.error(`resumed: ${resumed} samples were already scored in ${out}/samples.jsonl`);
    if (errors > 0)
      console.error(
        `warning: ${errors} samples could not be scored and count as incorrect (field 'error' in ${out}/samples.jsonl)`,
      );
    if (missing.length > 0) {
      const shown = missing.slice(0, 5).join(", ");
      console.error(
        `warning: ${missing.length} of ${problems.length} problems have no completions (${shown}${missing.length > 5 ? ", ..." : ""})`,
      );
    }
    console.log(formatResultsTable(results));
    console.log(`\nwrote ${out}/results.json and ${out}/samples.jsonl`);
    if (format !== "r1lab") console.log(`wrote ${writeResultsFormat(out, results, format)}`);
  },
};

export default cmd;
