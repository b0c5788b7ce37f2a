// report.html for an R1-Zero run: what RL did to the base model, as plots (Vega-Lite via plot.ts)
// and tables, with PNG/SVG copies under plots/.
import { join } from "node:path";
import { readJsonl as readRows } from "../engine/jsonl.ts";
import type { ZeroConfig } from "./zero-config.ts";
import { writeReport } from "../report/html.ts";
import { lineChart, type MetricsRow } from "../report/plot.ts";

/** " (95% interval a-b)" for a [lo, hi] pair; "" without one (runs from before intervals were recorded). */
const ci = (iv?: [number, number]) => (iv ? ` (95% interval ${iv[0].toFixed(3)}-${iv[1].toFixed(3)})` : "");
const readJsonl = (path: string) => readRows<MetricsRow>(path, { missingOk: true });

export async function writeZeroReport(runDir: string, cfg: ZeroConfig, summary: any): Promise<void> {
  const pre = readJsonl(join(runDir, "pretrain.jsonl"));
  const rl = readJsonl(join(runDir, "metrics.jsonl"));
  const samples = readJsonl(join(runDir, "samples.jsonl"));
  const b = summary.base_detail;
  const f = summary.final_detail;
  const row = (name: string, e: any) => ({
    model: name,
    "pass@1": e.pass1.toFixed(3),
    [`pass@${e.k}`]: e.passk.toFixed(3),
    format: e.format_rate.toFixed(3),
    "mean length": e.mean_length.toFixed(1),
    "faithful (of correct)": e.faithful_rate.toFixed(3),
    "re-checks": e.rechecks_per_completion.toFixed(3),
    "shows work": e.shows_work_rate === undefined ? "-" : e.shows_work_rate.toFixed(3),
  });
  const grew = (k: string) => (rl.length > 1 ? Number(rl[rl.length - 1][k]) - Number(rl[0][k]) : 0);
  writeReport(runDir, {
    title: `r1lab R1-Zero run: ${cfg.name}`,
    sections: [
      {
        heading: "Result",
        text:
          `Held-out ${cfg.task} problems (${b.n_problems}), ${b.k} samples each at temperature ${cfg.eval.temperature}, top-p ${cfg.eval.top_p}. ` +
          `pass@1 went from ${b.pass1.toFixed(3)}${ci(summary.base.pass1_ci95)} to ${f.pass1.toFixed(3)}${ci(summary.final.pass1_ci95)} (${((f.pass1 - b.pass1) * 100).toFixed(1)} points${summary.gain_pass1_ci95 ? `, 95% interval ${summary.gain_pass1_ci95.map((x: number) => (x * 100).toFixed(1)).join(" to ")}` : ""}); ` +
          `the base model's pass@${b.k} was ${b.passk.toFixed(3)}. Wall time ${summary.wall_seconds.toFixed(0)} s${summary.cpu_seconds === undefined ? "" : ` (${summary.cpu_seconds.toFixed(0)} CPU s)`} on ${summary.device}.\n\n` +
          `During RL the mean completion length changed by ${grew("completion_length").toFixed(1)} tokens and re-checking steps per completion by ${grew("rechecks").toFixed(3)} (first to last step).`,
        table: [row("base", b), row("after GRPO", f)],
      },
      {
        heading: "Reward and accuracy",
        svg: await lineChart({
          title: "GRPO reward and accuracy",
          rows: rl,
          x: "step",
          ys: ["reward_mean", "accuracy", "format_rate"],
        }),
      },
      {
        heading: "Response length",
        svg: await lineChart({
          title: "Mean completion length (tokens)",
          rows: rl,
          x: "step",
          ys: ["completion_length"],
        }),
      },
      ...(rl.length > 0 && rl[0].shows_work_rate !== undefined
        ? [
            {
              heading: "Working it out",
              text: "Share of rollouts whose think text holds a worked step, against bare guesses.",
              svg: await lineChart({
                title: "Rollouts that show work",
                rows: rl,
                x: "step",
                ys: ["shows_work_rate"],
              }),
            },
          ]
        : []),
      {
        heading: "KL, clipping, entropy",
        svg: await lineChart({
          title: "Policy statistics",
          rows: rl,
          x: "step",
          ys: ["kl", "clip_fraction", "entropy", "zero_variance_fraction"],
          separate: true,
        }),
      },
      {
        heading: "Faithfulness and re-checks",
        svg: await lineChart({ title: "Scratchpad", rows: rl, x: "step", ys: ["faithful_rate", "rechecks"] }),
      },
      {
        heading: "Expert load",
        text: "Max expert load over mean load (1 = balanced), averaged over MoE layers.",
        svg: await lineChart({
          title: "Expert load imbalance (pretraining)",
          rows: pre,
          x: "step",
          ys: ["expert_imbalance"],
        }),
      },
      {
        heading: "Pretraining",
        svg: await lineChart({ title: "Pretraining loss", rows: pre, x: "step", ys: ["ce", "mtp"] }),
      },
      {
        heading: "Samples (last steps)",
        pre: samples
          .slice(-6)
          .map((s) => `[step ${s.step}] reward ${s.reward}\n${s.prompt}\n${s.completion}`)
          .join("\n\n"),
      },
      { heading: "Config", pre: JSON.stringify(cfg, null, 2) },
    ],
  });
}
