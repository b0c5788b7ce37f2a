// report.html for an `r1lab grpo` run: held-out pass@1 before/during/after, the reward of each
// function, completion length, KL / clipping / entropy, sample completions and the resolved config,
// as one self-contained page (html.ts) with PNG/SVG copies of the plots.
import { join } from "node:path";
import { readJsonl } from "../engine/jsonl.ts";
import { writeReport } from "../report/html.ts";
import { lineChart, type MetricsRow } from "../report/plot.ts";

export interface GrpoSummary {
  steps: number;
  eval_before: Record<string, number> | null;
  eval_after: Record<string, number> | null;
  gain_pass1: number | null;
  wall_seconds: number;
  device: string;
}

export async function writeGrpoReport(
  runDir: string,
  cfg: Record<string, any>,
  s: GrpoSummary,
): Promise<void> {
  const rl = readJsonl<MetricsRow>(join(runDir, "metrics.jsonl"), { missingOk: true });
  const ev = readJsonl<MetricsRow>(join(runDir, "eval.jsonl"), { missingOk: true });
  const samples = readJsonl<MetricsRow>(join(runDir, "samples.jsonl"), { missingOk: true });
  const rewardKeys = Object.keys(rl[0] ?? {}).filter((k) => /^rewards\/.*\/mean$/.test(k));
  const fmt = (x: unknown) => (typeof x === "number" ? x.toFixed(3) : "-");
  const result =
    s.eval_before && s.eval_after
      ? `Held-out ${cfg.task} (${s.eval_after.n_problems} problems, ${s.eval_after.k} samples each at temperature ${cfg.eval_temperature}, top-p ${cfg.eval_top_p}): ` +
        `pass@1 ${fmt(s.eval_before["pass@1"])} before, ${fmt(s.eval_after["pass@1"])} after ${s.steps} steps (${((s.gain_pass1 ?? 0) * 100).toFixed(1)} points).`
      : "No held-out data (--eval-data) was given.";
  writeReport(runDir, {
    title: `r1lab grpo: ${cfg.model} on ${cfg.task}`,
    sections: [
      {
        heading: "Result",
        text:
          `${result}\n\n${cfg.use_peft ? `LoRA r=${cfg.lora_r}, alpha ${cfg.lora_alpha}` : "Full fine-tuning"}, loss_type ${cfg.loss_type}, beta ${cfg.beta}, ` +
          `${cfg.num_generations} completions per prompt, learning rate ${cfg.learning_rate}. Wall time ${s.wall_seconds.toFixed(0)} s on ${s.device}.`,
        table: ev.map((e) => ({
          step: e.step,
          "pass@1": fmt(e["pass@1"]),
          format: fmt(e.format_rate),
          "mean length": fmt(e.mean_length),
          truncated: fmt(e.truncated_rate),
        })),
      },
      ...(ev.length > 1
        ? [
            {
              heading: "Held-out pass@1",
              svg: await lineChart({
                title: "Held-out pass@1",
                rows: ev,
                x: "step",
                ys: ["pass@1", "format_rate"],
              }),
            },
          ]
        : []),
      {
        heading: "Rewards",
        svg: await lineChart({
          title: "Reward per function (mean over the round)",
          rows: rl,
          x: "step",
          ys: ["reward", ...rewardKeys],
        }),
      },
      {
        heading: "Completion length",
        svg: await lineChart({
          title: "Completion length (tokens)",
          rows: rl,
          x: "step",
          ys: ["completions/mean_length", "completions/clipped_ratio"],
          separate: true,
        }),
      },
      {
        heading: "KL, clipping, entropy",
        svg: await lineChart({
          title: "Policy statistics",
          rows: rl,
          x: "step",
          ys: ["kl", "clip_ratio/region_mean", "entropy", "frac_reward_zero_std", "grad_norm"],
          separate: true,
        }),
      },
      {
        heading: "Samples (last logged steps)",
        pre: samples
          .slice(-4)
          .map((x) => `[step ${x.step}] reward ${fmt(x.reward)}\n${x.prompt}${x.completion}`)
          .join("\n\n"),
      },
      { heading: "Config", pre: JSON.stringify(cfg, null, 2) },
    ],
  });
}
