// The contract of an evaluation benchmark (gsm8k, math500, aime24, gpqa-diamond, humaneval, ...):
// load its data into problems, build R1's prompt for each, and score a completion. One file per
// benchmark under src/eval/tasks/, registered by name in index.ts.

/** One benchmark problem. `prompt` is the user message (R1: no system prompt). */
export interface EvalProblem {
  /** The dataset's id field, or the 0-based row index over the split when it has none. */
  id: string;
  prompt: string;
  /** The reference answer (a math answer, a choice letter, or the test code for code tasks). */
  gold: string;
  /** Task-specific fields kept from the row (question text, options, tests, entry point, ...). */
  meta: Record<string, unknown>;
}

export interface ScoreResult {
  /** What was taken as the answer (the extracted answer, or the code that was run); null when none. */
  extracted: string | null;
  correct: boolean;
  /** How the answer was found or judged (extract.ts methods; sandbox status for code). */
  method?: string;
}

/**
 * A task cannot score anything here (no sandbox for code, say): the whole run stops. Any other
 * error while scoring one sample is that sample's failure, recorded with its reason.
 */
export class ScoringSetupError extends Error {
  override name = "ScoringSetupError";
}

export interface LoadOptions {
  /** Eval seed (GPQA option order). Default 0. */
  seed?: number;
  /** Dataset split for a folder download. Default: the task's defaultSplit. */
  split?: string;
}

export interface ScoreOptions {
  /** Code tasks: wall-clock limit per program, ms. */
  timeoutMs?: number;
  /** Code tasks: memory limit per program, MB. */
  memoryMb?: number;
  /** Code tasks: run even when no sandbox is available (trusted completions only). */
  unsafeNoSandbox?: boolean;
}

export interface EvalTask {
  name: string;
  kind: "math" | "choice" | "code" | "synthetic";
  defaultSplit: string;
  load(path: string, opts?: LoadOptions): Promise<EvalProblem[]>;
  /** The user message for a problem, from its meta (R1's instruction for the task's kind). */
  buildPrompt(problem: EvalProblem): string;
  score(completion: string, problem: EvalProblem, opts?: ScoreOptions): Promise<ScoreResult>;
  /** Whether two extracted answers count as the same vote for cons@K. */
  sameAnswer(a: string, b: string): boolean;
  /**
   * Score against a bare gold string (no dataset row), for the reward server. Absent for tasks that
   * need more than a gold (code tests).
   */
  scoreGold?(completion: string, gold: string): Promise<ScoreResult>;
}
