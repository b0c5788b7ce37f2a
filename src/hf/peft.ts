// LoRA adapters in PEFT's folder format, so that PEFT (`PeftModel.from_pretrained`) and vLLM
// (`--enable-lora --lora-modules name=DIR`) load what r1lab trains:
//   adapter_config.json          LoraConfig fields (peft_type LORA, task_type CAUSAL_LM, r, lora_alpha, ...)
//   adapter_model.safetensors    base_model.model.<module>.lora_A.weight [r, in], .lora_B.weight [out, r]
// and mergeAdapter, which folds W + s B A into a full Hugging Face checkpoint (`--merge`).
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeJsonAtomic } from "../engine/atomic.ts";
import { fromHost, type Params, toHost } from "../engine/params.ts";
import { openSafetensors, type WriteTensor, writeSafetensors } from "../engine/safetensors.ts";
import { tidy } from "../engine/scope.ts";
import { adaptedModules, checkLoraConfig, type LoraConfig, loraScaling, mergeLora } from "../model/lora.ts";
import { type LoadedModel, saveModel } from "./checkpoint.ts";

export const ADAPTER_CONFIG = "adapter_config.json";
export const ADAPTER_WEIGHTS = "adapter_model.safetensors";
const PREFIX = "base_model.model.";

export interface SavedAdapter {
  config: LoraConfig;
  /** Adapter tensors by r1lab's names (module.lora_A.weight), without PEFT's prefix. */
  lora: Params;
  baseModel: string | null;
}

/** adapter_config.json as PEFT writes it for a causal LM. */
export function adapterConfigJson(
  cfg: LoraConfig,
  modules: string[],
  baseModel: string | null,
): Record<string, unknown> {
  const targets = Array.isArray(cfg.targetModules)
    ? [...new Set(modules.map((m) => m.split(".").pop()!))].sort()
    : cfg.targetModules;
  return {
    peft_type: "LORA",
    task_type: "CAUSAL_LM",
    base_model_name_or_path: baseModel,
    revision: null,
    r: cfg.r,
    lora_alpha: cfg.alpha,
    lora_dropout: cfg.dropout,
    target_modules: targets,
    use_rslora: cfg.useRslora ?? false,
    bias: "none",
    fan_in_fan_out: false,
    init_lora_weights: true,
    inference_mode: true,
    modules_to_save: null,
    layers_to_transform: null,
    layers_pattern: null,
    rank_pattern: {},
    alpha_pattern: {},
    use_dora: false,
    lora_bias: false,
  };
}

/** Write the adapter folder (each file atomically; the weights first, the config last). */
export async function saveAdapter(
  dir: string,
  lora: Params,
  cfg: LoraConfig,
  baseModel: string | null,
): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const tensors: Record<string, WriteTensor> = Object.create(null);
  for (const [k, a] of Object.entries(lora)) {
    const host = await toHost(a);
    tensors[PREFIX + k] = {
      dtype: "F32",
      shape: [...a.shape],
      data: host instanceof Float32Array ? host : Float32Array.from(host),
    };
  }
  writeSafetensors(join(dir, ADAPTER_WEIGHTS), tensors, { format: "pt" });
  writeJsonAtomic(join(dir, ADAPTER_CONFIG), adapterConfigJson(cfg, adaptedModules(lora), baseModel));
}

function field<T>(
  raw: Record<string, unknown>,
  name: string,
  file: string,
  check: (v: unknown) => boolean,
  fallback?: T,
): T {
  const v = raw[name];
  if (v === undefined && fallback !== undefined) return fallback;
  if (!check(v)) throw new Error(`${file}: field '${name}' has an unusable value ${JSON.stringify(v)}`);
  return v as T;
}

/** Read a PEFT LoRA adapter folder (any PEFT LoRA adapter for a causal LM, not only r1lab's). */
export function loadAdapter(dir: string): SavedAdapter {
  const cfgFile = join(dir, ADAPTER_CONFIG);
  const wFile = join(dir, ADAPTER_WEIGHTS);
  if (!existsSync(cfgFile)) throw new Error(`${dir}: no ${ADAPTER_CONFIG} (not a PEFT adapter folder)`);
  if (!existsSync(wFile)) throw new Error(`${dir}: no ${ADAPTER_WEIGHTS}`);
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(readFileSync(cfgFile, "utf8"));
  } catch (e) {
    throw new Error(`${cfgFile}: not valid JSON (${(e as Error).message})`);
  }
  if (raw.peft_type !== "LORA")
    throw new Error(
      `${cfgFile}: peft_type is ${JSON.stringify(raw.peft_type)}; only LORA adapters are supported`,
    );
  const isNum = (v: unknown) => typeof v === "number" && Number.isFinite(v);
  const targets = raw.target_modules;
  const config: LoraConfig = {
    r: field<number>(raw, "r", cfgFile, isNum),
    alpha: field<number>(raw, "lora_alpha", cfgFile, isNum),
    // The dropout is a training setting: an adapter loads whatever it was trained with.
    dropout: 0,
    targetModules:
      Array.isArray(targets) || typeof targets === "string" ? (targets as string[] | string) : [],
    useRslora: field<boolean>(raw, "use_rslora", cfgFile, (v) => typeof v === "boolean", false),
  };
  checkLoraConfig(config);
  if (raw.use_dora === true) throw new Error(`${cfgFile}: use_dora adapters are not supported`);
  const f = openSafetensors(wFile);
  const lora: Params = {};
  try {
    for (const name of f.names()) {
      if (!name.startsWith(PREFIX) || !/\.lora_[AB]\.weight$/.test(name))
        throw new Error(
          `${wFile}: tensor '${name}' is not a LoRA weight (base_model.model.<module>.lora_A|lora_B.weight)`,
        );
      lora[name.slice(PREFIX.length)] = fromHost(f.read(name), f.info(name).shape);
    }
  } finally {
    f.close();
  }
  return {
    config,
    lora,
    baseModel: typeof raw.base_model_name_or_path === "string" ? raw.base_model_name_or_path : null,
  };
}

/** The base model's tensors with the adapter folded in (W + s B A), new arrays for the adapted ones. */
export function mergedParams(base: Params, lora: Params, cfg: LoraConfig): Params {
  const merged = tidy(() => {
    const m = mergeLora(base, lora, loraScaling(cfg));
    const out: Params = {};
    for (const mod of adaptedModules(lora)) out[`${mod}.weight`] = m[`${mod}.weight`];
    return out;
  });
  return { ...base, ...merged };
}

/** Write the merged model as a full Hugging Face checkpoint at `outDir` (transformers/vLLM load it with no PEFT). */
export async function mergeAdapter(
  model: LoadedModel,
  lora: Params,
  cfg: LoraConfig,
  outDir: string,
): Promise<void> {
  const params = mergedParams(model.params, lora, cfg);
  await saveModel(outDir, { config: model.config, params, tokenizer: model.tokenizer });
  for (const m of adaptedModules(lora)) params[`${m}.weight`].dispose();
}
