// KV caches of fixed size. Each layer keeps buffers whose time axis is the second-to-last one:
//   MHA/GQA: { k: [B, Hkv, Tmax, hd], v: [B, Hkv, Tmax, hd] }
//   MLA:     { ckv: [B, Tmax, kvLoraRank], kRope: [B, Tmax, qkRopeHeadDim] }   (the compressed latent
//            after its RMSNorm, and the one RoPE key shared by all heads: what DeepSeek-V3 caches)
// New entries are written through a placement matrix place: [Tnew, Tmax] (one-hot rows), so the
// same jitted code serves the prompt (Tnew = prompt length) and every decode step (Tnew = 1).
// A decode step may also place each batch row at its own slot, place: [B, 1, Tmax] (the server's
// continuous batching, src/serve/, where each row is a different sequence at its own length).
import { type Arr, add, matmul, mul, reshape, sub, sum, swapaxes, zeros } from "../engine/ops.ts";
import type { ModelConfig } from "./config.ts";
import { usesMla } from "./config.ts";

export type LayerCache = Record<string, Arr>;

/** buf[..., Tmax, d] with rows `place` overwritten by x[..., Tnew, d]. */
export function writeCache(buf: Arr, x: Arr, place: Arr): Arr {
  if (place.ndim === 3) {
    // One new token per row, each at its own slot: [B, 1, Tmax] -> [B, (1,) Tmax, 1] against buf.
    const [B, , S] = place.shape;
    const p = reshape(place, buf.ndim === 4 ? [B, 1, S, 1] : [B, S, 1]);
    return add(mul(buf, sub(1, p)), mul(p, x));
  }
  const tmax = place.shape[1];
  const keep = reshape(sub(1, sum(place, 0)), [tmax, 1]);
  // A decode step (Tnew = 1) scatters by broadcasting, [Tmax, 1] * [..., 1, d]: one fused
  // elementwise pass over the cache, 4x faster than the matmul route on the Wasm backend (bench/).
  const scattered =
    place.shape[0] === 1
      ? mul(reshape(place, [tmax, 1]), x)
      : swapaxes(matmul(swapaxes(x, -1, -2), place), -1, -2);
  return add(mul(buf, keep), scattered);
}

export function emptyCache(c: ModelConfig, batch: number, tmax: number): LayerCache[] {
  const layers: LayerCache[] = [];
  for (let i = 0; i < c.numHiddenLayers; i++) {
    layers.push(
      usesMla(c)
        ? { ckv: zeros([batch, tmax, c.kvLoraRank]), kRope: zeros([batch, tmax, c.qkRopeHeadDim]) }
        : {
            k: zeros([batch, c.numKeyValueHeads, tmax, c.headDim]),
            v: zeros([batch, c.numKeyValueHeads, tmax, c.headDim]),
          },
    );
  }
  return layers;
}

/** Cache bytes per token (float32) summed over layers: MLA's latent cache vs an MHA cache of the same model. */
export function cacheBytesPerToken(c: ModelConfig): { actual: number; mhaEquivalent: number } {
  const L = c.numHiddenLayers;
  if (usesMla(c)) {
    const mla = L * (c.kvLoraRank + c.qkRopeHeadDim) * 4;
    const mha = L * c.numAttentionHeads * (c.qkNopeHeadDim + c.qkRopeHeadDim + c.vHeadDim) * 4;
    return { actual: mla, mhaEquivalent: mha };
  }
  const kv = L * 2 * c.numKeyValueHeads * c.headDim * 4;
  return { actual: kv, mhaEquivalent: L * 2 * c.numAttentionHeads * c.headDim * 4 };
}
