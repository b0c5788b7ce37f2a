// The numbers of results.json in the layouts other tools read, for `--output-format`:
//   lighteval  DIR/results_lighteval.json: {config_general, results: {"custom|TASK|0": {...}, "all"},
//              versions, config_tasks}, metric keys "pass@1:K_samples", "maj@K", "pass@k:k=N&n=K",
//              each with a "..._stderr" twin;
//   lm-eval    DIR/results_lm-eval.json: {results: {TASK: {"alias", "exact_match,none", ...}},
//              configs, versions, "n-shot", "n-samples", higher_is_better, config, date}, metric
//              keys "METRIC,FILTER" and "METRIC_stderr,FILTER".
// Both carry r1lab's values unchanged. The vote metric is lighteval's maj@K (an unanswered sample
// votes for the empty answer); r1lab's own cons@K (unanswered samples abstain) is written under
// its own name ("cons@K" / "cons@K,none") so the two definitions are never confused.
// Per-sample details stay in samples.jsonl.

import { join } from "node:path";
import { writeJsonAtomic } from "../engine/atomic.ts";
import type { EvalResults } from "./results.ts";

export const OUTPUT_FORMATS = ["r1lab", "lighteval", "lm-eval"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** The file an output format writes in DIR (r1lab: results.json itself). */
export function outputFile(format: OutputFormat): string {
  return format === "r1lab" ? "results.json" : `results_${format}.json`;
}

function metrics(r: EvalResults): { name: string; value: number; stderr: number }[] {
  const K = r.samples_per_problem;
  const se = r.stderr;
  const out = [
    { name: "pass@1", value: r["pass@1"], stderr: Number(se["pass@1"] ?? 0) },
    { name: `cons@${K}`, value: r[`cons@${K}`] ?? 0, stderr: Number(se[`cons@${K}`] ?? 0) },
    { name: `maj@${K}`, value: r[`maj@${K}`] ?? 0, stderr: Number(se[`maj@${K}`] ?? 0) },
  ];
  const passSe = (se["pass@k"] ?? {}) as Record<string, number>;
  for (const [k, v] of Object.entries(r["pass@k"])) {
    if (k !== "1") out.push({ name: `pass@${k}`, value: v, stderr: passSe[k] ?? 0 });
  }
  return out;
}

/** lighteval's results file layout. */
export function toLighteval(r: EvalResults): Record<string, unknown> {
  const K = r.samples_per_problem;
  const taskKey = `custom|${r.task}|0`;
  const values: Record<string, number> = {};
  for (const m of metrics(r)) {
    const name =
      m.name === "pass@1"
        ? `pass@1:${K}_samples`
        : /^pass@\d+$/.test(m.name)
          ? `pass@k:k=${m.name.slice(5)}&n=${K}`
          : m.name;
    values[name] = m.value;
    values[`${name}_stderr`] = m.stderr;
  }
  return {
    config_general: {
      lighteval_sha: null,
      producer: `r1lab ${r.r1lab_version}`,
      start_time: null,
      end_time: r.date,
      model_name: r.model?.name ?? r.model?.path ?? null,
      model_sha: r.model?.revision ?? null,
      generation_parameters: r.sampling
        ? {
            temperature: r.sampling.temperature,
            top_p: r.sampling.top_p,
            max_new_tokens: r.sampling.max_tokens,
            seed: r.sampling.seed,
          }
        : null,
    },
    results: { [taskKey]: values, all: values },
    versions: { [taskKey]: 0 },
    config_tasks: {
      [taskKey]: {
        name: r.task,
        num_samples: [K],
        evaluation_splits: [r.config.split ?? "test"],
        metric_definitions: {
          [`maj@${K}`]:
            "majority vote over the K samples; a sample with no answer votes for the empty answer",
          [`cons@${K}`]:
            "r1lab: majority vote over the K samples that have an answer (unanswered samples abstain)",
          [`pass@1:${K}_samples`]: "mean correctness over the K samples, averaged over problems",
        },
      },
    },
    summary_general: { n_problems: r.n_problems, no_answer_rate: r.no_answer_rate },
  };
}

/** lm-evaluation-harness's results file layout. */
export function toLmEval(r: EvalResults): Record<string, unknown> {
  const K = r.samples_per_problem;
  const values: Record<string, unknown> = { alias: r.task };
  const better: Record<string, boolean> = {};
  for (const m of metrics(r)) {
    const [metric, filter] =
      m.name === "pass@1"
        ? ["exact_match", "none"]
        : m.name.startsWith("maj@")
          ? ["exact_match", m.name]
          : [m.name, "none"];
    values[`${metric},${filter}`] = m.value;
    values[`${metric}_stderr,${filter}`] = m.stderr;
    better[metric] = true;
  }
  return {
    results: { [r.task]: values },
    group_subtasks: { [r.task]: [] },
    configs: {
      [r.task]: {
        task: r.task,
        repeats: K,
        num_fewshot: 0,
        generation_kwargs: r.sampling
          ? {
              temperature: r.sampling.temperature,
              top_p: r.sampling.top_p,
              max_gen_toks: r.sampling.max_tokens,
              do_sample: true,
            }
          : {},
        metric_list: Object.keys(better).map((metric) => ({
          metric,
          aggregation: "mean",
          higher_is_better: true,
        })),
        metadata: {
          [`exact_match,maj@${K}`]:
            "majority vote over the K samples; a sample with no answer votes for the empty answer",
          [`cons@${K},none`]:
            "r1lab: majority vote over the K samples that have an answer (unanswered samples abstain)",
          "exact_match,none": "pass@1: mean correctness over the K samples, averaged over problems",
        },
      },
    },
    versions: { [r.task]: 0 },
    "n-shot": { [r.task]: 0 },
    higher_is_better: { [r.task]: better },
    "n-samples": {
      [r.task]: { original: Number(r.config.n_problems_in_data ?? r.n_problems), effective: r.n_problems },
    },
    config: {
      model: "r1lab",
      model_args: r.model
        ? `pretrained=${r.model.path}${r.model.revision ? `,revision=${r.model.revision}` : ""}`
        : null,
      model_name: r.model?.name ?? r.model?.path ?? null,
    },
    date: Date.parse(r.date) / 1000,
    producer: `r1lab ${r.r1lab_version}`,
  };
}

/** Write DIR/results_FORMAT.json (atomically) for a non-r1lab format; returns its path (or results.json's). */
export function writeResultsFormat(dir: string, r: EvalResults, format: OutputFormat): string {
  const path = join(dir, outputFile(format));
  if (format === "lighteval") writeJsonAtomic(path, toLighteval(r));
  else if (format === "lm-eval") writeJsonAtomic(path, toLmEval(r));
  return path;
}

/** Check a --output-format value; the error names the option and the known formats. */
export function parseOutputFormat(v: unknown): OutputFormat {
  if (v === undefined) return "r1lab";
  if (typeof v === "string" && (OUTPUT_FORMATS as readonly string[]).includes(v)) return v as OutputFormat;
  throw new Error(`--output-format must be one of ${OUTPUT_FORMATS.join(", ")}, got '${String(v)}'`);
}
