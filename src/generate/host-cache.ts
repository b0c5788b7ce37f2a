// The KV cache in host buffers, written in place (the ORT executor's generation cache). Each layer
// holds resident tensors (engine/resident.ts) laid out as kv-cache.ts describes, time on the
// second-to-last axis: { k, v: [B, Hkv, Tmax, hd] } or MLA's { ckv: [B, Tmax, R], kRope: [B, Tmax, rope] }.
// A compiled step reads the cache as an input (no copy) and returns only its new rows
// ([..., Tnew, d]); writeRows copies them into their slots. A decode step therefore moves
// B * layers * row bytes, not the whole cache. keepRows compacts the batch in place when finished
// rows leave it.
import { ResidentTensor, residentZeros } from "../engine/resident.ts";
import type { ModelConfig } from "../model/config.ts";
import { usesMla } from "../model/config.ts";
import type { LayerCache } from "../model/kv-cache.ts";

type HostLayer = Record<string, ResidentTensor>;

/** A zeroed cache for `batch` rows of `tmax` slots. */
export function hostCache(c: ModelConfig, batch: number, tmax: number): HostLayer[] {
  return Array.from(
    { length: c.numHiddenLayers },
    (): HostLayer =>
      usesMla(c)
        ? {
            ckv: residentZeros([batch, tmax, c.kvLoraRank]),
            kRope: residentZeros([batch, tmax, c.qkRopeHeadDim]),
          }
        : {
            k: residentZeros([batch, c.numKeyValueHeads, tmax, c.headDim]),
            v: residentZeros([batch, c.numKeyValueHeads, tmax, c.headDim]),
          },
  );
}

/**
 * Write each layer's new rows [..., Tnew, d] into slots slot0 .. slot0 + Tnew - 1. With `rowOf`,
 * batch row b of the cache takes row rowOf[b] of the new rows (prompts shared by several rows).
 */
export function writeRows(cache: HostLayer[], rows: LayerCache[], slot0: number, rowOf?: number[]): void {
  cache.forEach((layer, i) => {
    for (const [name, buf] of Object.entries(layer)) {
      const r = rows[i][name] as unknown as ResidentTensor;
      const d = buf.shape[buf.ndim - 1];
      const tmax = buf.shape[buf.ndim - 2];
      const tnew = r.shape[r.ndim - 2];
      if (slot0 + tnew > tmax) throw new Error(`KV cache: slots ${slot0}..${slot0 + tnew - 1} past ${tmax}`);
      const outer = buf.size / (tmax * d);
      const per = outer / buf.shape[0]; // per batch row (heads)
      const srcRows = r.shape[0];
      const fits = rowOf
        ? rowOf.length === buf.shape[0] && rowOf.every((j) => j >= 0 && j < srcRows)
        : srcRows === buf.shape[0];
      if (!fits || r.size !== srcRows * per * tnew * d)
        throw new Error(
          `KV cache: rows [${r.shape.join(", ")}] do not fit layer ${i} ${name} [${buf.shape}]`,
        );
      const src = r.host;
      for (let o = 0; o < outer; o++) {
        const so = rowOf ? rowOf[Math.floor(o / per)] * per + (o % per) : o;
        buf.host.set(src.subarray(so * tnew * d, (so + 1) * tnew * d), (o * tmax + slot0) * d);
      }
    }
  });
}

/** Keep batch rows `keep` (ascending indexes), compacted to the front of the same buffers. */
export function keepRows(cache: HostLayer[], keep: number[]): HostLayer[] {
  return cache.map((layer) => {
    const out: HostLayer = {};
    for (const [name, buf] of Object.entries(layer)) {
      const per = buf.size / buf.shape[0];
      keep.forEach((j, i) => {
        if (i !== j) buf.host.copyWithin(i * per, j * per, (j + 1) * per);
      });
      out[name] = new ResidentTensor(
        buf.host.subarray(0, keep.length * per),
        [keep.length, ...buf.shape.slice(1)],
        buf.dtype,
      );
    }
    return out;
  });
}
