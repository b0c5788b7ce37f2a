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
import { loadModel } from "../hf/checkpoint.ts";
import { mergeTokenIds } from "../hf/generation-config.ts";
import type { Tokenizer } from "../hf/tokenizer.ts";
import type { ModelConfig } from "../model/config.ts";
import { CharTokenizer } from "../tasks/char-tokenizer.ts";
import type { GenerationBackend, GenRequest, GenResult, SamplingOptions } from "./types.ts";

export interface NativeBackendOptions {
  /** Model folder (r1lab checkpoint or HF snapshot), or `org/name` from the HF cache. */
  model: string;
  /** Rows (samples) decoded together. Default 16. */
  batchSize?: number;
  /** Put the model's BOS id before plain prompts (r1lab R1-Zero checkpoints). Default false. */
  bosPrefix?: boolean;
  revision?: string;
}

/** Text <-> ids, over either tokenizer kind. */
interface Codec {
  encode(text: string): number[];
  decode(ids: number[]): string;
  chat: Tokenizer | null;
  eosIds: number[];
  bosId: number | null;
  padId: number;
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
    if (!m.tokenizer)
      throw new Error(`${m.dir}: no tokenizer.json; the native backend needs a tokenizer to encode prompts`);
    const chars = charTokenizerOf(m.dir);
    const hf = m.tokenizer;
    const codec: Codec = chars
      ? {
          encode: (t) => chars.encode(t),
          decode: (ids) => chars.decode(ids),
          chat: null,
          eosIds: mergeTokenIds(m.generation.eosTokenIds, c.eosTokenId, chars.eosId),
          bosId: c.bosTokenId ?? chars.bosId,
          padId: chars.padId,
        }
      : {
          encode: (t) => hf.encode(t),
          decode: (ids) => hf.decode(ids, { skipSpecialTokens: true }),
          chat: Object.keys(hf.chatTemplates).length > 0 ? hf : null,
          eosIds: mergeTokenIds(m.generation.eosTokenIds, c.eosTokenId, hf.eosTokenIds),
          bosId: c.bosTokenId ?? hf.bosTokenId,
          padId: m.generation.padTokenId ?? c.padTokenId ?? hf.padTokenId ?? 0,
        };
    if (codec.eosIds.length === 0)
      console.error(`warning: ${m.dir} names no EOS token; completions run to --max-tokens`);
    if (o.bosPrefix && codec.bosId === null)
      throw new Error(`${m.dir}: bosPrefix asked, but the model names no BOS token`);
    return new NativeBackend(m.dir, c, m.params, codec, batchSize, o.bosPrefix ?? false);
  }

  /** Whether chat messages go through a chat template (false: their text is sent plain). */
  get hasChatTemplate(): boolean {
    return this.codec.chat !== null;
  }

  /** The prompt ids of one request. */
  encodeRequest(r: GenRequest, i = 0): number[] {
    let ids: number[];
    if (r.messages?.length) {
      if (this.codec.chat)
        ids = this.codec.chat.encodeChat(
          r.messages.map((m) => ({ role: m.role, content: m.content })),
          { addGenerationPrompt: true },
        );
      else ids = this.codec.encode(r.messages.map((m) => m.content).join("\n\n"));
    } else if (typeof r.prompt === "string") {
      ids = this.codec.encode(r.prompt);
    } else throw new Error(`native backend: request ${i} has neither messages nor a prompt`);
    if (this.bosPrefix && !(ids.length > 0 && ids[0] === this.codec.bosId)) ids = [this.codec.bosId!, ...ids];
    if (ids.length === 0) throw new Error(`native backend: request ${i} encodes to no tokens`);
    return ids;
  }

  async generate(
    requests: GenRequest[],
    opts: SamplingOptions,
    onResult?: (index: number, result: GenResult) => void,
  ): Promise<GenResult[]> {
    if (!this.params) throw new Error(`${this.name}: generate() after close()`);
    if (!(Number.isInteger(opts.n) && opts.n >= 1))
      throw new Error(`native backend: n must be an integer >= 1, got ${opts.n}`);
    const prompts = requests.map((r, i) => this.encodeRequest(r, i));
    const positions = this.config.maxPositionEmbeddings;
    const stops = (opts.stop ?? []).filter((s) => s.length > 0);
    // A stop string of L characters lies within the last L + 8 tokens (tokens are rarely empty).
    const window = stops.length ? Math.max(...stops.map((s) => s.length)) + 8 : 0;
    const hitsStop = (ids: number[]) => stops.some((s) => this.codec.decode(ids.slice(-window)).includes(s));

    // Rows: (request, sample) pairs, request-major.
    const rows = requests.flatMap((_, r) => Array.from({ length: opts.n }, (_, s) => ({ r, s })));
    const results: GenResult[] = requests.map(() => ({
      completions: new Array<string>(opts.n),
      finishReasons: new Array<string>(opts.n),
      usage: { promptTokens: 0, completionTokens: 0 },
    }));
    const left = requests.map(() => opts.n);
    for (let b = 0; b * this.batchSize < rows.length; b++) {
      const chunk = rows.slice(b * this.batchSize, (b + 1) * this.batchSize);
      const ids = chunk.map(({ r }) => prompts[r]);
      const longest = Math.max(...ids.map((x) => x.length));
      const maxNew = Math.min(opts.maxTokens, positions - longest);
      if (maxNew < 1) {
        throw new Error(
          `native backend: a prompt of ${longest} tokens leaves no room in the model's ${positions} positions`,
        );
      }
      const out = await generate(this.params, this.config, ids, {
        temperature: opts.temperature,
        topP: opts.topP,
        topK: opts.topK ?? 0,
        maxNewTokens: maxNew,
        eosTokenIds: this.codec.eosIds,
        padTokenId: this.codec.padId,
        seed: (opts.seed ?? 0) + b,
        shouldStop: stops.length ? (_row, newIds) => hitsStop(newIds) : undefined,
      });
      chunk.forEach(({ r, s }, j) => {
        const newIds = out.ids[j];
        const eos = this.codec.eosIds;
        const kept =
          newIds.length > 0 && eos.includes(newIds[newIds.length - 1]) ? newIds.slice(0, -1) : newIds;
        let text = this.codec.decode(kept);
        for (const stop of stops) {
          const at = text.indexOf(stop);
          if (at >= 0) text = text.slice(0, at);
        }
        const res = results[r];
        res.completions[s] = text;
        res.finishReasons[s] = out.finishReasons[j];
        res.usage!.promptTokens += prompts[r].length;
        res.usage!.completionTokens += newIds.length;
        if (--left[r] === 0) onResult?.(r, res);
      });
    }
    return results;
  }

  async close(): Promise<void> {
    if (this.params) disposeParams(this.params);
    this.params = null;
  }
}
