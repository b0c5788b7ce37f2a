// The rollout half of one GRPO step: sample G completions per prompt from the current policy
// (scored by the policy's reward functions), compute group-relative advantages, and turn them into
// the update batch in tokens (one batch, or micro-batches for gradient accumulation) that
// grpo-update.ts trains on with the clipped surrogate (grpo-loss.ts). With dynamic sampling (DAPO),
// groups whose rewards are all equal are dropped and replaced by fresh prompts, up to
// max_resample_rounds extra rounds.
import type * as o from "../engine/ops.ts";
import type { Params } from "../engine/params.ts";
import type { ModelConfig } from "../model/config.ts";
import { makeLmBatch } from "../train/batch.ts";
import { fromArray } from "../engine/ops.ts";
import type { TaskExample } from "../tasks/types.ts";
import { type ScaleRewards, groupAdvantages, isZeroVariance } from "./advantages.ts";
import type { GrpoBatch, LossType } from "./grpo-loss.ts";
import type { Rollout, RolloutPolicy, SampleOptions } from "./rollout.ts";

export interface GrpoStepOptions extends SampleOptions {
  scaleRewards: ScaleRewards;
  dynamicSampling: boolean;
  maxResampleRounds: number;
  /** Fixed sequence length of update batches (prompt + max_completion_length). */
  seqLen: number;
  /**
   * Leave rows with zero advantage out of the update batch (bucketed shapes, see compactRows). Exact only
   * when they carry no gradient: beta = 0 and one iteration per batch (pi_old = pi_theta).
   */
  compact?: { lossType: LossType };
  /** Leave completions that hit max_completion_length out of the loss (TRL's mask_truncated_completions). */
  maskTruncated?: boolean;
  /**
   * Cut the batch into micro-batches of this many rows (gradient accumulation; dapo's and cispo's
   * num_items_in_batch counts the whole step). Without it the step is one batch, compacted when `compact`.
   */
  microBatchRows?: number;
}

/** Rows of an update batch: a rollout, its advantage, and whether it is trained on. */
export type Row<E = TaskExample> = { r: Rollout<E>; a: number; live: boolean };

const ROW_BUCKET = 16;
const LEN_BUCKET = 16;

/**
 * The update batch without the rows whose advantage is 0 (zero-variance groups, or a group's
 * average members): with beta = 0 and pi_old = pi_theta they add nothing to the gradient but cost a
 * forward and backward pass. Rows are padded (masked) to a multiple of ROW_BUCKET and the length to
 * a multiple of LEN_BUCKET so that jit compiles a few shapes only. The advantages are rescaled so
 * that the loss, and so the gradient, equals the full batch's under each aggregation: scaling A by
 * a positive constant scales -min(rho A, clip(rho) A) by the same constant.
 */
function compactRows<E>(
  rows: Row<E>[],
  lossType: LossType,
  seqLen: number,
): { rows: Row<E>[]; seqLen: number } {
  const live = rows.filter((x) => x.live && x.a !== 0);
  const n = Math.max(ROW_BUCKET, Math.ceil(live.length / ROW_BUCKET) * ROW_BUCKET);
  const len = (x: Row<E>) => x.r.promptIds.length + x.r.completionIds.length - 1;
  const completionTokens = (xs: Row<E>[]) =>
    xs.reduce((s, x) => s + (x.live ? x.r.completionIds.length : 0), 0);
  // grpo and dr_grpo divide by the number of rows; bnpo and dapo by the number of completion tokens.
  const scale =
    lossType === "grpo" || lossType === "dr_grpo"
      ? n / rows.length
      : completionTokens(live) / Math.max(1, completionTokens(rows));
  const out = live.map((x) => ({ ...x, a: x.a * scale }));
  while (out.length < n) out.push({ r: rows[out.length % rows.length].r, a: 0, live: false });
  const longest = Math.max(1, ...live.map(len));
  return { rows: out, seqLen: Math.min(seqLen, Math.ceil(longest / LEN_BUCKET) * LEN_BUCKET) };
}

export interface GrpoRolloutResult<E = TaskExample> {
  /** The update batch (consumed by the update): one, or its micro-batches with `microBatchRows`. */
  batches: GrpoBatch[];
  /** The rows of the update, each rollout with its advantage (before compaction). */
  rows: Row<E>[];
  /** All rollouts drawn this step (including dropped groups). */
  all: Rollout<E>[];
  /** Rollouts that entered the update. */
  used: Rollout<E>[];
  zeroVarianceFraction: number;
  generatedTokens: number;
}

/** Sample, score and assemble the update batch for one step. `nextPrompts(round)` supplies each round's prompts. */
export async function grpoRollouts<E>(
  p: Params,
  policy: RolloutPolicy<E>,
  nextPrompts: (round: number) => E[],
  o: GrpoStepOptions,
): Promise<GrpoRolloutResult<E>> {
  const G = o.numGenerations;
  const all: Rollout<E>[] = [];
  const kept: Rollout<E>[][] = [];
  let wanted = 0;
  let zeroGroups = 0;
  let groups = 0;
  for (let round = 0; round <= (o.dynamicSampling ? o.maxResampleRounds : 0); round++) {
    const prompts = nextPrompts(round);
    if (round === 0) wanted = prompts.length;
    const r = await policy.rollouts(p, prompts, { ...o, seed: o.seed + round * 7919 });
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
  const adv = groupAdvantages(
    used.map((g) => g.map((x) => x.reward)),
    o.scaleRewards,
  );
  // Fixed batch shape: pad with masked-out copies when dynamic sampling came up short.
  const live = (r: Rollout<E>) => !(o.maskTruncated && r.finishReason === "length");
  const rows: Row<E>[] = used.flatMap((g, i) => g.map((r, j) => ({ r, a: adv[i][j], live: live(r) })));
  while (rows.length < wanted * G) rows.push({ r: all[rows.length % all.length], a: 0, live: false });
  const batches =
    o.microBatchRows === undefined
      ? [updateBatch(policy.config, policy.padId, rows, o.seqLen, o.compact?.lossType)]
      : microBatched(policy.config, policy.padId, rows, o.seqLen, o.microBatchRows);
  return {
    batches,
    rows,
    all,
    used: used.flat(),
    zeroVarianceFraction: groups > 0 ? zeroGroups / groups : 0,
    generatedTokens: all.reduce((s, r) => s + r.completionIds.length, 0),
  };
}

/** One row of an update batch in tokens: prompt + completion, its advantage, whether it is in the loss. */
export interface TokenRow {
  promptIds: number[];
  /** Generated ids, EOS included when the completion stopped. */
  completionIds: number[];
  advantage: number;
  /** In the loss (false: masked out, e.g. padding or a truncated completion with mask_truncated_completions). */
  live: boolean;
}

/**
 * The update batch of one step: prompt + completion per row, loss on completion tokens of live rows.
 * `compact` (the loss type) leaves the zero-advantage rows out (compactRows), otherwise the batch
 * has every row at the fixed `seqLen`.
 */
export function updateBatch<E>(
  c: ModelConfig,
  padId: number,
  rows: Row<E>[],
  seqLen: number,
  compact?: LossType,
): GrpoBatch {
  if (compact) ({ rows, seqLen } = compactRows(rows, compact, seqLen));
  return grpoBatch(c, padId, rows.map(tokenRow), seqLen);
}

const tokenRow = <E>({ r, a, live }: Row<E>): TokenRow => ({
  promptIds: r.promptIds,
  completionIds: r.completionIds,
  advantage: a,
  live,
});

/** The step's rows as micro-batches of `size` rows, each knowing the step's num_items_in_batch. */
function microBatched<E>(
  c: ModelConfig,
  padId: number,
  rows: Row<E>[],
  seqLen: number,
  size: number,
): GrpoBatch[] {
  const tokens = rows.map(tokenRow);
  const numItems = itemsInBatch(tokens, seqLen);
  return microBatches(tokens, size).map((mb) => grpoBatch(c, padId, mb, seqLen, numItems));
}

/**
 * Engine arrays [rows, seqLen] for token rows. `numItems`: the completion tokens in the loss over
 * all micro-batches of the step (dapo's and cispo's num_items_in_batch), when the step has several.
 */
export function grpoBatch(
  c: ModelConfig,
  padId: number,
  rows: TokenRow[],
  seqLen: number,
  numItems?: number,
): GrpoBatch {
  const lm = makeLmBatch(
    c,
    rows.map((r) => {
      const ids = [...r.promptIds, ...r.completionIds].slice(0, seqLen + 1);
      return { ids, lossStart: r.live ? r.promptIds.length : ids.length + 1 };
    }),
    seqLen,
    padId,
  );
  for (const a of lm.mtpIo) for (const v of Object.values(a)) (v as o.Arr).dispose();
  // Absent parts are left out of the object (jit's pytrees take no undefined leaves).
  const b: GrpoBatch = {
    ids: lm.ids,
    targets: lm.targets,
    mask: lm.lossMask,
    io: lm.io,
    advantages: fromArray(
      rows.map((r) => r.advantage),
      [rows.length],
    ),
  };
  if (numItems !== undefined) b.numItemsInBatch = fromArray([numItems], []);
  return b;
}

/** A step's rows cut into micro-batches of `rows` rows (gradient accumulation). */
export function microBatches<T>(all: T[], rows: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < all.length; i += rows) out.push(all.slice(i, i + rows));
  return out;
}

/** Completion tokens in the loss over a step's rows (dapo's and cispo's num_items_in_batch). */
export function itemsInBatch(rows: TokenRow[], seqLen: number): number {
  return rows.reduce(
    (s, r) => s + (r.live ? Math.min(r.completionIds.length, seqLen + 1 - r.promptIds.length) : 0),
    0,
  );
}
