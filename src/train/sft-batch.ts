// Supervised fine-tuning rows and batches. An SftExample is a token sequence with a per-token
// target flag (1 on assistant tokens). Examples become rows of at most max_seq_length tokens, one
// example per row, or several per row with sequence packing. Packed rows keep attention inside each
// example (block-diagonal causal mask, src/model/inputs.ts segments) and restart RoPE positions at
// each example, so a packed row computes exactly what the examples would compute on their own rows.
// Targets never cross an example boundary, for the main head and for every MTP depth.
import * as o from "../engine/ops.ts";
import type { ModelConfig } from "../model/config.ts";
import { attnInputs } from "../model/inputs.ts";
import type { LmBatch } from "./lm-loss.ts";

export interface SftExample {
  inputIds: number[];
  /** lossMask[i] = 1 where token i is a target (assistant tokens only), else 0. */
  lossMask: number[];
}

/** One training row: tokens, their target flags, the example (segment) each belongs to, and RoPE positions. */
export interface SftRow {
  ids: number[];
  targetFlags: number[];
  segments: number[];
  positions: number[];
}

/** An empty row. */
export const emptyRow = (): SftRow => ({ ids: [], targetFlags: [], segments: [], positions: [] });

/** Append one sequence to a row as its next segment (RoPE positions restart at 0). */
export function appendSegment(row: SftRow, ids: number[], targetFlags: number[]): void {
  const seg = row.segments.length > 0 ? row.segments[row.segments.length - 1] + 1 : 0;
  row.ids.push(...ids);
  row.targetFlags.push(...targetFlags);
  row.segments.push(...ids.map(() => seg));
  row.positions.push(...ids.map((_, t) => t));
}

function checkExample(e: SftExample, i: number): void {
  if (e.inputIds.length !== e.lossMask.length)
    throw new Error(
      `SFT example ${i}: inputIds has ${e.inputIds.length} tokens but lossMask has ${e.lossMask.length}`,
    );
  if (e.inputIds.length < 2)
    throw new Error(`SFT example ${i}: needs at least 2 tokens, got ${e.inputIds.length}`);
}

/** TRL's truncation: keep the first maxLen tokens. */
const cut = (e: SftExample, maxLen: number): SftExample => ({
  inputIds: e.inputIds.slice(0, maxLen),
  lossMask: e.lossMask.slice(0, maxLen),
});

/**
 * Rows for training: one example per row, or (packing) examples concatenated greedily in the given
 * order until the next one would not fit in maxLen. Examples with no target token after truncation
 * are dropped (they would carry no gradient); `truncated` and `dropped` count what happened.
 */
export function buildRows(
  examples: SftExample[],
  maxLen: number,
  packing: boolean,
): { rows: SftRow[]; truncated: number; dropped: number } {
  const rows: SftRow[] = [];
  let truncated = 0;
  let dropped = 0;
  let cur: SftRow | null = null;
  examples.forEach((e0, i) => {
    checkExample(e0, i);
    if (e0.inputIds.length > maxLen) truncated++;
    const e = cut(e0, maxLen);
    if (!e.lossMask.slice(1).some((m) => m > 0)) {
      dropped++;
      return;
    }
    if (!packing || !cur || cur.ids.length + e.inputIds.length > maxLen) {
      cur = emptyRow();
      rows.push(cur);
    }
    appendSegment(cur, e.inputIds, e.lossMask);
  });
  return { rows, truncated, dropped };
}

/** Training length: the longest row rounded up to a multiple of 8, at most maxLen (fixed for a run: one jit compile). */
export function rowLength(rows: SftRow[], maxLen: number): number {
  const longest = Math.max(2, ...rows.map((r) => r.ids.length));
  return Math.min(maxLen, Math.ceil(longest / 8) * 8);
}

/** Whether position t of a row predicts a trained target `depth` tokens ahead (t+depth in the same example, flagged). */
function trained(r: SftRow, t: number, depth: number): boolean {
  const j = t + depth;
  return j < r.ids.length && r.segments[j] === r.segments[t] && r.targetFlags[j] > 0;
}

/** An LmBatch of rows padded to T tokens, and the number of trained (main-head) targets in it. */
export function makeSftBatch(
  c: ModelConfig,
  rows: SftRow[],
  T: number,
  padId: number,
): { batch: LmBatch; targetTokens: number } {
  const B = rows.length;
  const ids = new Int32Array(B * T).fill(padId);
  const targets = new Int32Array(B * T).fill(padId);
  const mask = new Float32Array(B * T);
  const D = c.numNextnPredictLayers;
  const mtpMasks = Array.from({ length: D }, (_, i) => new Float32Array(B * (T - i - 1)));
  const positions: number[][] = [];
  const segments: number[][] = [];
  let targetTokens = 0;
  rows.forEach((r, b) => {
    if (r.ids.length > T)
      throw new Error(`SFT row ${b} has ${r.ids.length} tokens; the batch length is ${T}`);
    const pos: number[] = [];
    const seg: number[] = [];
    for (let t = 0; t < T; t++) {
      const real = t < r.ids.length;
      if (real) ids[b * T + t] = r.ids[t];
      if (t + 1 < r.ids.length) targets[b * T + t] = r.ids[t + 1];
      if (real && trained(r, t, 1)) {
        mask[b * T + t] = 1;
        targetTokens++;
      }
      for (let k = 1; k <= D; k++)
        if (t < T - k && real && trained(r, t, k + 1)) mtpMasks[k - 1][b * (T - k) + t] = 1;
      pos.push(real ? r.positions[t] : t);
      seg.push(real ? r.segments[t] : -1); // padding: its own segment, never seen by real tokens
    }
    positions.push(pos);
    segments.push(seg);
  });
  const io = (n: number) =>
    attnInputs(c, {
      positions: positions.map((p) => p.slice(0, n)),
      qSlots: positions.map(() => Array.from({ length: n }, (_, t) => t)),
      keyValid: positions.map(() => Array.from({ length: n }, () => true)),
      segments: segments.map((s) => s.slice(0, n)),
    });
  const batch: LmBatch = {
    ids: o.fromArray(ids, [B, T], "int32"),
    targets: o.fromArray(targets, [B, T], "int32"),
    lossMask: o.fromArray(mask, [B, T]),
    io: io(T),
    mtpIo: mtpMasks.map((_, i) => io(T - i - 1)),
  };
  if (D > 0) batch.mtpLossMask = mtpMasks.map((m, i) => o.fromArray(m, [B, T - i - 1]));
  return { batch, targetTokens };
}
