// The side-by-side R1 argues from (R1 paper, section 2.3.1): does RL from a cold-started model
// converge faster and higher than R1-Zero-style RL? After the pipeline's stages, the *base* is
// trained with R1-Zero's recipe: no cold start, R1-Zero's rewards (accuracy + format, no language
// consistency), reasoning_rl's GRPO settings, steps and prompts. Its held-out row is measured like
// the stage rows; its per-step rollout accuracy (r1_zero_rl.jsonl) is set beside reasoning_rl's
// (reasoning_rl.jsonl) in the report, with two summaries of each curve: the mean rollout accuracy
// over all steps (higher = got there sooner) and over the last quarter of the steps.
// Result: runDir/r1_zero_rl.json (a finished comparison is not redone), summary.json `r1_zero_rl`.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeJsonAtomic } from "../engine/atomic.ts";
import { readJsonl } from "../engine/jsonl.ts";
import { type Params, disposeParams } from "../engine/params.ts";
import type { GrpoSettings } from "./grpo-stage.ts";
import { type StageColumns, type StageEval, stageColumns } from "./eval-stage.ts";

export interface ZeroRlArgs {
  runDir: string;
  /** reasoning_rl's settings; the comparison keeps them but for the rewards. */
  g: GrpoSettings;
  /** Run an RL stage named `name` from checkpoints/<from> with settings g. */
  rl: (name: string, from: string, g: GrpoSettings) => Promise<Params>;
  evaluate: (name: string, p: Params) => Promise<StageEval>;
  log: (s: string) => void;
}

export interface CurveSummary {
  steps: number;
  /** Mean rollout accuracy over every step. */
  mean_accuracy: number;
  /** Mean rollout accuracy over the last quarter of the steps (at least one). */
  final_accuracy: number;
}

/** Summaries of an RL stage's per-step rollout accuracy (its metrics file). */
export function curveSummary(file: string): CurveSummary | null {
  const rows = readJsonl<{ accuracy: number }>(file, { missingOk: true });
  if (rows.length === 0) return null;
  const mean = (xs: { accuracy: number }[]) => xs.reduce((s, r) => s + r.accuracy, 0) / xs.length;
  return {
    steps: rows.length,
    mean_accuracy: mean(rows),
    final_accuracy: mean(rows.slice(-Math.max(1, Math.floor(rows.length / 4)))),
  };
}

/** R1-Zero's rewards with reasoning_rl's weights for them (accuracy, format). */
export function zeroRewards(w: Record<string, number>): Record<string, number> {
  return { accuracy: w.accuracy ?? 1, format: w.format ?? 0.1 };
}

export async function zeroRlComparison(a: ZeroRlArgs) {
  const out = join(a.runDir, "r1_zero_rl.json");
  if (existsSync(out)) return JSON.parse(readFileSync(out, "utf8"));
  const t = performance.now();
  const cpu0 = process.cpuUsage();
  const g = { ...a.g, reward_weights: zeroRewards(a.g.reward_weights) };
  const p = await a.rl("r1_zero_rl", "base", g);
  const e = await a.evaluate("r1_zero_rl", p);
  disposeParams(p);
  const cpu = process.cpuUsage(cpu0);
  const row: { name: string } & StageColumns & { wall_seconds: number; cpu_seconds: number } = {
    name: "r1_zero_rl",
    ...stageColumns(e),
    wall_seconds: (performance.now() - t) / 1000,
    cpu_seconds: (cpu.user + cpu.system) / 1e6,
  };
  const result = {
    row,
    detail: { split: "test", ...e },
    reward_weights: g.reward_weights,
    curves: {
      reasoning_rl: curveSummary(join(a.runDir, "reasoning_rl.jsonl")),
      r1_zero_rl: curveSummary(join(a.runDir, "r1_zero_rl.jsonl")),
    },
  };
  writeJsonAtomic(out, result);
  a.log(
    `r1_zero_rl (R1-Zero-style RL from the base, ${g.steps} steps): pass@1 ${row.pass1.toFixed(3)}, readability ${row.readability.toFixed(3)}`,
  );
  return result;
}
