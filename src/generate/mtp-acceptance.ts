// How well the MTP module could serve speculative decoding (DeepSeek-V3 §2.2 reports 85-90%
// acceptance of the second token). With greedy verification, the draft for token i+2 made by MTP
// depth 1 at position i is accepted exactly when it equals the main model's own greedy choice for
// token i+2 (made at position i+1). Measured teacher-forced over given sequences, on the positions
// from `from` onward (e.g. the completion), so no extra decoding is needed. On the `ort` executor
// the forward is a compiled program (onnxruntime, the WebGPU EP with --device webgpu, where the
// trainer's parameters already are); on `jax` it runs eagerly.
import { compile } from "../engine/compile.ts";
import * as o from "../engine/ops.ts";
import { type Params, refParams, residentState, toHost } from "../engine/params.ts";
import { tidy } from "../engine/scope.ts";
import type { ModelConfig } from "../model/config.ts";
import { causalInputs } from "../model/inputs.ts";
import { forward } from "../model/transformer.ts";
import { argmax } from "./sampling.ts";

export interface MtpAcceptance {
  accepted: number;
  drafted: number;
  rate: number;
}

/** The compiled forward per model config (traced once per batch shape). */
const compiled = new WeakMap<ModelConfig, (...a: any[]) => [o.Arr, o.Arr]>();

export async function mtpAcceptance(
  p: Params,
  c: ModelConfig,
  seqs: { ids: number[]; from: number }[],
  padId = 0,
): Promise<MtpAcceptance> {
  if (c.numNextnPredictLayers < 1)
    throw new Error("mtpAcceptance: the model has no MTP module (num_nextn_predict_layers = 0)");
  const T = Math.max(...seqs.map((s) => s.ids.length));
  const B = seqs.length;
  const ids = seqs.flatMap((s) => [...s.ids, ...Array(T - s.ids.length).fill(padId)]);
  const run = (pp: Params, x: o.Arr, io: ReturnType<typeof causalInputs>, mtpIo: typeof io) =>
    tidy(() => {
      const out = forward(pp, c, x, io, { mtp: { io: [mtpIo] } });
      return [out.logits, out.mtpLogits[0]] as [o.Arr, o.Arr];
    });
  const args = () =>
    [o.fromArray(ids, [B, T], "int32"), causalInputs(c, B, T), causalInputs(c, B, T - 1)] as const;
  let f = compiled.get(c);
  if (!f && residentState()) {
    f = compile(run, { name: "MTP acceptance" });
    compiled.set(c, f);
  }
  const [main, mtp] = f ? f(refParams(p), ...args()) : tidy(() => run(p, ...args()));
  const [lm, lt] = [await toHost(main), await toHost(mtp)];
  main.dispose();
  mtp.dispose();
  const V = c.vocabSize;
  let accepted = 0;
  let drafted = 0;
  seqs.forEach((s, b) => {
    // Position i drafts token i+2; needs i+1 < len so that the main model's choice exists.
    for (let i = Math.max(0, s.from - 1); i + 2 < s.ids.length; i++) {
      const draft = argmax(lt, (b * (T - 1) + i) * V, V);
      const target = argmax(lm, (b * T + i + 1) * V, V);
      drafted++;
      if (draft === target) accepted++;
    }
  });
  return { accepted, drafted, rate: drafted ? accepted / drafted : 0 };
}
