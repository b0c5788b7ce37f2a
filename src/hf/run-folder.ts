// A run folder (runs/NAME/ of `r1lab zero`, `r1 `, `sft`, `distill`) given where a model is expected:
// the model is the run's final checkpoint. Runs name their last checkpoint differently (zero:
// checkpoints/final; the R1 pipeline: checkpoints/final_rl), so commands take the run folder and
// this picks the checkpoint, instead of users guessing a path that moves between run kinds.
// runEvalSettings: the prompt template, completion budget and held-out problems of the run a
// checkpoint (or an ONNX export of one) came from, so every evaluation of it scores the same thing.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";

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

/** The file an exported model folder (export-onnx) carries its run's evaluation settings in. */
export const RUN_SETTINGS_FILE = "r1lab_run.json";

/** What an evaluation of a run's checkpoint reuses so it scores what the run scored. */
export interface RunEvalSettings {
  /** The prompt template the run trained with ({problem} is replaced by the problem). */
  template: string;
  /** The completion budget of the run's own evaluations, when its config names one. */
  maxTokens: number | null;
  /** The run's held-out problems (test_problems.jsonl), when it wrote them. */
  problems: string | null;
  /** Where the settings were read: the run's config.json or the export's r1lab_run.json. */
  source: string;
}

function readJson(path: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${(e as Error).message})`);
  }
}

/**
 * The evaluation settings of the run a model came from: an exported folder's r1lab_run.json, else
 * the run folder above a checkpoint (runs/NAME/checkpoints/X -> runs/NAME/config.json, whose
 * `template`, `max_completion_length` (r1) or `grpo.max_completion_length` (zero) and
 * test_problems.jsonl are used). Null when the model is not from a run.
 */
export function runEvalSettings(modelDir: string): RunEvalSettings | null {
  const carried = join(modelDir, RUN_SETTINGS_FILE);
  if (existsSync(carried)) {
    const s = readJson(carried);
    if (typeof s.template !== "string") throw new Error(`${carried}: 'template' must be a string`);
    const mt = s.max_completion_length;
    if (mt !== null && !Number.isInteger(mt))
      throw new Error(
        `${carried}: 'max_completion_length' must be an integer or null, got ${JSON.stringify(mt)}`,
      );
    const problems = s.test_problems === null ? null : join(modelDir, String(s.test_problems));
    if (problems !== null && !existsSync(problems))
      throw new Error(`${carried}: names test_problems ${problems}, which is missing`);
    return { template: s.template, maxTokens: mt as number | null, problems, source: carried };
  }
  const runDir = dirname(dirname(modelDir));
  const cfgPath = join(runDir, "config.json");
  if (!existsSync(cfgPath)) return null;
  let cfg: Record<string, unknown>;
  try {
    cfg = readJson(cfgPath);
  } catch {
    return null; // not a run folder
  }
  if (typeof cfg?.template !== "string") return null;
  const grpo = cfg.grpo as Record<string, unknown> | undefined;
  const mt = cfg.max_completion_length ?? grpo?.max_completion_length;
  const problems = join(runDir, "test_problems.jsonl");
  return {
    template: cfg.template,
    maxTokens: Number.isInteger(mt) ? (mt as number) : null,
    problems: existsSync(problems) ? problems : null,
    source: cfgPath,
  };
}
