// One GRPO step (R1-Zero's RL): sample G completions per prompt from the current policy, score
// them with rule rewards, compute group-relative advantages, and update the policy with the clipped
// surrogate (grpo-loss.ts). With loss_type "dapo", groups whose rewards are all equal are dropped
// and replaced by fresh prompts (dynamic sampling, up to max_resample_rounds extra rounds).
import type * as o from "../engine/ops.ts";
import type { Params } from "../engine/params.ts";
import type { ModelConfig } from "../model/config.ts";
import { makeLmBatch } from "../train/batch.ts";
import { fromArray } from "../engine/ops.ts";
import type { CharTokenizer } from "../tasks/char-tokenizer.ts";
import type { TaskExample } from "../tasks/types.ts";
import { type ScaleRewards, groupAdvantages, isZeroVariance } from "./advantages.ts";
import type { GrpoBatch } from "./grpo-loss.ts";
import { type Rollout, type RolloutOptions, rollouts } from "./rollout.ts";

export interface GrpoStepOptions extends RolloutOptions {
  scaleRewards: ScaleRewards;
  dynamicSampling: boolean;
  maxResampleRounds: number;
  /** Fixed sequence length of update batches (prompt + max_completion_length). */
  seqLen: number;
}

export interface GrpoRolloutResult {
  batch: GrpoBatch;
  /** All rollouts drawn this step (including dropped groups). */
  all: Rollout[];
  /** Rollouts that entered the update. */
  used: Rollout[];
  zeroVarianceFraction: number;
  generatedTokens: number;
}

/** Sample, score and assemble the update batch for one step. `nextPrompts(n, round)` supplies prompts. */
export async function grpoRollouts(
  p: Params,
  c: ModelConfig,
  tok: CharTokenizer,
  nextPrompts: (round: number) => TaskExample[],
  o: GrpoStepOptions,
): Promise<GrpoRolloutResult> {
  const G = o.numGenerations;
  const all: Rollout[] = [];
  const kept: Rollout[][] = [];
  let wanted = 0;
  let zeroGroups = 0;
  let groups = 0;
  for (let round = 0; round <= (o.dynamicSampling ? o.maxResampleRounds : 0); round++) {
    const prompts = nextPrompts(round);
    if (round === 0) wanted = prompts.length;
    const r = await rollouts(p, c, tok, prompts, { ...o, seed: o.seed + round * 7919 });
    all.push(...r);
    for (let i = 0; i < prompts.length; i++) {
      const g = r.slice(i * G, (i + 1) * G);
      groups++;
      const zero = isZeroVariance(g.map((x) => x.reward));
      if (zero) zeroGroups++;
      if (!o.dynamicSampling || !zero) kept.push(g);
    }
    if (!o.dynamicSampling || kept.length >= wanted) break;
  }
  const used = kept.slice(0, wanted);
  const adv = groupAdvantages(used.map((g) => g.map((x) => x.reward)), o.scaleRewards);
  // Fixed batch shape: pad with masked-out copies when dynamic sampling came up short.
  const rows: { r: Rollout; a: number; live: boolean }[] = used.flatMap((g, i) => g.map((r, j) => ({ r, a: adv[i][j], live: true })));
  while (rows.length < wanted * G) rows.push({ r: all[rows.length % all.length], a: 0, live: false });
  const lm = makeLmBatch(
    c,
    rows.map(({ r, live }) => {
      const ids = [...r.promptIds, ...r.completionIds].slice(0, o.seqLen + 1);
      return { ids, lossStart: live ? r.promptIds.length : ids.length + 1 };
    }),
    o.seqLen,
    tok.padId,
  );
  const batch: GrpoBatch = {
    ids: lm.ids,
    targets: lm.targets,
    mask: lm.lossMask,
    io: lm.io,
    advantages: fromArray(rows.map((x) => x.a), [rows.length]),
  };
  for (const a of lm.mtpIo) for (const v of Object.values(a)) (v as o.Arr).dispose();
  return {
    batch,
    all,
    used: used.flat(),
    zeroVarianceFraction: groups > 0 ? zeroGroups / groups : 0,
    generatedTokens: all.reduce((s, r) => s + r.completionIds.length, 0),
  };
}
