// Batched generation with a fixed-size KV cache. Prompts are left-padded to one length P; the
// cache holds P + maxNewTokens slots. One jitted prefill writes the prompts, then one jitted decode
// step per token writes one slot and returns the next logits, so each shape compiles once.
// Sampling, stopping and dropping finished rows are the shared decode loop (decode-loop.ts).
// Where the cache lives follows the executor: on `ort` (CPU) it is in host buffers (host-cache.ts),
// the compiled step returns only the new rows and they are written into their slots in place; on
// WebGPU it stays on the device; on `jax` the step returns the rewritten cache as jax-js arrays.
import { compile } from "../engine/compile.ts";
import * as o from "../engine/ops.ts";
import { isDeviceTensor } from "../engine/ort/device-tensors.ts";
import { onWebGpu, residentCopy } from "../engine/ort/resident.ts";
import { type Params, disposeParams, refParams, residentState } from "../engine/params.ts";
import { tidy } from "../engine/scope.ts";
import type { ModelConfig } from "../model/config.ts";
import { type LayerCache, emptyCache } from "../model/kv-cache.ts";
import { forward } from "../model/transformer.ts";
import { decodeLoop } from "./decode-loop.ts";
import { hostCache, keepRows, writeRows } from "./host-cache.ts";
import type { SamplingParams } from "./sampling.ts";
import { type StepInputs, ropeTable, stepInputs } from "./step-inputs.ts";

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

/**
 * Jitted prefill/decode function, one per model config and cache form (parameters are inputs, not
 * constants). `rows`: return each layer's new cache rows (host cache) instead of the whole cache.
 */
const compiled = { whole: new WeakMap<ModelConfig, StepFn>(), rows: new WeakMap<ModelConfig, StepFn>() };

function stepFn(c: ModelConfig, rows: boolean): StepFn {
  const cache = rows ? compiled.rows : compiled.whole;
  let f = cache.get(c);
  if (!f) {
    f = compile(
      (pp: Params, ids: o.Arr, io: any, layers: LayerCache[], place: o.Arr) =>
        tidy(() => {
          const out = forward(pp, c, ids, io, { cache: { layers, place } });
          const T = ids.shape[1];
          const next = rows ? out.cacheRows! : out.cache!;
          return [o.slice(out.logits, null, T - 1, null), next] as [o.Arr, LayerCache[]];
        }),
      // On WebGPU the KV cache stays on the device.
      { name: rows ? "generate step (cache rows)" : "generate step", deviceOutputs: [1] },
    ) as unknown as StepFn;
    cache.set(c, f);
  }
  return f;
}

type ShrinkFn = (cache: LayerCache[], keep: o.Arr) => [LayerCache[]];
let shrinkOnDevice: ShrinkFn | null = null;

/** Keep rows `keep` of every cache tensor; compiled when the cache lives on the WebGPU device. */
function shrinkCache(cache: LayerCache[], keep: number[]): LayerCache[] {
  const keepIdx = o.fromArray(keep, [keep.length], "int32");
  const take = (c: LayerCache[], idx: o.Arr) =>
    c.map((layer) => Object.fromEntries(Object.entries(layer).map(([k, a]) => [k, o.take(a, idx, 0)])));
  if (isDeviceTensor(Object.values(cache[0])[0])) {
    shrinkOnDevice ??= compile((c: LayerCache[], idx: o.Arr) => [take(c, idx)], {
      name: "cache shrink",
      deviceOutputs: [0],
    }) as unknown as ShrinkFn;
    return shrinkOnDevice(cache, keepIdx)[0]; // consumes the old cache and the indices
  }
  const shrunk = tidy(() => take(cache, keepIdx));
  for (const layer of cache) for (const a of Object.values(layer)) a.dispose();
  keepIdx.dispose();
  return shrunk;
}

/** The first row of each distinct prompt, and for every row the index of its prompt among them. */
function distinctPrompts(prompts: number[][]): { first: number[]; of: number[] } {
  const index = new Map<string, number>();
  const first: number[] = [];
  const of = prompts.map((x, r) => {
    const key = x.join(",");
    let j = index.get(key);
    if (j === undefined) {
      j = first.length;
      index.set(key, j);
      first.push(r);
    }
    return j;
  });
  return { first, of };
}

export async function generate(
  p: Params,
  c: ModelConfig,
  prompts: number[][],
  opts: GenerateOptions,
): Promise<GenerateResult> {
  const B0 = prompts.length;
  const P = Math.max(...prompts.map((x) => x.length));
  if (P === 0) throw new Error("generate: every prompt needs at least one token");
  const tmax = P + opts.maxNewTokens;
  const pad = opts.padTokenId ?? 0;
  const inPlace = residentState() && !onWebGpu();
  const step = stepFn(c, inPlace);
  const padOf = prompts.map((x) => P - x.length);
  let cache: LayerCache[] = inPlace
    ? (hostCache(c, B0, tmax) as unknown as LayerCache[])
    : emptyCache(c, B0, tmax);
  const weights = residentCopy(p); // on WebGPU: uploaded once, not at every step
  const rope = ropeTable(c, tmax);
  const run = async ({ ids, io, place }: StepInputs, slot0: number): Promise<Float32Array> => {
    // The host cache is an input the step only reads (its references stay with `cache`).
    const [logits, next] = step(refParams(weights), ids, io, inPlace ? refParams(cache) : cache, place);
    if (inPlace) writeRows(cache as never, next, slot0);
    else cache = next;
    return (await logits.data()) as Float32Array;
  };
  return decodeLoop(B0, opts, {
    vocab: c.vocabSize,
    prefill: async () => {
      const { first, of } = distinctPrompts(prompts);
      const padded = (i: number) => [...Array(padOf[i]).fill(pad), ...prompts[i]];
      if (!inPlace || first.length === B0)
        return run(
          stepInputs(
            rope,
            prompts.flatMap((_, i) => padded(i)),
            padOf,
            0,
            P,
            tmax,
          ),
          0,
        );
      // Rows with the same prompt (k samples of a problem, G generations of a GRPO prompt) share
      // one prefill: the distinct prompts run (over an empty cache of their own), and each row's
      // cache rows and first logits are copied from its prompt's. A row's values depend on that row
      // alone (products, norms and attention are per row; MoE's per-expert GEMMs see fewer rows,
      // which changes no row's order of summation in onnxruntime's kernels), so the tokens are
      // the ones a prefill of every row gives.
      const { ids, io, place } = stepInputs(
        rope,
        first.flatMap(padded),
        first.map((i) => padOf[i]),
        0,
        P,
        tmax,
      );
      const empty = hostCache(c, first.length, tmax) as unknown as LayerCache[];
      const [logits, next] = step(refParams(weights), ids, io, empty, place);
      writeRows(cache as never, next, 0, of);
      const l = (await logits.data()) as Float32Array;
      const V = c.vocabSize;
      const out = new Float32Array(B0 * V);
      for (const [r, j] of of.entries()) out.set(l.subarray(j * V, (j + 1) * V), r * V);
      return out;
    },
    next: (tokens, keep, _before, rows, t) => {
      let feed = tokens;
      if (keep) {
        // Shrink the batch: keep the running rows of each layer's cache.
        cache = inPlace
          ? (keepRows(cache as never, keep) as unknown as LayerCache[])
          : shrinkCache(cache, keep);
        feed = keep.map((j) => tokens[j]);
      }
      const slot = P + t;
      const pads = rows.map((i) => padOf[i]);
      return run(stepInputs(rope, feed, pads, slot, 1, tmax), slot);
    },
    done: () => {
      for (const layer of cache) for (const a of Object.values(layer)) a.dispose();
      disposeParams(weights);
    },
  });
}
