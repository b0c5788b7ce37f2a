// report.html for an R1 pipeline run: the stage table (pass@1, cons@K, response length,
// readability, wall time), bar charts of each metric by stage, the RL stages' reward curves, the
// SFT loss curves, rejection-sampling counts and sample completions, with PNG/SVG under plots/.
import { join } from "node:path";
import { readJsonl as readRows } from "../engine/jsonl.ts";
import type { R1Config } from "./r1-config.ts";
import type { StageRow } from "./r1.ts";
import { type ReportSection, writeReport } from "../report/html.ts";
import { barChart, lineChart, type MetricsRow } from "../report/plot.ts";

const readJsonl = (path: string) => readRows<MetricsRow>(path, { missingOk: true });

export interface R1ReportInput {
  stages: StageRow[];
  stage_details: Record<string, any>;
  wall_seconds: number;
  device: string;
  distill?: Record<string, unknown> | null;
}

export async function writeR1Report(runDir: string, cfg: R1Config, s: R1ReportInput): Promise<void> {
  const K = cfg.eval.k;
  const table = s.stages.map((r) => ({
    stage: r.name,
    "pass@1": r.pass1.toFixed(3),
    "cons@K": r.consK.toFixed(3),
    "mean length": r.mean_length.toFixed(1),
    readability: r.readability.toFixed(3),
    format: s.stage_details[r.name]?.format_rate?.toFixed?.(3) ?? "",
    consistency: s.stage_details[r.name]?.consistency?.toFixed?.(3) ?? "",
    "wall s": r.wall_seconds.toFixed(0),
  }));
  const rs = s.stage_details.rejection_sampling ?? {};
  const evalRows = s.stages.filter((r) => r.name !== "rejection_sampling") as unknown as MetricsRow[];
  const sections: ReportSection[] = [
    {
      heading: "Stages",
      text:
        `Held-out ${cfg.task} problems (${s.stage_details.base?.n_problems}), ${K} samples each at temperature ${cfg.eval.temperature}, top-p ${cfg.eval.top_p}; ` +
        `cons@K = majority vote over the ${K} answers. Readability = share of completions in the readable format (well-formed, sentences in the readable vocabulary, ending with "so the answer is X"). ` +
        `The rejection_sampling row describes its sampler on ${rs.prompts ?? "?"} training prompts with K = ${rs.k ?? "?"} (pass@1, cons@K, length and readability of all samples): ` +
        `${rs.kept ?? 0} of ${rs.samples ?? 0} samples kept (${rs.correct ?? 0} correct, ${rs.well_formed ?? 0} well-formed, ${rs.readable ?? 0} readable, ${rs.duplicates ?? 0} duplicates dropped). ` +
        `Wall time ${s.wall_seconds.toFixed(0)} s on ${s.device}.`,
      table,
    },
    {
      heading: "pass@1 by stage",
      svg: await barChart({ title: "pass@1 (held-out)", rows: evalRows, x: "name", y: "pass1" }),
    },
    {
      heading: "cons@K by stage",
      svg: await barChart({ title: `cons@${K} (held-out)`, rows: evalRows, x: "name", y: "consK" }),
    },
    {
      heading: "Response length by stage",
      svg: await barChart({
        title: "Mean completion length (tokens)",
        rows: evalRows,
        x: "name",
        y: "mean_length",
      }),
    },
    {
      heading: "Readability by stage",
      svg: await barChart({
        title: "Readability (share readable)",
        rows: evalRows,
        x: "name",
        y: "readability",
      }),
    },
  ];
  for (const stage of ["reasoning_rl", "final_rl"]) {
    const rows = readJsonl(join(runDir, `${stage}.jsonl`));
    if (rows.length)
      sections.push({
        heading: `${stage}: rewards`,
        svg: await lineChart({
          title: `${stage}: reward, accuracy, consistency, readability`,
          rows,
          x: "step",
          ys: ["reward_mean", "accuracy", "consistency", "readability"],
        }),
      });
    if (rows.length)
      sections.push({
        heading: `${stage}: length`,
        svg: await lineChart({
          title: `${stage}: completion length (tokens)`,
          rows,
          x: "step",
          ys: ["completion_length"],
        }),
      });
  }
  for (const stage of ["cold_start_sft", "sft"]) {
    const rows = readJsonl(join(runDir, "sft", stage, "sft_metrics.jsonl"));
    if (rows.length)
      sections.push({
        heading: `${stage}: loss`,
        svg: await lineChart({ title: `${stage}: cross-entropy on targets`, rows, x: "step", ys: ["ce"] }),
      });
  }
  const pre = readJsonl(join(runDir, "pretrain.jsonl"));
  if (pre.length)
    sections.push({
      heading: "Pretraining",
      svg: await lineChart({ title: "Base pretraining loss", rows: pre, x: "step", ys: ["ce", "mtp"] }),
    });
  const d = s.distill as any;
  if (d) {
    const fmt = (name: string, r: any) =>
      r
        ? {
            model: name,
            "pass@1": r.pass1.toFixed(3),
            "cons@K": r.consK.toFixed(3),
            "mean length": r.mean_length.toFixed(1),
            readability: r.readability.toFixed(3),
            "wall s": r.wall_seconds.toFixed(0),
          }
        : { model: name, "pass@1": "no kept traces" };
    sections.push({
      heading: "Distillation vs RL on a small student",
      text:
        `Teacher: the final_rl model. Student: ${d.student.model_type}, hidden ${d.student.hidden_size}, ${d.student.num_hidden_layers} layers, ${d.student.param_count} parameters, pretrained ${d.student.pretrain_steps} steps on the same corpus. ` +
        `Teacher traces: ${d.traces.kept} kept of ${d.traces.samples} (correct and well-formed, distinct) over ${d.traces.problems_covered} problems. ` +
        "Distilled = SFT on the kept traces; RL only = GRPO for as many steps as the SFT. Same held-out problems and protocol as the stage table.",
      table: [
        fmt("student base", d.student_base),
        fmt("distilled student", d.distilled),
        fmt("RL-only student", d.rl_only),
        fmt("teacher (final_rl)", d.teacher_eval),
      ],
    });
  }
  const samples = s.stages
    .filter((r) => Array.isArray(s.stage_details[r.name]?.examples))
    .flatMap((r) =>
      s.stage_details[r.name].examples.map(
        (e: any) => `[${r.name}] ${e.correct ? "correct" : "wrong"}\n${e.prompt}\n${e.completion}`,
      ),
    );
  sections.push({ heading: "Sample completions (held-out)", pre: samples.join("\n\n") });
  sections.push({ heading: "Config", pre: JSON.stringify(cfg, null, 2) });
  writeReport(runDir, { title: `r1lab R1 pipeline: ${cfg.name}`, sections });
}
