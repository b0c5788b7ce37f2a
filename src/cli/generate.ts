// `r1lab generate`: continue a prompt with a Hugging Face model (KV-cached decoding, greedy or
// seeded temperature/top-p/top-k sampling), stopping at the checkpoint's EOS ids or a --stop string.
// Prints the new text, or with --json one object {"new_ids": [...], "text": "...", "kv_cache": {...}}.
// The KV-cache size per token is reported against an MHA cache of the same model, which for MLA
// models (DeepSeek-V3) shows what the compressed latent saves.
import { initEngine } from "../engine/index.ts";
import { generate } from "../generate/generate.ts";
import type { SamplingParams } from "../generate/sampling.ts";
import { loadModel } from "../hf/checkpoint.ts";
import { mergeTokenIds, samplingParams } from "../hf/generation-config.ts";
import { type ModelConfig, usesMla } from "../model/config.ts";
import { cacheBytesPerToken } from "../model/kv-cache.ts";
import { type Command, numberFlag, requireFlag, UsageError } from "./command.ts";
import { checkDeviceFlag, parseIdList } from "./logits.ts";

export interface KvCacheReport {
  /** "mla" (latent + shared RoPE key), "gqa" or "mha". */
  kind: "mla" | "gqa" | "mha";
  bytes_per_token: number;
  mha_bytes_per_token: number;
  /** mha_bytes_per_token / bytes_per_token. */
  reduction: number;
}

export function kvCacheReport(c: ModelConfig): KvCacheReport {
  const { actual, mhaEquivalent } = cacheBytesPerToken(c);
  const kind = usesMla(c) ? "mla" : c.numKeyValueHeads < c.numAttentionHeads ? "gqa" : "mha";
  return {
    kind,
    bytes_per_token: actual,
    mha_bytes_per_token: mhaEquivalent,
    reduction: mhaEquivalent / actual,
  };
}

function describeKv(c: ModelConfig, r: KvCacheReport): string {
  const what = usesMla(c)
    ? `MLA latent ${c.kvLoraRank} + RoPE key ${c.qkRopeHeadDim} per layer`
    : `${r.kind.toUpperCase()} K+V ${c.numKeyValueHeads}x${c.headDim} per layer`;
  return `kv cache: ${r.bytes_per_token} bytes/token (${what}, ${c.numHiddenLayers} layers, float32) vs ${r.mha_bytes_per_token} bytes/token for an MHA cache of the same model (${r.reduction.toFixed(1)}x smaller)`;
}

/** Sampling from the flags, or the checkpoint's generation_config.json when none is given. */
function samplingFromFlags(v: Record<string, any>, fallback: SamplingParams): SamplingParams {
  const given = ["temperature", "top-p", "top-k"].filter((k) => v[k] !== undefined);
  if (v.greedy) {
    if (given.length > 0) throw new UsageError(`--greedy cannot be combined with --${given.join(", --")}`);
    return { temperature: 0, topP: 1, topK: 0 };
  }
  if (given.length === 0) return fallback;
  const temperature = v.temperature !== undefined ? numberFlag(v, "temperature", { min: 0 }) : 1;
  const topP = v["top-p"] !== undefined ? numberFlag(v, "top-p", { above: 0, max: 1 }) : 1;
  const topK = v["top-k"] !== undefined ? numberFlag(v, "top-k", { int: true, min: 0 }) : 0;
  return { temperature, topP, topK };
}

const cmd: Command = {
  name: "generate",
  summary: "generate text from a Hugging Face model (greedy or seeded sampling, KV cache)",
  usage:
    "generate --model DIR_OR_ID (--prompt TEXT | --input-ids 1,2,3) --max-new-tokens N [--greedy | --temperature T --top-p P --top-k K] [--seed S] [--chat] [--stop STR] [--json] [--device cpu|webgpu]",
  options: {
    model: { type: "string", help: "Hugging Face model folder, or org/name in the HF cache" },
    prompt: { type: "string", help: "prompt text (encoded with the model's tokenizer)" },
    "input-ids": { type: "string", help: "prompt as comma-separated token ids instead of text" },
    "max-new-tokens": { type: "string", help: "most tokens to generate" },
    greedy: { type: "boolean", help: "greedy decoding (argmax)" },
    temperature: { type: "string", help: "sampling temperature (0 = greedy)" },
    "top-p": { type: "string", help: "nucleus sampling: keep tokens up to this probability mass (1 = off)" },
    "top-k": { type: "string", help: "keep the K most likely tokens (0 = off)" },
    seed: { type: "string", default: "0", help: "sampling seed" },
    chat: { type: "boolean", help: "wrap --prompt as a user turn with the model's chat template" },
    stop: { type: "string", multiple: true, help: "stop when the text contains this string (repeatable)" },
    json: { type: "boolean", help: 'print {"new_ids": [...], "text": "...", "kv_cache": {...}}' },
    device: { type: "string", help: "cpu or webgpu (default: R1LAB_DEVICE, else cpu)" },
    executor: {
      type: "string",
      help: "ort or jax: what runs compiled steps (default: R1LAB_EXECUTOR, else ort)",
    },
    revision: { type: "string", help: "branch, tag or commit for an org/name model (default: main)" },
  },
  details: [
    "Without --greedy/--temperature/--top-p/--top-k the checkpoint's generation_config.json decides",
    "(greedy unless do_sample). Generation stops at the EOS ids of generation_config.json and config.json.",
    "The KV-cache size per token (and an MHA cache's, for comparison) is printed on stderr.",
  ].join("\n"),
  run: (v) => run(v),
};

async function run(v: Record<string, any>): Promise<void> {
  const model = requireFlag(v, "model", "generate");
  if ((v.prompt === undefined) === (v["input-ids"] === undefined)) {
    throw new UsageError("r1lab generate: give exactly one of --prompt and --input-ids");
  }
  if (v.chat && v.prompt === undefined) throw new UsageError("--chat needs --prompt");
  const maxNewTokens = numberFlag(v, "max-new-tokens", { int: true, min: 1 });
  const seed = numberFlag(v, "seed", { int: true, min: 0 });
  const stops: string[] = v.stop ?? [];
  if (stops.some((s) => s === "")) throw new UsageError("--stop must not be empty");
  samplingFromFlags(v, { temperature: 0, topP: 1, topK: 0 }); // flag errors before any loading
  checkDeviceFlag(v.device);
  await initEngine({ device: v.device, executor: v.executor });
  const m = await loadModel(model, { revision: v.revision });
  const c = m.config;
  const tok = m.tokenizer;
  if ((v.prompt !== undefined || stops.length > 0) && !tok) {
    throw new UsageError(
      `${m.dir} has no tokenizer.json: use --input-ids${stops.length ? " and no --stop" : ""}`,
    );
  }
  let ids: number[];
  if (v.prompt === undefined) ids = parseIdList(v["input-ids"], "--input-ids", c.vocabSize);
  else if (v.chat)
    ids = tok!.encodeChat([{ role: "user", content: v.prompt }], { addGenerationPrompt: true });
  else ids = tok!.encode(v.prompt);
  if (ids.length === 0) throw new UsageError("the prompt encodes to no tokens");
  if (ids.length + maxNewTokens > c.maxPositionEmbeddings) {
    throw new UsageError(
      `prompt (${ids.length} tokens) + --max-new-tokens ${maxNewTokens} exceeds the model's ${c.maxPositionEmbeddings} positions`,
    );
  }
  const sampling = samplingFromFlags(v, samplingParams(m.generation));
  const kv = kvCacheReport(c);
  console.error(describeKv(c, kv));

  const decode = (newIds: number[]) => (tok ? tok.decode(newIds, { skipSpecialTokens: true }) : "");
  const res = await generate(m.params, c, [ids], {
    ...sampling,
    maxNewTokens,
    seed,
    eosTokenIds: mergeTokenIds(m.generation.eosTokenIds, c.eosTokenId),
    padTokenId: m.generation.padTokenId ?? c.padTokenId ?? 0,
    shouldStop:
      stops.length > 0 ? (_row, newIds) => stops.some((s) => decode(newIds).includes(s)) : undefined,
  });
  const newIds = res.ids[0];
  let text = decode(newIds);
  // A stop string ends the text (it is not part of it), as in vLLM.
  for (const s of stops) {
    const at = text.indexOf(s);
    if (at >= 0) text = text.slice(0, at);
  }
  if (v.json) {
    process.stdout.write(
      `${JSON.stringify({ new_ids: newIds, text, finish_reason: res.finishReasons[0], kv_cache: kv })}\n`,
    );
  } else {
    process.stdout.write(tok ? `${text}\n` : `${newIds.join(",")}\n`);
  }
}

export default cmd;
