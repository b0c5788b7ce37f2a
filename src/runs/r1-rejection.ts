// Stage 3 of `r1lab r1` (R1 paper, section 2.3.3): rejection sampling from the reasoning-RL model.
// K = num_samples completions per training prompt (a seeded draw of `prompts` of them); a sample is
// kept when it is correct, well-formed and (require_readable) readable, deduplicated per prompt.
// Writes checkpoints/rejection_sampling/{kept.jsonl, stats.json}; the stage row is measured on the
// training prompts it sampled (its pass@1 is the share accepted), not on the held-out set.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { writeJsonAtomic } from "../engine/atomic.ts";
import { writeJsonl } from "../engine/jsonl.ts";
import type { Params } from "../engine/params.ts";
import { Rng, deriveSeed } from "../engine/rng.ts";
import type { ModelConfig } from "../model/config.ts";
import { Progress } from "../report/progress.ts";
import { rejectionSample } from "../rl/rejection.ts";
import type { CharTokenizer } from "../tasks/char-tokenizer.ts";
import type { TaskExample } from "../tasks/types.ts";
import { type StageColumns, stageColumns } from "./eval-stage.ts";
import type { R1Config } from "./r1-config.ts";

export async function rejectionStage(args: {
  cfg: R1Config;
  params: Params;
  mc: ModelConfig;
  tok: CharTokenizer;
  trainProblems: TaskExample[];
  /** The stage's folder: kept.jsonl and stats.json go here. */
  dir: string;
  log: (s: string) => void;
}): Promise<{ row: StageColumns; detail: Record<string, unknown> }> {
  const { cfg, dir, log } = args;
  const R = cfg.rejection_sampling;
  const prompts = Rng.stream(cfg.seed, "rejection-prompts")
    .shuffle([...args.trainProblems])
    .slice(0, R.prompts);
  const bar = new Progress({ total: prompts.length, label: "rejection sampling" });
  const rs = await rejectionSample(args.params, args.mc, args.tok, prompts, {
    numSamples: R.num_samples,
    maxCompletionLength: cfg.max_completion_length,
    temperature: R.temperature,
    topP: R.top_p,
    seed: deriveSeed(cfg.seed, "rejection"),
    template: cfg.template,
    requireReadable: R.require_readable,
    onProgress: (d) => bar.tick(d - bar.current),
  });
  bar.done();
  mkdirSync(dir, { recursive: true });
  writeJsonl(
    join(dir, "kept.jsonl"),
    rs.kept.map((s) => ({ id: s.example.id, prompt: s.example.prompt, completion: s.completion })),
  );
  writeJsonAtomic(join(dir, "stats.json"), rs.stats);
  log(
    `rejection sampling: ${rs.stats.samples} samples, ${rs.stats.accepted} accepted, ${rs.stats.duplicates} duplicates, ${rs.stats.kept} kept over ${rs.stats.prompts_covered}/${rs.stats.prompts} prompts`,
  );
  return {
    row: stageColumns(rs),
    detail: {
      split: "train",
      k: R.num_samples,
      ...rs.stats,
      kept_mean_length: rs.kept.length ? rs.kept.reduce((a, s) => a + s.length, 0) / rs.kept.length : 0,
    },
  };
}
