// The decode loop every generator shares (generate.ts on r1lab's models, hf/onnx-session.ts on
// onnxruntime): sample one token per unfinished row from the last logits (sampling.ts, with the
// stream Rng.stream(seed, "sample/i") of prompt i, so the same logits give the same tokens on
// either path), stop a row at EOS or when shouldStop says so, and drop finished rows from the batch
// when at most half of it still runs (it shrinks to the running rows, which keeps long tails of a few
// unfinished samples cheap). What differs, running the model, is behind DecodeSteps.
import { Rng } from "../engine/rng.ts";
import type { GenerateOptions, GenerateResult } from "./generate.ts";
import { sampleToken } from "./sampling.ts";

/** How a model is run by the loop. Logits are host arrays [rows * vocab] at each row's last position. */
export interface DecodeSteps {
  vocab: number;
  /** Run the left-padded prompts; the logits for the first new token. */
  prefill(): Promise<Float32Array>;
  /**
   * Feed decode step t's tokens (one per row of the current batch `before`, finished rows get
   * padding). When `keep` is given, first drop the batch rows not in it (indexes into `before`);
   * `rows` are the prompts of the batch after that. Returns the logits for step t + 1.
   */
  next(
    tokens: number[],
    keep: number[] | null,
    before: number[],
    rows: number[],
    t: number,
  ): Promise<Float32Array>;
  /** Free what the steps hold (KV caches). */
  done(): void;
}

export async function decodeLoop(
  nPrompts: number,
  o: GenerateOptions,
  m: DecodeSteps,
): Promise<GenerateResult> {
  const pad = o.padTokenId ?? 0;
  const eos = new Set(o.eosTokenIds);
  const rngs = Array.from({ length: nPrompts }, (_, i) => Rng.stream(o.seed, `sample/${i}`));
  const newIds: number[][] = Array.from({ length: nPrompts }, () => []);
  const reasons: ("stop" | "length")[] = Array.from({ length: nPrompts }, () => "length");
  const finished = Array.from({ length: nPrompts }, () => false);
  // Rows still in the batch (prompt indexes), in batch order.
  let rows = Array.from({ length: nPrompts }, (_, i) => i);
  let logits = await m.prefill();
  for (let t = 0; t < o.maxNewTokens; t++) {
    const tokens: number[] = [];
    const stillActive: number[] = [];
    rows.forEach((row, j) => {
      if (finished[row]) {
        tokens.push(pad); // a finished row still in the batch: feed padding, keep nothing
        return;
      }
      const tok = sampleToken(logits, j * m.vocab, m.vocab, o, rngs[row]);
      newIds[row].push(tok);
      tokens.push(tok);
      if (eos.has(tok) || (o.shouldStop?.(row, newIds[row]) ?? false)) {
        reasons[row] = "stop";
        finished[row] = true;
      } else stillActive.push(j);
    });
    o.onStep?.(t, nPrompts - stillActive.length);
    if (stillActive.length === 0 || t === o.maxNewTokens - 1) break;
    const before = rows;
    const keep = stillActive.length <= rows.length / 2 ? stillActive : null;
    if (keep) rows = keep.map((j) => rows[j]);
    logits = await m.next(tokens, keep, before, rows, t);
  }
  m.done();
  return { ids: newIds, finishReasons: reasons };
}
