// Attention for one decode step over a fixed-size KV cache, without reading the rewritten cache.
// A decode step writes the new token's key/value into the cache (kv-cache.ts) and then attends over
// it. Under jit, attending over the *written* cache fuses the write (buf * keep + place * x) into
// every multiply-add of the attention kernels. Here the step attends over the cache as it was
// (the slot being written is masked out: it holds nothing yet) and adds the new token's own term,
// with one shared softmax normaliser:
//   s_old = q K_old^T * scale + mask - inf * place      [B, H, 1, S]
//   s_new = (q . k_new) * scale                          [B, H, 1, 1]
//   out   = (exp(s_old - m) V_old + exp(s_new - m) v_new) / (sum exp(s_old - m) + exp(s_new - m))
// with m = max(max(s_old), s_new). This equals softmax attention over the written cache. MLA (mla.ts)
// uses the same split for its absorbed attention over the latent cache.
import {
  type Arr,
  add,
  div,
  exp,
  matmul,
  max,
  maximum,
  mul,
  reshape,
  sub,
  sum,
  swapaxes,
} from "../engine/ops.ts";

const MASKED = -1e9;

/**
 * Softmax weights of one decode step, split into the old cache's slots and the new token.
 * sOld: [B, H, 1, S] scores over the old cache with the additive mask already added (the new slot
 * counted as valid); sNew: [B, H, 1, 1] the new token's score; place: [1, S] one-hot on the new slot
 * (or [B, 1, S], one slot per row).
 * Returns pOld [B, H, 1, S] and pNew [B, H, 1, 1], which together sum to one.
 */
export function decodeWeights(sOld: Arr, sNew: Arr, place: Arr): { pOld: Arr; pNew: Arr } {
  const S = place.shape[place.ndim - 1];
  const rows = place.ndim === 3 ? place.shape[0] : 1;
  const masked = add(sOld, mul(reshape(place, [rows, 1, 1, S]), MASKED));
  const m = maximum(max(masked, -1, { keepdims: true }), sNew);
  const eOld = exp(sub(masked, m));
  const eNew = exp(sub(sNew, m));
  const den = add(sum(eOld, -1, { keepdims: true }), eNew);
  return { pOld: div(eOld, den), pNew: div(eNew, den) };
}

/**
 * Multi-head attention of one decode step. q: [B, H, 1, d]; kOld: [B, H, S, d] and vOld: [B, H, S, dv],
 * the cache before this step; kNew: [B, H, 1, d] and vNew: [B, H, 1, dv], the new token's; mask:
 * [B, 1, 1, S] additive (0 / -1e9); place: [1, S] or [B, 1, S]. -> [B, H, 1, dv].
 */
export function sdpaDecode(
  q: Arr,
  kOld: Arr,
  vOld: Arr,
  kNew: Arr,
  vNew: Arr,
  mask: Arr,
  place: Arr,
  scale: number,
): Arr {
  const sOld = add(mul(matmul(q, swapaxes(kOld, -1, -2)), scale), mask);
  const sNew = mul(sum(mul(q, kNew), -1, { keepdims: true }), scale);
  const { pOld, pNew } = decodeWeights(sOld, sNew, place);
  return add(matmul(pOld, vOld), mul(pNew, vNew));
}
