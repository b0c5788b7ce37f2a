// generation_config.json: the sampling settings a checkpoint ships with (DeepSeek-R1's: do_sample,
// temperature 0.6, top_p 0.95) and the token ids that end a generation. Missing fields take
// transformers' GenerationConfig defaults (GENERATION_DEFAULTS); a missing file means all defaults.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { SamplingParams } from "../generate/sampling.ts";
import { Fields } from "./fields.ts";

export interface GenerationConfig {
  /** false = greedy decoding, whatever temperature/topP/topK say (as in transformers). */
  doSample: boolean;
  temperature: number;
  /** Nucleus mass kept (1 = off). */
  topP: number;
  /** Most likely tokens kept (0 = off). */
  topK: number;
  /** null = not set (transformers then falls back to max_length). */
  maxNewTokens: number | null;
  /** Every id that ends a sequence; eos_token_id may be one id or a list. */
  eosTokenIds: number[];
  bosTokenId: number | null;
  padTokenId: number | null;
  repetitionPenalty: number;
}

/** transformers' GenerationConfig defaults for the fields read here. */
export const GENERATION_DEFAULTS: Record<string, unknown> = {
  do_sample: false,
  temperature: 1.0,
  top_p: 1.0,
  top_k: 50,
  max_new_tokens: null,
  eos_token_id: null,
  bos_token_id: null,
  pad_token_id: null,
  repetition_penalty: 1.0,
};

/** Parse generation_config.json (already JSON.parse'd); `file` names it in errors. */
export function parseGenerationConfig(json: unknown, file: string): GenerationConfig {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new Error(`${file}: expected a JSON object, got ${JSON.stringify(json)}`);
  }
  const f = new Fields(json as Record<string, unknown>, file, GENERATION_DEFAULTS);
  const topP = f.positive("top_p");
  if (topP > 1) f.bad("top_p", "in (0, 1]");
  const temperature = f.num("temperature");
  if (temperature < 0) f.bad("temperature", "a number >= 0");
  return {
    doSample: f.bool("do_sample"),
    temperature,
    topP,
    topK: f.int("top_k", 0),
    maxNewTokens: f.intOrNull("max_new_tokens", 1),
    eosTokenIds: mergeTokenIds(f.tokenIds("eos_token_id")),
    bosTokenId: f.intOrNull("bos_token_id"),
    padTokenId: f.intOrNull("pad_token_id"),
    repetitionPenalty: f.positive("repetition_penalty"),
  };
}

/** Read `dir`/generation_config.json, or all defaults when the folder has none. */
export function loadGenerationConfig(dir: string): GenerationConfig {
  const path = join(dir, "generation_config.json");
  if (!existsSync(path)) return parseGenerationConfig({}, path);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${(e as Error).message})`);
  }
  return parseGenerationConfig(json, path);
}

/** The sampler settings this config asks for: greedy unless do_sample. */
export function samplingParams(g: GenerationConfig): SamplingParams {
  if (!g.doSample || g.temperature === 0) return { temperature: 0, topP: 1, topK: 0 };
  return { temperature: g.temperature, topP: g.topP, topK: g.topK };
}

/**
 * The union, in first-seen order, of token-id fields that may each be an id, a list or null: e.g.
 * the stop set mergeTokenIds(gen.eosTokenIds, config.eosTokenId, tokenizer.eosTokenIds).
 */
export function mergeTokenIds(...ids: (number | readonly number[] | null | undefined)[]): number[] {
  const out: number[] = [];
  for (const x of ids) {
    for (const id of x === null || x === undefined ? [] : typeof x === "number" ? [x] : x) {
      if (!out.includes(id)) out.push(id);
    }
  }
  return out;
}
