// Multi-head / grouped-query attention (Llama, Qwen2): q/k/v projections (optional bias, Qwen2),
// RoPE on q and k, causal softmax attention, output projection. GQA shares each key/value head
// among numAttentionHeads / numKeyValueHeads query heads.
//   x: [B, T, D] -> [B, T, D]
// With a KV cache (kv-cache.ts) the new keys/values are written at their positions into fixed-size
// buffers [B, Hkv, Tmax, hd], and attention runs over the whole buffer with a mask, so a jitted
// decode step has one shape for the whole generation.
import { type Arr, add, matmul, mul, repeat, reshape, softmax, swapaxes, transpose } from "../engine/ops.ts";
import { sdpaDecode } from "./decode-attention.ts";
import type { Params } from "../engine/params.ts";
import type { ModelConfig } from "./config.ts";
import { type LayerCache, writeCache } from "./kv-cache.ts";
import { linear } from "./linear.ts";
import { applyRope } from "./rope.ts";

export interface AttnInputs {
  /** cos/sin tables broadcastable to [B, 1, T, hd]. */
  cos: Arr;
  sin: Arr;
  /** Additive mask [B or 1, 1, T, S]: 0 where a query may attend, -1e9 elsewhere. */
  mask: Arr;
}

/** softmax(q k^T * scale + mask) v.   q: [B,H,T,d], k: [B,H,S,d], v: [B,H,S,dv] -> [B,H,T,dv]. */
export function sdpa(q: Arr, k: Arr, v: Arr, mask: Arr, scale: number): Arr {
  const scores = add(mul(matmul(q, swapaxes(k, -1, -2)), scale), mask);
  return matmul(softmax(scores, -1), v);
}

export function attention(
  p: Params,
  prefix: string,
  c: ModelConfig,
  x: Arr,
  io: AttnInputs,
  cache?: { layer: LayerCache; writeMask: Arr },
): { out: Arr; cache?: LayerCache; rows?: LayerCache } {
  const [B, T] = x.shape;
  const H = c.numAttentionHeads;
  const Hkv = c.numKeyValueHeads;
  const hd = c.headDim;
  const bias = (n: string) => (c.attentionBias ? p[`${prefix}.${n}.bias`] : undefined);
  // [B, T, H*hd] -> [B, H, T, hd]
  const heads = (y: Arr, n: number) => transpose(reshape(y, [B, T, n, hd]), [0, 2, 1, 3]);
  let q = heads(linear(x, p[`${prefix}.q_proj.weight`], bias("q_proj")), H);
  let k = heads(linear(x, p[`${prefix}.k_proj.weight`], bias("k_proj")), Hkv);
  const v = heads(linear(x, p[`${prefix}.v_proj.weight`], bias("v_proj")), Hkv);
  q = applyRope(q, io.cos, io.sin, false);
  k = applyRope(k, io.cos, io.sin, false);
  const share = (a: Arr) => (Hkv !== H ? repeat(a, H / Hkv, 1) : a);
  const scale = 1 / Math.sqrt(hd);
  const newCache: LayerCache | undefined = cache
    ? { k: writeCache(cache.layer.k, k, cache.writeMask), v: writeCache(cache.layer.v, v, cache.writeMask) }
    : undefined;
  // A decode step attends over the cache as it was plus the new token (decode-attention.ts), so the
  // attention kernels read the cache buffers as they are rather than the rewritten copy.
  const o =
    cache && T === 1
      ? sdpaDecode(
          q,
          share(cache.layer.k),
          share(cache.layer.v),
          share(k),
          share(v),
          io.mask,
          cache.writeMask,
          scale,
        )
      : sdpa(q, share(newCache?.k ?? k), share(newCache?.v ?? v), io.mask, scale);
  const merged = reshape(transpose(o, [0, 2, 1, 3]), [B, T, H * hd]);
  const out = linear(merged, p[`${prefix}.o_proj.weight`], p[`${prefix}.o_proj.bias`]);
  // rows: this call's new cache entries alone, for callers that write them into a host cache in place.
  return { out, cache: newCache, rows: cache ? { k, v } : undefined };
}
