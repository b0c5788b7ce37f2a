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

/** The measured columns with their standard errors and pass@1's 95% interval (blank where a row predates them). */
function measured(r: any) {
  const f = (x: number | undefined) => (typeof x === "number" ? x.toFixed(3) : "");
  return {
    "pass@1": r.pass1.toFixed(3),
    "pass@1 se": f(r.pass1_se),
    "pass@1 95% CI": Array.isArray(r.pass1_ci95) ? `${f(r.pass1_ci95[0])}-${f(r.pass1_ci95[1])}` : "",
    "cons@K": r.consK.toFixed(3),
    "cons@K se": f(r.consK_se),
    "mean length": r.mean_length.toFixed(1),
    readability: r.readability.toFixed(3),
    "readability se": f(r.readability_se),
  };
}

export interface R1ReportInput {
  stages: StageRow[];
  stage_details: Record<string, any>;
  wall_seconds: number;
  device: string;
  r1_zero_rl?: Record<string, any> | null;
  distill?: Record<string, unknown> | null;
}

export async function writeR1Report(runDir: string, cfg: R1Config, s: R1ReportInput): Promise<void> {
  const K = cfg.eval.k;
  const table = s.stages.map((r) => ({
    stage: r.name,
    ...measured(r),
    format: s.stage_details[r.name]?.format_rate?.toFixed?.(3) ?? "",
    consistency: s.stage_details[r.name]?.consistency?.toFixed?.(3) ?? "",
    "wall s": r.wall_seconds.toFixed(0),
    "CPU s": r.cpu_seconds?.toFixed?.(0) ?? "",
  }));
  const rs = s.stage_details.rejection_sampling ?? {};
  const evalRows = s.stages.filter((r) => r.name !== "rejection_sampling") as unknown as MetricsRow[];
  const sections: ReportSection[] = [
    {
      heading: "Stages",
      text:
        `Held-out ${cfg.task} problems (${s.stage_details.base?.n_problems}), ${K} samples each at temperature ${cfg.eval.temperature}, top-p ${cfg.eval.top_p}; ` +
        `cons@K = majority vote over the ${K} answers; "se" = standard error over the problems, the 95% CI is pass@1 +- 1.96 se. Readability = share of completions in the readable format (well-formed, sentences in the readable vocabulary, ending with "so the answer is X"). ` +
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
  const z = s.r1_zero_rl;
  if (z) {
    const byName = (n: string) => s.stages.find((r) => r.name === n);
    const curve = (c: any) =>
      c
        ? `mean rollout accuracy ${c.mean_accuracy.toFixed(3)} over ${c.steps} steps, ${c.final_accuracy.toFixed(3)} over the last quarter`
        : "no curve";
    sections.push({
      heading: "Cold start vs R1-Zero-style RL from the same base",
      text:
        `Both RL runs use reasoning_rl's GRPO settings and ${cfg.reasoning_rl.steps} steps on the same training prompts. ` +
        `reasoning_rl starts from the cold-start model with accuracy + format + consistency rewards (${curve(z.curves?.reasoning_rl)}); ` +
        `r1_zero_rl starts from the base with R1-Zero's accuracy + format rewards (${curve(z.curves?.r1_zero_rl)}). Rollout accuracy is at the rollout temperature on training prompts; the table is held-out.`,
      table: [
        { model: "base", ...measured(byName("base")) },
        { model: "cold_start_sft", ...measured(byName("cold_start_sft")) },
        { model: "reasoning_rl (from cold start)", ...measured(byName("reasoning_rl")) },
        { model: "r1_zero_rl (from base)", ...measured(z.row) },
      ],
    });
    const a = readJsonl(join(runDir, "reasoning_rl.jsonl"));
    const b = readJsonl(join(runDir, "r1_zero_rl.jsonl"));
    const rows = a.map((r, i) => ({
      step: r.step,
      "from cold start": r.accuracy,
      "R1-Zero-style": b[i]?.accuracy ?? null,
    })) as MetricsRow[];
    if (rows.length)
      sections.push({
        heading: "Rollout accuracy: cold start vs R1-Zero-style",
        svg: await lineChart({
          title: "rollout accuracy per RL step (training prompts)",
          rows,
          x: "step",
          ys: ["from cold start", "R1-Zero-style"],
        }),
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
            ...measured(r),
            "wall s": r.wall_seconds?.toFixed?.(0) ?? "",
            "CPU s": r.cpu_seconds?.toFixed?.(0) ?? "",
          }
        : { model: name, "pass@1": "no kept traces" };
    sections.push({
      heading: "Distillation vs RL on a small student",
      text:
        `Teacher: the final_rl model. Student: ${d.student.model_type}, hidden ${d.student.hidden_size}, ${d.student.num_hidden_layers} layers, ${d.student.param_count} parameters, pretrained ${d.student.pretrain_steps} steps on the same corpus. ` +
        `Teacher traces: ${d.traces.kept} kept of ${d.traces.samples} (correct and well-formed, distinct) over ${d.traces.problems_covered} problems. ` +
        `Distilled = SFT on the kept traces (${d.sft_steps ?? "?"} steps; its CPU time includes the teacher's traces, ${d.traces.cpu_seconds?.toFixed?.(0) ?? "?"} s); RL only = ${d.rl_steps ?? "?"} GRPO steps with final_rl's settings. Same held-out problems and protocol as the stage table.`,
      table: [
        fmt("student base", d.student_base),
        fmt("distilled student", d.distilled),
        fmt("RL-only student", d.rl_only),
        fmt("teacher (final_rl)", d.teacher_eval),
      ],
    });
    const rlRows = readJsonl(join(runDir, "distill_rl_only.jsonl"));
    if (rlRows.length)
      sections.push({
        heading: "RL-only student: rollout accuracy",
        svg: await lineChart({
          title: "RL-only student: rollout accuracy and reward per GRPO step",
          rows: rlRows,
          x: "step",
          ys: ["accuracy", "reward_mean"],
        }),
      });
    const sftRows = readJsonl(join(runDir, "sft", "distill_student", "sft_metrics.jsonl"));
    if (sftRows.length)
      sections.push({
        heading: "Distilled student: SFT loss",
        svg: await lineChart({
          title: "Distilled student: cross-entropy on the teacher's traces",
          rows: sftRows,
          x: "step",
          ys: ["ce"],
        }),
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
