// LoRA (Hu et al. 2021) on the linear projections of a qwen2 / llama / deepseek_v3 model, with
// PEFT's LoraConfig meanings: a frozen W [out, in] gets a trained low-rank update
//   W' = W + s B A,   A: [r, in] (lora_A),  B: [out, r] (lora_B),  s = lora_alpha / r
//                                                          (lora_alpha / sqrt(r) with use_rslora)
// A starts as PEFT's kaiming-uniform (|a| <= 1/sqrt(in)), B as zeros, so W' = W at step 0.
// The update is merged into the weight inside the step (mergeLora): the model code stays as it is,
// gradients reach only A and B, and the frozen base doubles as the reference policy for beta > 0.
// That form has no place for dropout on the adapter's input, so lora_dropout must be 0.
// Targets follow PEFT: a list entry names a module by its full name or its last dotted parts
// ("q_proj" matches model.layers.3.self_attn.q_proj); a string is a regex over full names;
// "all-linear" is every projection (attention, MLA, MLP and experts), not the output head.
import * as o from "../engine/ops.ts";
import type { Params } from "../engine/params.ts";
import { fromHost } from "../engine/params.ts";
import { Rng } from "../engine/rng.ts";

export interface LoraConfig {
  /** lora_r */
  r: number;
  /** lora_alpha */
  alpha: number;
  /** lora_dropout (only 0: see the header) */
  dropout: number;
  /** lora_target_modules: names, a regex string, or "all-linear". */
  targetModules: string[] | string;
  useRslora?: boolean;
}

/** A module's adapter tensors, by PEFT's names without the base_model.model. prefix. */
export const loraA = (module: string) => `${module}.lora_A.weight`;
export const loraB = (module: string) => `${module}.lora_B.weight`;

export function loraScaling(cfg: LoraConfig): number {
  return cfg.useRslora ? cfg.alpha / Math.sqrt(cfg.r) : cfg.alpha / cfg.r;
}

/**
 * Modules LoRA may adapt: 2-D `X.weight` projections other than embeddings, the head and the MoE
 * router; with `numHiddenLayers`, not DeepSeek's MTP layers (transformers does not load them, so
 * neither does PEFT).
 */
export function linearModules(base: Params, numHiddenLayers = Number.POSITIVE_INFINITY): string[] {
  const layerOf = (m: string) => Number(/^model\.layers\.(\d+)\./.exec(m)?.[1] ?? -1);
  return Object.keys(base)
    .filter((k) => k.endsWith(".weight") && base[k].shape.length === 2)
    .map((k) => k.slice(0, -".weight".length))
    .filter(
      (m) => !/(^|\.)(embed_tokens|lm_head|eh_proj)$/.test(m) && !/norm$/.test(m) && !/\.mlp\.gate$/.test(m),
    )
    .filter((m) => layerOf(m) < numHiddenLayers)
    .sort();
}

/** The modules `cfg.targetModules` selects; a name that matches nothing is an error naming what exists. */
export function resolveTargets(
  base: Params,
  targets: string[] | string,
  numHiddenLayers?: number,
  what = "lora_target_modules",
): string[] {
  const all = linearModules(base, numHiddenLayers);
  const kinds = [...new Set(all.map((m) => m.split(".").pop()!))].sort();
  if (targets === "all-linear") return all;
  if (typeof targets === "string") {
    let re: RegExp;
    try {
      re = new RegExp(`^(?:${targets})$`);
    } catch (e) {
      throw new Error(`${what}: '${targets}' is not a valid regular expression (${(e as Error).message})`);
    }
    const hit = all.filter((m) => re.test(m));
    if (hit.length === 0)
      throw new Error(
        `${what}: the regex '${targets}' matches no projection of this model (it has ${kinds.join(", ")})`,
      );
    return hit;
  }
  if (targets.length === 0)
    throw new Error(
      `${what}: empty list (name projections such as ${kinds.slice(0, 3).join(", ")}, or "all-linear")`,
    );
  const out = new Set<string>();
  for (const t of targets) {
    const hit = all.filter((m) => m === t || m.endsWith(`.${t}`));
    if (hit.length === 0)
      throw new Error(`${what}: '${t}' is not a projection of this model (it has ${kinds.join(", ")})`);
    for (const m of hit) out.add(m);
  }
  return [...out].sort();
}

export function checkLoraConfig(cfg: LoraConfig): void {
  if (!(Number.isInteger(cfg.r) && cfg.r >= 1))
    throw new Error(`lora_r must be an integer >= 1, got ${cfg.r}`);
  if (!(Number.isFinite(cfg.alpha) && cfg.alpha > 0))
    throw new Error(`lora_alpha must be a number > 0, got ${cfg.alpha}`);
  if (cfg.dropout !== 0)
    throw new Error(
      `lora_dropout ${cfg.dropout} is not supported: r1lab merges the adapter into the weights inside the step, where there is no adapter input to drop out (use 0)`,
    );
}

/** Fresh adapters for `modules`: A kaiming-uniform from `seed`, B zeros. */
export function initLora(base: Params, modules: string[], cfg: LoraConfig, seed: number): Params {
  checkLoraConfig(cfg);
  const out: Params = {};
  const rng = new Rng(seed);
  for (const m of modules) {
    const w = base[`${m}.weight`];
    if (!w) throw new Error(`initLora: no weight ${m}.weight`);
    const [outDim, inDim] = w.shape;
    const bound = 1 / Math.sqrt(inDim);
    const a = new Float32Array(cfg.r * inDim);
    for (let i = 0; i < a.length; i++) a[i] = (2 * rng.float() - 1) * bound;
    out[loraA(m)] = fromHost(a, [cfg.r, inDim]);
    out[loraB(m)] = fromHost(new Float32Array(outDim * cfg.r), [outDim, cfg.r]);
  }
  return out;
}

/** The modules an adapter tree holds. */
export function adaptedModules(lora: Params): string[] {
  return Object.keys(lora)
    .filter((k) => k.endsWith(".lora_A.weight"))
    .map((k) => k.slice(0, -".lora_A.weight".length))
    .sort();
}

/**
 * The base tree with W + s B A for every adapted module (traceable; the other tensors are passed
 * through). base[m.weight]: [out, in], A: [r, in], B: [out, r].
 */
export function mergeLora(base: Params, lora: Params, scaling: number): Params {
  const out: Params = { ...base };
  for (const m of adaptedModules(lora)) {
    const w = base[`${m}.weight`];
    const a = lora[loraA(m)];
    const b = lora[loraB(m)];
    if (!w) throw new Error(`mergeLora: the adapter has ${m}, which the model does not`);
    if (!b) throw new Error(`mergeLora: ${loraA(m)} has no ${loraB(m)}`);
    if (a.shape[1] !== w.shape[1] || b.shape[0] !== w.shape[0] || a.shape[0] !== b.shape[1])
      throw new Error(
        `mergeLora: ${m}: lora_A [${a.shape}] and lora_B [${b.shape}] do not fit the weight [${w.shape}]`,
      );
    out[`${m}.weight`] = o.add(w, o.mul(o.matmul(b, a), scaling));
  }
  return out;
}
