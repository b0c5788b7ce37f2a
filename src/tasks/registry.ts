// The synthetic tasks by name. Instances here use each task's default config; verify() and
// faithfulness() do not depend on the config, so these instances judge any example of their task
// (whatever config generated it). Build a task with its own config (new CountdownTask({...})) to
// generate problems or traces with other ranges.
import { ArithmeticTask } from "./arithmetic.ts";
import { CountdownTask } from "./countdown.ts";
import type { SyntheticTask, TaskExample } from "./types.ts";

const TASKS: Record<string, SyntheticTask> = {
  countdown: new CountdownTask(),
  arithmetic: new ArithmeticTask(),
};

export const SYNTHETIC_TASK_NAMES: readonly string[] = Object.keys(TASKS);

export function getSyntheticTask(name: string): SyntheticTask {
  const task = TASKS[name];
  if (!task) throw new Error(`unknown synthetic task '${name}'; known: ${SYNTHETIC_TASK_NAMES.join(", ")}`);
  return task;
}

/** The task an example belongs to (by meta.task), or null for examples of other sources. */
export function taskForExample(ex: TaskExample): SyntheticTask | null {
  const name = ex.meta?.task;
  return typeof name === "string" && Object.hasOwn(TASKS, name) ? TASKS[name] : null;
}

/** Up to `cap` problems of a split: all of them when the task can count its (small) problem space. */
export function problemsOf(
  task: SyntheticTask,
  split: "train" | "test",
  cap: number,
  seed: number,
): TaskExample[] {
  const n = Math.min(cap, task.countProblems?.(split) ?? cap);
  return task.generate(split, n, seed);
}
