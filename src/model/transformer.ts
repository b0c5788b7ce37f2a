// The r1lab decoder: one config-driven stack for Qwen2/Llama (GQA attention + SwiGLU) and
// DeepSeek-V3 (MLA + DeepSeekMoE after the first firstKDenseReplace layers, + MTP modules).
//   h0 = Emb(ids);  h_{l+1} = h_l + Attn(RMSNorm(h_l)) ;  h_{l+1} += FFN(RMSNorm(h_{l+1}))
//   logits = Head(RMSNorm(h_L))                                          ids: [B, T] -> [B, T, V]
// MTP module k (DeepSeek-V3 §2.2): h^k_i = Block_k( W_k [RMSNorm(h^{k-1}_i) ; RMSNorm(Emb(t_{i+k}))] ),
// logits^k_i = Head(RMSNorm(h^k_i)) predicts t_{i+k+1}; Emb and Head are shared with the main model.
// Parameters use Hugging Face names; MTP modules are stored as layers numHiddenLayers + k - 1 with
// DeepSeek's released names (enorm, hnorm, eh_proj, shared_head.norm).
import { type Arr, add, concat, linear, slice, take, zeros } from "../engine/ops.ts";
import type { Params } from "../engine/params.ts";
import { type AttnInputs, attention } from "./attention.ts";
import { type ModelConfig, isMoeLayer, usesMla } from "./config.ts";
import type { LayerCache } from "./kv-cache.ts";
import { mla } from "./mla.ts";
import { swiglu } from "./mlp.ts";
import { moe } from "./moe.ts";
import { rmsNorm } from "./norm.ts";

export interface ForwardOptions {
  /** Fixed-size caches and the placement of this call's tokens in them (kv-cache.ts). */
  cache?: { layers: LayerCache[]; place: Arr };
  /** Run the MTP modules too (training). Needs io for T-1.. positions: see mtpInputs. */
  mtp?: { io: AttnInputs[] };
}

export interface ForwardOutput {
  logits: Arr; // [B, T, V]
  /** Last hidden state before the final norm: [B, T, D]. */
  hidden: Arr;
  /** MTP logits per depth k (1-based index k-1): [B, T-k, V], position i predicts t_{i+k+1}. */
  mtpLogits: Arr[];
  /** Routed-token counts per MoE layer: [E] each. */
  loads: Arr[];
  /** Sum over MoE layers of the sequence-wise balance loss (0 for dense models). */
  balanceLoss: Arr;
  cache?: LayerCache[];
  /** With a cache: each layer's new entries alone ([..., T, d], the cache's layout), for in-place writers. */
  cacheRows?: LayerCache[];
}

export function lmHead(p: Params, c: ModelConfig): Arr {
  return c.tieWordEmbeddings ? p["model.embed_tokens.weight"] : p["lm_head.weight"];
}

/** One decoder block at `prefix` (model.layers.i). */
export function block(
  p: Params,
  prefix: string,
  c: ModelConfig,
  layerIndex: number,
  h: Arr,
  io: AttnInputs,
  cache?: { layer: LayerCache; writeMask: Arr },
): { h: Arr; load?: Arr; balanceLoss?: Arr; cache?: LayerCache; rows?: LayerCache } {
  const attnIn = rmsNorm(h, p[`${prefix}.input_layernorm.weight`], c.rmsNormEps);
  const a = usesMla(c)
    ? mla(p, `${prefix}.self_attn`, c, attnIn, io, cache)
    : attention(p, `${prefix}.self_attn`, c, attnIn, io, cache);
  const h1 = add(h, a.out);
  const ffnIn = rmsNorm(h1, p[`${prefix}.post_attention_layernorm.weight`], c.rmsNormEps);
  if (isMoeLayer(c, layerIndex)) {
    const m = moe(p, `${prefix}.mlp`, c, ffnIn);
    return { h: add(h1, m.out), load: m.load, balanceLoss: m.balanceLoss, cache: a.cache, rows: a.rows };
  }
  return { h: add(h1, swiglu(p, `${prefix}.mlp`, ffnIn)), cache: a.cache, rows: a.rows };
}

/**
 * MTP module k (1-based; stored as layer numHiddenLayers + k - 1). From the previous depth's hidden
 * states `prev` [B, >= T-k, D] (the main model's for k = 1) and the embeddings of the tokens k ahead:
 *   h^k_i = Block_k( W_k [RMSNorm(Emb(t_{i+k})) ; RMSNorm(h^{k-1}_i)] ),  i = 0..T-k-1   -> [B, T-k, D]
 *   logits^k_i = Head(RMSNorm(h^k_i)) predicts t_{i+k+1}                                 -> [B, T-k, V]
 * `ids` [B, T]; `io` the attention inputs for T-k positions (mtpInputs).
 */
export function mtpModule(
  p: Params,
  c: ModelConfig,
  k: number,
  prev: Arr,
  ids: Arr,
  io: AttnInputs,
): { h: Arr; logits: Arr; load?: Arr; balanceLoss?: Arr } {
  const L = c.numHiddenLayers + k - 1;
  const pre = `model.layers.${L}`;
  const T = ids.shape[1];
  const n = T - k; // positions i = 0..T-k-1 have a next token t_{i+k}
  const hPrev = slice(prev, null, [0, n], null);
  const embNext = take(p["model.embed_tokens.weight"], slice(ids, null, [k, T]), 0);
  const merged = linear(
    concat(
      [
        rmsNorm(embNext, p[`${pre}.enorm.weight`], c.rmsNormEps),
        rmsNorm(hPrev, p[`${pre}.hnorm.weight`], c.rmsNormEps),
      ],
      -1,
    ),
    p[`${pre}.eh_proj.weight`],
  );
  const r = block(p, pre, c, L, merged, io);
  return {
    h: r.h,
    logits: linear(rmsNorm(r.h, p[`${pre}.shared_head.norm.weight`], c.rmsNormEps), lmHead(p, c)),
    load: r.load,
    balanceLoss: r.balanceLoss,
  };
}

export function forward(
  p: Params,
  c: ModelConfig,
  ids: Arr,
  io: AttnInputs,
  opts: ForwardOptions = {},
): ForwardOutput {
  let h = take(p["model.embed_tokens.weight"], ids, 0);
  const loads: Arr[] = [];
  let balanceLoss: Arr = zeros([]);
  const newCache: LayerCache[] = [];
  const cacheRows: LayerCache[] = [];
  for (let i = 0; i < c.numHiddenLayers; i++) {
    const layerCache = opts.cache ? { layer: opts.cache.layers[i], writeMask: opts.cache.place } : undefined;
    const r = block(p, `model.layers.${i}`, c, i, h, io, layerCache);
    h = r.h;
    if (r.load) loads.push(r.load);
    if (r.balanceLoss) balanceLoss = add(balanceLoss, r.balanceLoss);
    if (r.cache) newCache.push(r.cache);
    if (r.rows) cacheRows.push(r.rows);
  }
  const head = lmHead(p, c);
  const logits = linear(rmsNorm(h, p["model.norm.weight"], c.rmsNormEps), head);
  const mtpLogits: Arr[] = [];
  if (opts.mtp) {
    let prev = h;
    for (let k = 1; k <= c.numNextnPredictLayers; k++) {
      const m = mtpModule(p, c, k, prev, ids, opts.mtp.io[k - 1]);
      if (m.load) loads.push(m.load);
      if (m.balanceLoss) balanceLoss = add(balanceLoss, m.balanceLoss);
      mtpLogits.push(m.logits);
      prev = m.h;
    }
  }
  return {
    logits,
    hidden: h,
    mtpLogits,
    loads,
    balanceLoss,
    cache: opts.cache ? newCache : undefined,
    cacheRows: opts.cache ? cacheRows : undefined,
  };
}
