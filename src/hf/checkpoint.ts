// Whole models in Hugging Face format: loadModel reads a model folder (a local path, or `org/name`
// from the HF cache layout) into a ModelConfig + a parameter tree keyed by HF tensor names;
// saveModel writes one back that transformers and vLLM load (config.json, safetensors, tokenizer
// files, generation_config.json).
//
// Loading holds one float32 copy of the weights: each tensor is read from disk (F32/F16/BF16 decoded
// into a float32 buffer, F8_E4M3 dequantised with its block scales) and becomes an engine tensor:
// on the ORT executor that buffer itself (resident.ts, no copy; a bf16 file costs its float32 size
// plus one tensor's raw bytes at a time), on `jax` a jax-js array (the buffer dropped before the
// next tensor is read). The tensor set is checked against config.json first
// (tensor-set.ts), so a wrong checkpoint fails before anything is loaded, with every problem listed.
// Saving is atomic for the folder: everything is written into a temporary sibling, which then
// replaces `dir`; host copies are made one shard at a time.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { writeJsonAtomic } from "../engine/atomic.ts";
import { readDequantized } from "../engine/fp8.ts";
import { filled, fromHost, type Params, toHost } from "../engine/params.ts";
import type { WriteTensor } from "../engine/safetensors.ts";
import { writeSafetensors } from "../engine/safetensors.ts";
import { INDEX_FILE, openCheckpoint, planShards, SINGLE_FILE, shardFileName } from "../engine/sharded.ts";
import type { ModelConfig } from "../model/config.ts";
import { resolveModelPath } from "./cache.ts";
import { parseHfConfig, toHfConfig } from "./config.ts";
import { type GenerationConfig, loadGenerationConfig } from "./generation-config.ts";
import { mtpSharedCopies, planTensors, type StoredTensor } from "./tensor-set.ts";
import { loadTokenizer, saveTokenizer, type Tokenizer, tokenizerFromJson } from "./tokenizer.ts";

export interface LoadedModel {
  config: ModelConfig;
  /** HF tensor name -> float32 engine array; MTP modules only when the checkpoint has them. */
  params: Params;
  /** null when the folder has no tokenizer.json. */
  tokenizer: Tokenizer | null;
  /** generation_config.json (transformers' defaults when absent). */
  generation: GenerationConfig;
  /** The folder the model was read from (a snapshot folder for `org/name`). */
  dir: string;
  /** The checkpoint held the MTP modules. */
  hasMtp: boolean;
}

export interface LoadOptions {
  /** Branch, tag or commit for `org/name` ids (default: main). */
  revision?: string;
  /** Engine dtype of the weights. Only float32: r1lab's model computes in float32. */
  dtype?: "float32";
}

function readJson(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new Error(`${path}: cannot read (${(e as Error).message})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${(e as Error).message})`);
  }
}

/** quantization_config.weight_block_size of an FP8 checkpoint (DeepSeek-V3: [128, 128]). */
function fp8Block(raw: unknown): [number, number] {
  const b = (raw as { quantization_config?: { weight_block_size?: unknown } }).quantization_config
    ?.weight_block_size;
  return Array.isArray(b) && b.length === 2 && b.every((x) => Number.isInteger(x) && x > 0)
    ? [b[0], b[1]]
    : [128, 128];
}

/** Load a Hugging Face model folder, or `org/name` from the HF cache (see cache.ts). */
export async function loadModel(idOrPath: string, opts: LoadOptions = {}): Promise<LoadedModel> {
  if (opts.dtype !== undefined && opts.dtype !== "float32") {
    throw new Error(
      `loadModel: dtype ${JSON.stringify(opts.dtype)} is not supported (r1lab computes in float32)`,
    );
  }
  const dir = await resolveModelPath(idOrPath, { revision: opts.revision });
  const configPath = join(dir, "config.json");
  if (!existsSync(configPath)) throw new Error(`${dir}: no config.json (not a Hugging Face model folder)`);
  const raw = readJson(configPath);
  const config = parseHfConfig(raw, configPath);
  const ckpt = openCheckpoint(dir);
  try {
    const stored: StoredTensor[] = ckpt.names().map((name) => {
      const { dtype, shape } = ckpt.info(name);
      return { name, dtype, shape, file: ckpt.fileOf(name) };
    });
    const plan = planTensors(config, stored, dir);
    const block = fp8Block(raw);
    const params: Params = {};
    for (const { name, shape } of plan.load) {
      // One host buffer at a time: it is garbage once the engine array holds the values.
      params[name] = fromHost(readDequantized(ckpt, name, block), shape);
    }
    for (const { name, shape } of plan.zeros) params[name] = filled(shape, 0);
    const tokenizer = existsSync(join(dir, "tokenizer.json")) ? await loadTokenizer(dir) : null;
    return { config, params, tokenizer, generation: loadGenerationConfig(dir), dir, hasMtp: plan.hasMtp };
  } finally {
    ckpt.close();
  }
}

export interface ModelToSave {
  config: ModelConfig;
  params: Params;
  /** A loaded tokenizer (its files are copied byte for byte). */
  tokenizer?: Tokenizer | null;
  /** Or a tokenizer.json built in memory, with an optional tokenizer_config.json. */
  tokenizerJson?: unknown;
  tokenizerConfig?: Record<string, unknown>;
}

export interface SaveOptions {
  /** Stored dtype of the weights (default float32). The routing bias always stays F32. */
  dtype?: "float32" | "bfloat16";
  /** Split into model-0000i-of-0000n.safetensors above this many bytes (default 5e9, as transformers). */
  maxShardBytes?: number;
  /** Extra generation_config.json fields (e.g. {do_sample: true, temperature: 0.6, top_p: 0.95}). */
  generation?: Record<string, unknown>;
}

/** Files a model folder may hold; saveModel refuses to replace a folder holding anything else. */
const MODEL_FILE =
  /^(config\.json|generation_config\.json|model.*\.safetensors(\.index\.json)?|tokenizer.*\.json|special_tokens_map\.json|chat_template\.jinja|additional_chat_templates|README\.md|\.gitattributes)$/;

/** The tensors to write, in model order: params plus DeepSeek's MTP copies of embedding and head. */
function tensorsToWrite(c: ModelConfig, params: Params): [string, string][] {
  const out: [string, string][] = Object.keys(params).map((k) => [k, k]);
  const L = c.numHiddenLayers;
  const head = c.tieWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight";
  for (let k = 0; k < c.numNextnPredictLayers; k++) {
    if (!(`model.layers.${L + k}.eh_proj.weight` in params)) continue;
    const [emb, shHead] = mtpSharedCopies(c, k);
    out.push([emb, "model.embed_tokens.weight"], [shHead, head]);
  }
  return out;
}

/**
 * Save a model as a Hugging Face folder at `dir` (replaced as a whole; its parent is created).
 * The params are checked against the config first, with the same error listing as loading.
 */
export async function saveModel(dir: string, m: ModelToSave, opts: SaveOptions = {}): Promise<void> {
  const c = m.config;
  const stDtype =
    opts.dtype === "bfloat16" ? "BF16" : opts.dtype === undefined || opts.dtype === "float32" ? "F32" : null;
  if (!stDtype) throw new Error(`saveModel: dtype ${JSON.stringify(opts.dtype)} must be float32 or bfloat16`);
  const target = resolve(dir);
  if (existsSync(target)) {
    const foreign = readdirSync(target).filter((f) => !MODEL_FILE.test(f) && !f.startsWith("."));
    if (foreign.length > 0) {
      throw new Error(
        `saveModel: ${target} holds files that are not part of a model (${foreign.slice(0, 5).join(", ")}); refusing to replace it`,
      );
    }
  }
  const names = tensorsToWrite(c, m.params);
  planTensors(
    c,
    names.map(([n, src]) => ({ name: n, dtype: "F32", shape: [...m.params[src].shape], file: "(params)" })),
    "saveModel",
  );

  const tmp = join(dirname(target), `.${basename(target)}.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    const hf = toHfConfig(c);
    const torchDtype = stDtype === "BF16" ? "bfloat16" : "float32";
    writeJsonAtomic(join(tmp, "config.json"), { ...hf, torch_dtype: torchDtype, dtype: torchDtype });
    await writeWeights(tmp, names, m.params, stDtype, opts.maxShardBytes ?? 5e9);
    const gen = {
      _from_model_config: true,
      bos_token_id: c.bosTokenId,
      eos_token_id: c.eosTokenId,
      pad_token_id: c.padTokenId,
      ...opts.generation,
    };
    writeJsonAtomic(join(tmp, "generation_config.json"), gen);
    const tok =
      m.tokenizer ??
      (m.tokenizerJson !== undefined ? tokenizerFromJson(m.tokenizerJson, m.tokenizerConfig) : null);
    if (tok) saveTokenizer(tok, tmp);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  const old = join(dirname(target), `.${basename(target)}.old-${process.pid}`);
  if (existsSync(target)) renameSync(target, old);
  renameSync(tmp, target);
  rmSync(old, { recursive: true, force: true });
}

/** Write the weights shard by shard (transformers' layout); host copies live one shard at a time. */
async function writeWeights(
  dir: string,
  names: [string, string][],
  params: Params,
  dtype: "F32" | "BF16",
  maxShardBytes: number,
): Promise<void> {
  const dtypeOf = (name: string) => (name.endsWith("e_score_correction_bias") ? "F32" : dtype);
  // Sizes only: planShards looks at dtype and shape.
  const sized: Record<string, WriteTensor> = Object.create(null);
  for (const [n, src] of names)
    sized[n] = { dtype: dtypeOf(n), shape: [...params[src].shape], data: new Float32Array(0) };
  const plan = planShards(sized, maxShardBytes);
  const files = plan.length === 1 ? [SINGLE_FILE] : plan.map((_, i) => shardFileName(i + 1, plan.length));
  const source = new Map(names);
  const weightMap: Record<string, string> = Object.create(null);
  let totalSize = 0;
  for (let i = 0; i < plan.length; i++) {
    const part: Record<string, WriteTensor> = Object.create(null);
    for (const n of plan[i]) {
      const a = params[source.get(n)!];
      const host = await toHost(a);
      const data = host instanceof Float32Array ? host : Float32Array.from(host);
      part[n] = { dtype: dtypeOf(n), shape: [...a.shape], data };
      totalSize += data.length * (dtypeOf(n) === "F32" ? 4 : 2);
      weightMap[n] = files[i];
    }
    writeSafetensors(join(dir, files[i]), part, { format: "pt" });
  }
  if (plan.length > 1) {
    const sorted = Object.fromEntries(
      Object.keys(weightMap)
        .sort()
        .map((k) => [k, weightMap[k]]),
    );
    writeJsonAtomic(join(dir, INDEX_FILE), { metadata: { total_size: totalSize }, weight_map: sorted });
  }
}
