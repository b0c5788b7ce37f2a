// The model a server holds: weights (optionally quantised, quantize.ts), config, tokenizer and
// chat template (the native backend's codec, so prompts become exactly the ids `r1lab eval
// --backend native` would feed), sampling defaults from generation_config.json, and the name
// clients address it by. Also the prompt encoding of one API request.
import { modelCodec } from "../backends/native.ts";
import { type Codec, encodeRequest } from "../backends/token-rows.ts";
import type { Params } from "../engine/params.ts";
import type { SamplingParams } from "../generate/sampling.ts";
import { loadModel } from "../hf/checkpoint.ts";
import { samplingParams } from "../hf/generation-config.ts";
import type { ModelConfig } from "../model/config.ts";
import { ApiError, type PromptIn } from "./protocol.ts";
import { type QuantizeMode, quantizeParams, type QuantReport } from "../model/quantize.ts";

export interface ServedModel {
  /** The id in GET /v1/models, which requests must name. */
  name: string;
  dir: string;
  config: ModelConfig;
  params: Params;
  codec: Codec;
  /** r1lab's character-tokenizer models were trained on [BOS] + text: plain prompts get the BOS. */
  bosPrefix: boolean;
  defaults: SamplingParams;
  quant: QuantReport | null;
}

export interface LoadServedOptions {
  model: string;
  name?: string;
  revision?: string;
  quantize?: QuantizeMode;
  /** int4 block size along the input dimension (32 or 128). */
  groupSize?: number;
}

/** Load a model folder (or `org/name` from the HF cache) for serving. */
export async function loadServedModel(o: LoadServedOptions): Promise<ServedModel> {
  const m = await loadModel(o.model, { revision: o.revision });
  const codec = modelCodec(m);
  let params = m.params;
  let quant: QuantReport | null = null;
  if (o.quantize && o.quantize !== "none") {
    const q = await quantizeParams(params, { mode: o.quantize, groupSize: o.groupSize ?? 32 });
    params = q.params;
    quant = q.report;
  }
  return {
    name: o.name ?? o.model,
    dir: m.dir,
    config: m.config,
    params,
    codec,
    bosPrefix: codec.chars,
    defaults: samplingParams(m.generation),
    quant,
  };
}

/** The prompt ids of one API prompt; errors are 400s naming the field. */
export function encodePrompt(
  m: ServedModel,
  p: PromptIn,
  templateKwargs: Record<string, unknown> | null,
): number[] {
  if ("ids" in p) return p.ids;
  try {
    if ("messages" in p && m.codec.chat && templateKwargs)
      return m.codec.chat.encodeChat(
        p.messages.map((x) => ({ ...x })),
        { addGenerationPrompt: true, extra: templateKwargs },
      );
    const req = "messages" in p ? { messages: p.messages } : { prompt: p.text };
    return encodeRequest("server", m.codec, m.bosPrefix, req);
  } catch (e) {
    throw new ApiError(400, (e as Error).message, "messages" in p ? "messages" : "prompt");
  }
}
