// A GenerationBackend over a model r1lab runs itself (jax-js, in this process): an r1lab checkpoint
// or a Hugging Face model folder. Each request becomes token ids: chat messages go through the
// model's chat template with the assistant turn opened (add_generation_prompt), as vLLM does; a
// model without a template gets the message text as plain text; a raw `prompt` is encoded as is.
// All n samples of all requests are flattened into rows and decoded in batches of `batchSize` rows
// with the KV-cached generate(). Generation ends at an EOS id (generation_config.json, config.json
// and the tokenizer, merged) or at a stop string, checked on the decoded text of each row.
//
// r1lab's own R1-Zero checkpoints use a character tokenizer (src/tasks/char-tokenizer.ts) and were
// trained on [BOS] + template(problem): with `bosPrefix` the backend puts the BOS id in front of
// every plain prompt, exactly as src/rl/rollout.ts does.
//
// Seeds: batch b of a generate() call samples with seed + b (each row of a batch has its own stream),
// so the same requests with the same batch size give the same completions.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { disposeParams, type Params } from "../engine/params.ts";
import { generate } from "../generate/generate.ts";
import { type LoadedModel, loadModel } from "../hf/checkpoint.ts";
import { mergeTokenIds } from "../hf/generation-config.ts";
import type { ModelConfig } from "../model/config.ts";
import { CharTokenizer } from "../tasks/char-tokenizer.ts";
import { type Codec, type DecodeBatch, encodeRequest, generateRows } from "./token-rows.ts";
import type { GenerationBackend, GenRequest, GenResult, SamplingOptions } from "./types.ts";

export interface NativeBackendOptions {
  /** Model folder (r1lab checkpoint or HF snapshot), or `org/name` from the HF cache. */
  model: string;
  /** Rows (samples) decoded together. Default 16. */
  batchSize?: number;
  /** Put the model's BOS id, when it has one, before plain prompts (r1lab R1-Zero checkpoints). Default false. */
  bosPrefix?: boolean;
  revision?: string;
}

/** The character tokenizer when tokenizer.json is one r1lab wrote, else null. */
function charTokenizerOf(dir: string): CharTokenizer | null {
  try {
    const json = JSON.parse(readFileSync(join(dir, "tokenizer.json"), "utf8"));
    return CharTokenizer.fromTokenizerJson(json, join(dir, "tokenizer.json"));
  } catch {
    return null;
  }
}

/**
 * Text <-> ids for a loaded model: r1lab's character tokenizer when tokenizer.json is one r1lab
 * wrote (then `chars` is true), else the Hugging Face tokenizer and its chat template.
 */
export function modelCodec(m: LoadedModel): Codec & { chars: boolean } {
  const c = m.config;
  if (!m.tokenizer)
    throw new Error(`${m.dir}: no tokenizer.json; the native backend needs a tokenizer to encode prompts`);
  const chars = charTokenizerOf(m.dir);
  const hf = m.tokenizer;
  return chars
    ? {
        chars: true,
        encode: (t) => chars.encode(t),
        decode: (ids) => chars.decode(ids),
        chat: null,
        eosIds: mergeTokenIds(m.generation.eosTokenIds, c.eosTokenId, chars.eosId),
        bosId: c.bosTokenId ?? chars.bosId,
        padId: chars.padId,
      }
    : {
        chars: false,
        encode: (t) => hf.encode(t),
        decode: (ids) => hf.decode(ids, { skipSpecialTokens: true }),
        chat: Object.keys(hf.chatTemplates).length > 0 ? hf : null,
        eosIds: mergeTokenIds(m.generation.eosTokenIds, c.eosTokenId, hf.eosTokenIds),
        bosId: c.bosTokenId ?? hf.bosTokenId,
        padId: m.generation.padTokenId ?? c.padTokenId ?? hf.padTokenId ?? 0,
      };
}

export class NativeBackend implements GenerationBackend {
  readonly name: string;
  private constructor(
    readonly dir: string,
    readonly config: ModelConfig,
    private params: Params | null,
    private readonly codec: Codec,
    private readonly batchSize: number,
    private readonly bosPrefix: boolean,
  ) {
    this.name = `native:${dir}`;
  }

  /** Load the model (the engine must be started: initEngine from src/engine/device.ts). */
  static async load(o: NativeBackendOptions): Promise<NativeBackend> {
    const batchSize = o.batchSize ?? 16;
    if (!(Number.isInteger(batchSize) && batchSize >= 1))
      throw new Error(`native backend: batchSize must be an integer >= 1, got ${batchSize}`);
    const m = await loadModel(o.model, { revision: o.revision });
    const c = m.config;
    const codec = modelCodec(m);
    if (codec.eosIds.length === 0)
      console.error(`warning: ${m.dir} names no EOS token; completions run to --max-tokens`);
    // A model without a BOS token (Qwen2, for one) gets plain prompts as they are.
    const bos = (o.bosPrefix ?? false) && codec.bosId !== null;
    return new NativeBackend(m.dir, c, m.params, codec, batchSize, bos);
  }

  /** Whether chat messages go through a chat template (false: their text is sent plain). */
  get hasChatTemplate(): boolean {
    return this.codec.chat !== null;
  }

  /** The prompt ids of one request. */
  encodeRequest(r: GenRequest, i = 0): number[] {
    return encodeRequest("native backend", this.codec, this.bosPrefix, r, i);
  }

  async generate(
    requests: GenRequest[],
    opts: SamplingOptions,
    onResult?: (index: number, result: GenResult) => void,
  ): Promise<GenResult[]> {
    const params = this.params;
    if (!params) throw new Error(`${this.name}: generate() after close()`);
    const decode: DecodeBatch = (ids, o) => generate(params, this.config, ids, o);
    const b = {
      who: "native backend",
      codec: this.codec,
      bosPrefix: this.bosPrefix,
      batchSize: this.batchSize,
      positions: this.config.maxPositionEmbeddings,
      decode,
    };
    return generateRows(b, requests, opts, onResult);
  }

  async close(): Promise<void> {
    if (this.params) disposeParams(this.params);
    this.params = null;
  }
}
