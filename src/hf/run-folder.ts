// A run folder (runs/NAME/ of `r1lab zero`, `r1 `, `sft`, `distill`) given where a model is expected:
// the model is the run's final checkpoint. Runs name their last checkpoint differently (zero:
// checkpoints/final; the R1 pipeline: checkpoints/final_rl), so commands take the run folder and
// this picks the checkpoint, instead of users guessing a path that moves between run kinds.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

/** Checkpoint names from the last stage of a run to the first. */
const FINAL_ORDER = ["final", "final_rl", "sft", "reasoning_rl", "cold_start_sft", "base"];

/** A model folder: config.json with a model_type (a run's config.json has none). */
function isModelFolder(dir: string): boolean {
  try {
    return typeof JSON.parse(readFileSync(join(dir, "config.json"), "utf8"))?.model_type === "string";
  } catch {
    return false;
  }
}

/**
 * The final checkpoint of the run folder `dir` (the last stage by name, else the newest
 * checkpoint); null when `dir` is a model folder itself or not a run folder.
 */
export function runCheckpoint(dir: string): string | null {
  const ckDir = join(dir, "checkpoints");
  if (isModelFolder(dir) || !existsSync(ckDir) || !statSync(ckDir).isDirectory()) return null;
  const models = readdirSync(ckDir).filter((n) => isModelFolder(join(ckDir, n)));
  if (models.length === 0)
    throw new Error(`${dir}: a run folder with no finished checkpoint under checkpoints/`);
  const named = FINAL_ORDER.find((n) => models.includes(n));
  if (named) return join(ckDir, named);
  const newest = models
    .map((n) => ({ n, t: statSync(join(ckDir, n, "config.json")).mtimeMs }))
    .sort((a, b) => b.t - a.t)[0];
  return join(ckDir, newest.n);
}
