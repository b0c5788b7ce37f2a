// Multi-head Latent Attention (DeepSeek-V2 §2.1, DeepSeek-V3 §2.1.1).
//   queries:  c^Q = W^{DQ} h (q_a_proj) -> RMSNorm -> q = W^{UQ} c^Q (q_b_proj)       (or q_proj if no q_lora_rank)
//             q per head = [q^C (qkNopeHeadDim) ; q^R (qkRopeHeadDim, RoPE)]
//   keys/values: [c^KV ; k^R] = W^{DKV} h (kv_a_proj_with_mqa); c^KV: kvLoraRank latent -> RMSNorm;
//             [k^C ; v] per head = W^{UKV} c^KV (kv_b_proj); k^R gets RoPE and is shared by all heads.
// Training/prefill computes full per-head keys and values. Cached decoding keeps only c^KV and k^R
// per token and "absorbs" W^{UK} into the query and W^{UV} into the output:
//   score_h = (q^C_h W^{UK}_h) . c^KV + q^R_h . k^R,   out_h = (softmax . c^KV) W^{UV}_h^T
import {
  type Arr,
  add,
  broadcastTo,
  concat,
  einsum,
  mul,
  reshape,
  slice,
  softmax,
  transpose,
} from "../engine/ops.ts";
import type { Params } from "../engine/params.ts";
import type { AttnInputs } from "./attention.ts";
import { sdpa } from "./attention.ts";
import { decodeWeights } from "./decode-attention.ts";
import type { ModelConfig } from "./config.ts";
import { type LayerCache, writeCache } from "./kv-cache.ts";
import { linear } from "./linear.ts";
import { rmsNorm } from "./norm.ts";
import { weightOf } from "./quantize.ts";
import { applyRope, mlaSoftmaxScale } from "./rope.ts";

export function mla(
  p: Params,
  prefix: string,
  c: ModelConfig,
  x: Arr,
  io: AttnInputs,
  cache?: { layer: LayerCache; writeMask: Arr },
): { out: Arr; cache?: LayerCache; rows?: LayerCache } {
  const [B, T] = x.shape;
  const H = c.numAttentionHeads;
  const nope = c.qkNopeHeadDim;
  const rope = c.qkRopeHeadDim;
  const R = c.kvLoraRank;
  const w = (n: string) => p[`${prefix}.${n}`];
  // Queries: [B, H, T, nope + rope]
  const qFlat =
    c.qLoraRank !== null
      ? linear(
          rmsNorm(linear(x, w("q_a_proj.weight")), w("q_a_layernorm.weight"), c.rmsNormEps),
          w("q_b_proj.weight"),
        )
      : linear(x, w("q_proj.weight"));
  const q = transpose(reshape(qFlat, [B, T, H, nope + rope]), [0, 2, 1, 3]);
  const qNope = slice(q, null, null, null, [0, nope]);
  const qRope = applyRope(slice(q, null, null, null, [nope, nope + rope]), io.cos, io.sin, c.ropeInterleave);
  // Latent and shared RoPE key: [B, T, R], [B, 1, T, rope]
  const kvA = linear(x, w("kv_a_proj_with_mqa.weight"));
  const ckv = rmsNorm(slice(kvA, null, null, [0, R]), w("kv_a_layernorm.weight"), c.rmsNormEps);
  const kRope = applyRope(
    reshape(slice(kvA, null, null, [R, R + rope]), [B, 1, T, rope]),
    io.cos,
    io.sin,
    c.ropeInterleave,
  );
  const scale = mlaSoftmaxScale(c);
  const outProj = (o: Arr) =>
    linear(reshape(transpose(o, [0, 2, 1, 3]), [B, T, H * c.vHeadDim]), w("o_proj.weight"));

  if (!cache) {
    // Full keys/values per head from the latent.
    const kv = transpose(
      reshape(linear(ckv, w("kv_b_proj.weight")), [B, T, H, nope + c.vHeadDim]),
      [0, 2, 1, 3],
    );
    const kNope = slice(kv, null, null, null, [0, nope]);
    const v = slice(kv, null, null, null, [nope, nope + c.vHeadDim]);
    const k = concat([kNope, broadcastTo(kRope, [B, H, T, rope])], -1);
    const qFull = concat([qNope, qRope], -1);
    return { out: outProj(sdpa(qFull, k, v, io.mask, scale)) };
  }
  // Absorbed attention over the cached latent.
  const rows: LayerCache = { ckv, kRope: reshape(kRope, [B, T, rope]) };
  const layer: LayerCache = {
    ckv: writeCache(cache.layer.ckv, rows.ckv, cache.writeMask),
    kRope: writeCache(cache.layer.kRope, rows.kRope, cache.writeMask),
  };
  const wkvb = reshape(weightOf(w("kv_b_proj.weight")), [H, nope + c.vHeadDim, R]);
  const wUK = slice(wkvb, null, [0, nope], null); // [H, nope, R]
  const wUV = slice(wkvb, null, [nope, nope + c.vHeadDim], null); // [H, v, R]
  const qLatent = einsum("bhtn,hnr->bhtr", qNope, wUK);
  const latentScores = (ckvS: Arr, kRopeS: Arr) =>
    mul(add(einsum("bhtr,bsr->bhts", qLatent, ckvS), einsum("bhtd,bsd->bhts", qRope, kRopeS)), scale);
  let oLatent: Arr;
  if (T === 1) {
    // Decode step: the old latent cache plus the new token (decode-attention.ts).
    const { pOld, pNew } = decodeWeights(
      add(latentScores(cache.layer.ckv, cache.layer.kRope), io.mask),
      latentScores(ckv, reshape(kRope, [B, 1, rope])),
      cache.writeMask,
    );
    oLatent = add(einsum("bhts,bsr->bhtr", pOld, cache.layer.ckv), einsum("bhts,bsr->bhtr", pNew, ckv));
  } else
    oLatent = einsum(
      "bhts,bsr->bhtr",
      softmax(add(latentScores(layer.ckv, layer.kRope), io.mask), -1),
      layer.ckv,
    );
  const o = einsum("bhtr,hvr->bhtv", oLatent, wUV);
  return { out: outProj(o), cache: layer, rows };
}
