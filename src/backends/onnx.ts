// A GenerationBackend over an ONNX causal LM run by onnxruntime-node on the CPU: a folder written
// by `r1lab export-onnx`, or any transformers.js-style folder (config.json, tokenizer.json,
// tokenizer_config.json, generation_config.json at the top, the graph at onnx/model.onnx or another
// onnx/*.onnx chosen with `file` or transformers.js's `dtype`: model_q4.onnx, model_quantized.onnx ...), or an .onnx file whose folder (or the folder above onnx/) holds
// those files. Requests become ids as in the native backend (chat template with the assistant turn
// opened, plain text without one, BOS first with `bosPrefix` for r1lab's R1-Zero checkpoints); the
// n samples of all requests are decoded in batches of `batchSize` rows by OnnxDecoder.generate
// (src/hf/onnx-session.ts: KV cache when the graph has past_key_values, else full recompute).
// Seeds: batch b samples with seed + b, one stream per row, as the native backend does.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { loadGenerationConfig, mergeTokenIds } from "../hf/generation-config.ts";
import { ONNX_DTYPE_FILES } from "../hf/onnx-quantize.ts";
import { OnnxDecoder } from "../hf/onnx-session.ts";
import { loadTokenizer } from "../hf/tokenizer.ts";
import { CharTokenizer } from "../tasks/char-tokenizer.ts";
import { type Codec, type DecodeBatch, encodeRequest, generateRows } from "./token-rows.ts";
import type { GenerationBackend, GenRequest, GenResult, SamplingOptions } from "./types.ts";

export interface OnnxBackendOptions {
  /** Model folder (transformers.js layout) or an .onnx file. */
  model: string;
  /** File under onnx/ (default model.onnx), e.g. model_quantized.onnx. */
  file?: string;
  /**
   * Or transformers.js's dtype name for it: fp32 (model.onnx), q8 (model_quantized.onnx), q4
   * (model_q4.onnx, MatMulNBits), int8, uint8, fp16, q4f16, bnb4.
   */
  dtype?: string;
  /** Rows (samples) decoded together. Default 16. */
  batchSize?: number;
  /** Put the model's BOS id, when it has one, before plain prompts (r1lab R1-Zero checkpoints). */
  bosPrefix?: boolean;
}

/** The folder with config.json/tokenizer.json and the ONNX file to run. */
export function resolveOnnxModel(model: string, file?: string): { dir: string; onnxPath: string } {
  const p = resolve(model);
  if (!existsSync(p)) throw new Error(`--model ${p}: no such file or folder`);
  if (statSync(p).isFile()) {
    if (file !== undefined) throw new Error(`--model ${p} is a file; the file option applies to folders`);
    const here = dirname(p);
    const dir = !existsSync(join(here, "config.json")) && basename(here) === "onnx" ? dirname(here) : here;
    return { dir, onnxPath: p };
  }
  const name = file ?? "model.onnx";
  for (const cand of [join(p, "onnx", name), join(p, name)])
    if (existsSync(cand)) return { dir: p, onnxPath: cand };
  const listed = existsSync(join(p, "onnx"))
    ? readdirSync(join(p, "onnx")).filter((f) => f.endsWith(".onnx"))
    : [];
  throw new Error(
    `${join(p, "onnx", name)}: no such ONNX file${listed.length ? ` (onnx/ holds ${listed.join(", ")})` : ""}; export one with \`r1lab export-onnx\``,
  );
}

function readJson(path: string): Record<string, any> {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new Error(`${path}: cannot read JSON (${(e as Error).message})`);
  }
}

export class OnnxBackend implements GenerationBackend {
  readonly name: string;
  private constructor(
    readonly onnxPath: string,
    private readonly decoder: OnnxDecoder,
    private readonly codec: Codec,
    private readonly batchSize: number,
    private readonly bosPrefix: boolean,
    private readonly positions: number,
  ) {
    this.name = `onnx:${onnxPath}`;
  }

  static async load(o: OnnxBackendOptions): Promise<OnnxBackend> {
    const batchSize = o.batchSize ?? 16;
    if (!(Number.isInteger(batchSize) && batchSize >= 1))
      throw new Error(`onnx backend: batchSize must be an integer >= 1, got ${batchSize}`);
    if (o.dtype !== undefined && o.file !== undefined)
      throw new Error(`onnx backend: give the file (${o.file}) or the dtype (${o.dtype}), not both`);
    if (o.dtype !== undefined && !Object.hasOwn(ONNX_DTYPE_FILES, o.dtype))
      throw new Error(
        `onnx backend: dtype '${o.dtype}' is not one of ${Object.keys(ONNX_DTYPE_FILES).join(", ")}`,
      );
    const { dir, onnxPath } = resolveOnnxModel(
      o.model,
      o.file ?? (o.dtype ? ONNX_DTYPE_FILES[o.dtype] : undefined),
    );
    const cfgPath = join(dir, "config.json");
    if (!existsSync(cfgPath)) throw new Error(`${dir}: no config.json beside ${onnxPath}`);
    const cfg = readJson(cfgPath);
    if (!existsSync(join(dir, "tokenizer.json")))
      throw new Error(`${dir}: no tokenizer.json; the onnx backend needs a tokenizer to encode prompts`);
    const gen = loadGenerationConfig(dir);
    const tokJson = readJson(join(dir, "tokenizer.json"));
    let chars: CharTokenizer | null = null;
    try {
      chars = CharTokenizer.fromTokenizerJson(tokJson, join(dir, "tokenizer.json"));
    } catch {
      chars = null; // a Hugging Face tokenizer
    }
    const int = (v: unknown) => (Number.isInteger(v) ? (v as number) : null);
    const cfgEos = Array.isArray(cfg.eos_token_id) ? cfg.eos_token_id : int(cfg.eos_token_id);
    let codec: Codec;
    if (chars) {
      const ct = chars;
      codec = {
        encode: (t) => ct.encode(t),
        decode: (ids) => ct.decode(ids),
        chat: null,
        eosIds: mergeTokenIds(gen.eosTokenIds, cfgEos, ct.eosId),
        bosId: int(cfg.bos_token_id) ?? ct.bosId,
        padId: ct.padId,
      };
    } else {
      const hf = await loadTokenizer(dir);
      codec = {
        encode: (t) => hf.encode(t),
        decode: (ids) => hf.decode(ids, { skipSpecialTokens: true }),
        chat: Object.keys(hf.chatTemplates).length > 0 ? hf : null,
        eosIds: mergeTokenIds(gen.eosTokenIds, cfgEos, hf.eosTokenIds),
        bosId: int(cfg.bos_token_id) ?? hf.bosTokenId,
        padId: gen.padTokenId ?? int(cfg.pad_token_id) ?? hf.padTokenId ?? 0,
      };
    }
    if (codec.eosIds.length === 0)
      console.error(`warning: ${dir} names no EOS token; completions run to --max-tokens`);
    const heads = int(cfg.num_key_value_heads) ?? int(cfg.num_attention_heads);
    const headDim =
      int(cfg.head_dim) ??
      (int(cfg.hidden_size) && int(cfg.num_attention_heads)
        ? cfg.hidden_size / cfg.num_attention_heads
        : null);
    const decoder = await OnnxDecoder.open(onnxPath, heads && headDim ? { heads, headDim } : null);
    const positions = int(cfg.max_position_embeddings) ?? int(cfg.n_positions) ?? Number.POSITIVE_INFINITY;
    // A model without a BOS token gets plain prompts as they are.
    const bos = (o.bosPrefix ?? false) && codec.bosId !== null;
    return new OnnxBackend(onnxPath, decoder, codec, batchSize, bos, positions);
  }

  /** Whether the graph takes past_key_values (KV-cached decoding). */
  get usesKvCache(): boolean {
    return this.decoder.hasPast;
  }

  /** The prompt ids of one request. */
  encodeRequest(r: GenRequest, i = 0): number[] {
    return encodeRequest("onnx backend", this.codec, this.bosPrefix, r, i);
  }

  async generate(
    requests: GenRequest[],
    opts: SamplingOptions,
    onResult?: (index: number, result: GenResult) => void,
  ): Promise<GenResult[]> {
    const decode: DecodeBatch = (ids, o) => this.decoder.generate(ids, o);
    const b = {
      who: "onnx backend",
      codec: this.codec,
      bosPrefix: this.bosPrefix,
      batchSize: this.batchSize,
      positions: this.positions,
      decode,
    };
    return generateRows(b, requests, opts, onResult);
  }

  async close(): Promise<void> {
    await this.decoder.close();
  }
}
