// Batched generation with a fixed-size KV cache. Prompts are left-padded to one length P; the
// cache holds P + maxNewTokens slots. One jitted prefill writes the prompts, then one jitted decode
// step per token writes one slot and returns the next logits, so each shape compiles once.
// Finished rows are dropped from the batch when at most half remain (the batch shrinks to the next
// power of two), which keeps long tails of a few unfinished samples cheap.
import { compile } from "../engine/compile.ts";
import * as o from "../engine/ops.ts";
import { type Params, refParams } from "../engine/params.ts";
import { Rng } from "../engine/rng.ts";
import { tidy } from "../engine/scope.ts";
import type { ModelConfig } from "../model/config.ts";
import { attnInputs } from "../model/inputs.ts";
import { type LayerCache, emptyCache } from "../model/kv-cache.ts";
import { forward } from "../model/transformer.ts";
import { type SamplingParams, sampleToken } from "./sampling.ts";

export interface GenerateOptions extends SamplingParams {
  maxNewTokens: number;
  /** Token ids that end a sequence (kept in the output). */
  eosTokenIds: number[];
  seed: number;
  /** Return true to stop a row early (stop strings); receives the row's new ids so far. */
  shouldStop?: (row: number, newIds: number[]) => boolean;
  /** Id used for left padding (any valid id; padded slots are masked). */
  padTokenId?: number;
  /** Called after each decode step with the number of finished rows. */
  onStep?: (step: number, finished: number) => void;
}

export interface GenerateResult {
  /** New token ids per row (without the prompt). */
  ids: number[][];
  finishReasons: ("stop" | "length")[];
}

type StepFn = (p: Params, ids: o.Arr, io: any, cache: LayerCache[], place: o.Arr) => [o.Arr, LayerCache[]];

/** Jitted prefill/decode function, one per model config (parameters are inputs, not constants). */
const compiled = new WeakMap<ModelConfig, StepFn>();

function stepFn(c: ModelConfig): StepFn {
  let f = compiled.get(c);
  if (!f) {
    f = compile((pp: Params, ids: o.Arr, io: any, cache: LayerCache[], place: o.Arr) =>
      tidy(() => {
        const out = forward(pp, c, ids, io, { cache: { layers: cache, place } });
        const T = ids.shape[1];
        return [o.slice(out.logits, null, T - 1, null), out.cache!] as [o.Arr, LayerCache[]];
      }),
    ) as unknown as StepFn;
    compiled.set(c, f);
  }
  return f;
}

function placement(slots: number[], tmax: number): o.Arr {
  const m = new Float32Array(slots.length * tmax);
  slots.forEach((s, j) => {
    m[j * tmax + s] = 1;
  });
  return o.fromArray(m, [slots.length, tmax]);
}

export async function generate(p: Params, c: ModelConfig, prompts: number[][], opts: GenerateOptions): Promise<GenerateResult> {
  const B0 = prompts.length;
  const P = Math.max(...prompts.map((x) => x.length));
  if (P === 0) throw new Error("generate: every prompt needs at least one token");
  const tmax = P + opts.maxNewTokens;
  const pad = opts.padTokenId ?? 0;
  const step = stepFn(c);
  const eos = new Set(opts.eosTokenIds);
  const rngs = prompts.map((_, i) => Rng.stream(opts.seed, `sample/${i}`));
  const newIds: number[][] = prompts.map(() => []);
  const reasons: ("stop" | "length")[] = prompts.map(() => "length");
  const finished = prompts.map(() => false);
  // Rows still in the batch, in batch order, with their left-padding.
  let rows = prompts.map((_, i) => i);
  const padOf = prompts.map((x) => P - x.length);
  const V = c.vocabSize;

  // Prefill all prompts.
  const ids = prompts.flatMap((x, i) => [...Array(padOf[i]).fill(pad), ...x]);
  const slotsP = Array.from({ length: P }, (_, t) => t);
  const io = attnInputs(c, {
    positions: rows.map((i) => slotsP.map((t) => Math.max(0, t - padOf[i]))),
    qSlots: rows.map(() => slotsP),
    keyValid: rows.map((i) => Array.from({ length: tmax }, (_, s) => s >= padOf[i] && s < P)),
  });
  let cache = emptyCache(c, B0, tmax);
  let [logits, nextCache] = step(refParams(p), o.fromArray(ids, [B0, P], "int32"), io, cache, placement(slotsP, tmax));
  cache = nextCache;

  for (let t = 0; t < opts.maxNewTokens; t++) {
    const host = await logits.data();
    const tokens: number[] = [];
    const stillActive: number[] = [];
    rows.forEach((row, j) => {
      if (finished[row]) {
        tokens.push(pad); // a finished row still in the batch: feed padding, keep nothing
        return;
      }
      const tok = sampleToken(host, j * V, V, opts, rngs[row]);
      newIds[row].push(tok);
      tokens.push(tok);
      const done = eos.has(tok) || (opts.shouldStop?.(row, newIds[row]) ?? false);
      if (done) {
        reasons[row] = "stop";
        finished[row] = true;
      } else stillActive.push(j);
    });
    opts.onStep?.(t, B0 - stillActive.length);
    if (stillActive.length === 0 || t === opts.maxNewTokens - 1) break;
    // Shrink the batch when at most half of it is still running.
    let feed = tokens;
    if (stillActive.length <= rows.length / 2) {
      const keepIdx = o.fromArray(stillActive, [stillActive.length], "int32");
      const shrunk = tidy(() => cache.map((layer) => Object.fromEntries(Object.entries(layer).map(([k, a]) => [k, o.take(a, keepIdx, 0)]))));
      for (const layer of cache) for (const a of Object.values(layer)) a.dispose();
      keepIdx.dispose();
      cache = shrunk;
      feed = stillActive.map((j) => tokens[j]);
      rows = stillActive.map((j) => rows[j]);
    }
    const slot = P + t;
    const stepIo = attnInputs(c, {
      positions: rows.map((i) => [slot - padOf[i]]),
      qSlots: rows.map(() => [slot]),
      keyValid: rows.map((i) => Array.from({ length: tmax }, (_, s) => s >= padOf[i] && s <= slot)),
    });
    [logits, nextCache] = step(refParams(p), o.fromArray(feed, [rows.length, 1], "int32"), stepIo, cache, placement([slot], tmax));
    cache = nextCache;
  }
  for (const layer of cache) for (const a of Object.values(layer)) a.dispose();
  return { ids: newIds, finishReasons: reasons };
}

