// What quantising a model's weights costs, measured against its float32 self on one text:
//   logits     max |Δ| and RMS(Δ) / RMS(fp32 logits) over every position of the text
//   perplexity exp(mean NLL of each next token of the text), fp32 vs quantised
//   agreement  teacher-forced argmax agreement (same next-token choice at each position), and how
//              many tokens of a greedy continuation stay identical before the first difference
//   memory     bytes of all weights (float32: 4 per value; packed codes + scales + zero points)
// Used by scripts/quant-error.ts (the table in docs/serving.md) and the quantisation tests.
import * as o from "../engine/ops.ts";
import { disposeParams, type Params, toHost } from "../engine/params.ts";
import { tidy } from "../engine/scope.ts";
import { generate } from "../generate/generate.ts";
import { GREEDY } from "../generate/sampling.ts";
import { loadModel } from "../hf/checkpoint.ts";
import type { ModelConfig } from "../model/config.ts";
import { causalInputs } from "../model/inputs.ts";
import { type QuantizeMode, quantizeParams } from "../model/quantize.ts";
import { forward } from "../model/transformer.ts";

export interface QuantErrorRow {
  scheme: string;
  weightBytes: number;
  /** The quantised (linear-layer) weights alone, and their float32 size. */
  linearBytes: number;
  linearBytesF32: number;
  /** Projection weights quantised, and left float32 because their input size is not a multiple of the block. */
  quantized: number;
  skipped: number;
  logitsMaxAbs: number;
  logitsRelRms: number;
  perplexity: number;
  argmaxAgreement: number;
  greedySame: number;
  greedyOf: number;
}

async function logitsOf(p: Params, c: ModelConfig, ids: number[]): Promise<Float32Array> {
  const T = ids.length;
  const out = tidy(() => forward(p, c, o.fromArray(ids, [1, T], "int32"), causalInputs(c, 1, T)).logits);
  const host = (await toHost(out)) as Float32Array;
  out.dispose();
  return host;
}

function perplexity(logits: Float32Array, ids: number[], V: number): number {
  let nll = 0;
  for (let t = 0; t + 1 < ids.length; t++) {
    let m = -Infinity;
    for (let v = 0; v < V; v++) m = Math.max(m, logits[t * V + v]);
    let s = 0;
    for (let v = 0; v < V; v++) s += Math.exp(logits[t * V + v] - m);
    nll += m + Math.log(s) - logits[t * V + ids[t + 1]];
  }
  return Math.exp(nll / (ids.length - 1));
}

function argmaxRow(a: Float32Array, off: number, V: number): number {
  let best = 0;
  for (let v = 1; v < V; v++) if (a[off + v] > a[off + best]) best = v;
  return best;
}

/**
 * Measure each scheme on `ids` (the text's token ids, at most the model's positions) and a greedy
 * continuation of `greedyTokens` after its first `promptTokens` ids.
 */
export async function measureQuantError(
  model: string,
  ids: number[],
  schemes: { mode: QuantizeMode; groupSize?: number }[],
  o2: { promptTokens?: number; greedyTokens?: number } = {},
): Promise<QuantErrorRow[]> {
  const base = await loadModel(model);
  const c = base.config;
  const V = c.vocabSize;
  const text = ids.slice(0, c.maxPositionEmbeddings);
  const prompt = text.slice(0, o2.promptTokens ?? 16);
  const G = Math.min(o2.greedyTokens ?? 32, c.maxPositionEmbeddings - prompt.length);
  const ref = await logitsOf(base.params, c, text);
  const refGreedy = (
    await generate(base.params, c, [prompt], { ...GREEDY, maxNewTokens: G, eosTokenIds: [], seed: 0 })
  ).ids[0];
  const rows: QuantErrorRow[] = [];
  for (const s of schemes) {
    // Each scheme quantises a fresh copy (quantizeParams frees the float32 arrays it replaces).
    const m = s.mode === "none" ? base : await loadModel(model);
    const q = await quantizeParams(m.params, { mode: s.mode, groupSize: s.groupSize });
    const got = await logitsOf(q.params, c, text);
    let maxAbs = 0;
    let se = 0;
    let sr = 0;
    for (let i = 0; i < ref.length; i++) {
      const d = got[i] - ref[i];
      maxAbs = Math.max(maxAbs, Math.abs(d));
      se += d * d;
      sr += ref[i] * ref[i];
    }
    let agree = 0;
    for (let t = 0; t < text.length; t++) if (argmaxRow(got, t * V, V) === argmaxRow(ref, t * V, V)) agree++;
    const greedy = (
      await generate(q.params, c, [prompt], { ...GREEDY, maxNewTokens: G, eosTokenIds: [], seed: 0 })
    ).ids[0];
    let same = 0;
    while (same < G && greedy[same] === refGreedy[same]) same++;
    rows.push({
      scheme: s.mode === "int4" ? `int4 g${s.groupSize ?? 32}` : s.mode === "none" ? "float32" : s.mode,
      weightBytes: q.report.bytesAfter,
      linearBytes: q.report.linearBytesAfter,
      linearBytesF32: q.report.linearBytesBefore,
      quantized: q.report.quantized,
      skipped: q.report.skipped.length,
      logitsMaxAbs: maxAbs,
      logitsRelRms: Math.sqrt(se / sr),
      perplexity: perplexity(got, text, V),
      argmaxAgreement: agree / text.length,
      greedySame: same,
      greedyOf: G,
    });
    if (s.mode !== "none") disposeParams(q.params);
  }
  disposeParams(base.params);
  return rows;
}

/** The rows as a markdown table. */
export function quantErrorTable(rows: QuantErrorRow[]): string {
  const kib = (b: number) => `${(b / 1024).toFixed(0)} KiB`;
  const f32 = rows.find((r) => r.scheme === "float32");
  const head =
    "| weights | all weights | quantised weights | their size | logits max abs err | logits rel RMS err | perplexity | argmax agreement | greedy tokens identical |";
  const lines = rows.map(
    (r) =>
      `| ${r.scheme} | ${kib(r.weightBytes)}${f32 && r !== f32 ? ` (${(f32.weightBytes / r.weightBytes).toFixed(2)}x smaller)` : ""} | ${r.quantized} of ${r.quantized + r.skipped} | ${r.linearBytesF32 ? `${kib(r.linearBytes)} (${(r.linearBytesF32 / r.linearBytes).toFixed(2)}x smaller)` : "float32"} | ${r.logitsMaxAbs.toExponential(2)} | ${(100 * r.logitsRelRms).toFixed(3)}% | ${r.perplexity.toFixed(3)} | ${(100 * r.argmaxAgreement).toFixed(1)}% | ${r.greedySame} of ${r.greedyOf} |`,
  );
  return [head, "|---|---|---|---|---|---|---|---|---|", ...lines].join("\n");
}
