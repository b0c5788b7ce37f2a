// The evaluation benchmarks by name: `r1lab score --task NAME`, `r1lab serve rewards --task NAME`.

import { SYNTHETIC_TASK_NAMES } from "../../tasks/registry.ts";
import { aime24, aime25 } from "./aime.ts";
import { gpqaDiamond } from "./gpqa-diamond.ts";
import { gsm8k } from "./gsm8k.ts";
import { humaneval } from "./humaneval.ts";
import { math500 } from "./math500.ts";
import { mbpp } from "./mbpp.ts";
import { syntheticEvalTask } from "./synthetic.ts";
import type { EvalTask } from "./types.ts";

const TASKS: Record<string, EvalTask> = {
  gsm8k,
  math500,
  aime24,
  aime25,
  "gpqa-diamond": gpqaDiamond,
  humaneval,
  mbpp,
};
for (const name of SYNTHETIC_TASK_NAMES) TASKS[name] = syntheticEvalTask(name);

export const EVAL_TASK_NAMES: readonly string[] = Object.keys(TASKS);

export function getEvalTask(name: string): EvalTask {
  const t = Object.hasOwn(TASKS, name) ? TASKS[name] : undefined;
  if (!t) throw new Error(`unknown eval task '${name}'; known: ${EVAL_TASK_NAMES.join(", ")}`);
  return t;
}

export function hasEvalTask(name: string): boolean {
  return Object.hasOwn(TASKS, name);
}
