// RoPE settings in config.json: the Hub's `rope_theta` + `rope_scaling` (transformers 4, DeepSeek's
// `"type": "yarn"`) and transformers 5's `rope_parameters: {rope_theta, rope_type, factor, ...}`,
// read into ModelConfig's ropeTheta/ropeScaling and written back in the form both versions load.
import type { RopeScaling } from "../model/config.ts";
import { Fields, show } from "./fields.ts";

export const ROPE_KEYS: Record<RopeScaling["ropeType"], [string, keyof RopeScaling][]> = {
  default: [],
  linear: [["factor", "factor"]],
  llama3: [
    ["factor", "factor"],
    ["low_freq_factor", "lowFreqFactor"],
    ["high_freq_factor", "highFreqFactor"],
    ["original_max_position_embeddings", "originalMaxPositionEmbeddings"],
  ],
  yarn: [
    ["factor", "factor"],
    ["original_max_position_embeddings", "originalMaxPositionEmbeddings"],
    ["beta_fast", "betaFast"],
    ["beta_slow", "betaSlow"],
    ["mscale", "mscale"],
    ["mscale_all_dim", "mscaleAllDim"],
  ],
};
/** Keys transformers accepts that change nothing here (or only at their default value). */
const ROPE_NOOP: Record<string, unknown[]> = {
  truncate: [true, null],
  attention_factor: [null],
  partial_rotary_factor: [1, null],
};

/** Read RoPE: `rope_parameters` (transformers 5) or `rope_theta` + `rope_scaling` (Hub, transformers 4). */
export function parseRope(
  f: Fields,
  json: Record<string, unknown>,
  where: string,
): { ropeTheta: number; ropeScaling: RopeScaling | null } {
  let block: unknown = json.rope_scaling ?? null;
  let ropeTheta: number;
  let blockName = "rope_scaling";
  if (json.rope_parameters !== undefined && json.rope_parameters !== null) {
    block = json.rope_parameters;
    blockName = "rope_parameters";
    if (typeof block !== "object" || Array.isArray(block)) f.bad("rope_parameters", "an object");
    const p = new Fields(block as Record<string, unknown>, `${where} rope_parameters`, {
      rope_theta: f.raw("rope_theta"),
    });
    ropeTheta = p.positive("rope_theta");
  } else {
    ropeTheta = f.positive("rope_theta");
  }
  if (block === null) return { ropeTheta, ropeScaling: null };
  if (typeof block !== "object" || Array.isArray(block)) return f.bad(blockName, "an object or null", block);
  const b = block as Record<string, unknown>;
  const r = new Fields(b, `${where} ${blockName}`, { rope_type: b.type ?? "default" });
  const ropeType = r.oneOf("rope_type", ["default", "linear", "yarn", "llama3"] as const);
  if (b.type !== undefined && b.rope_type !== undefined && b.type !== b.rope_type) {
    throw new Error(
      `${where}: ${blockName} has "type" ${show(b.type)} and "rope_type" ${show(b.rope_type)}; they must agree`,
    );
  }
  const known = new Set(["type", "rope_type", "rope_theta", ...ROPE_KEYS[ropeType].map(([k]) => k)]);
  for (const k of Object.keys(b)) {
    if (known.has(k)) continue;
    if (k in ROPE_NOOP) r.only(k, ROPE_NOOP[k], `${k} other than its default`);
    else
      throw new Error(
        `${where}: ${blockName} has "${k}", which rope_type "${ropeType}" does not take (it takes: ${[...known].join(", ")})`,
      );
  }
  if (ropeType === "default") return { ropeTheta, ropeScaling: null };
  const s: RopeScaling = { ropeType };
  for (const [key, field] of ROPE_KEYS[ropeType]) {
    const required = key === "factor" || ropeType === "llama3";
    if (!required && !r.has(key)) continue;
    (s as unknown as Record<string, number>)[field] =
      key === "original_max_position_embeddings" ? r.int(key) : r.num(key);
  }
  return { ropeTheta, ropeScaling: s };
}

/** The rope_scaling object of config.json for `s` (keys present in `s` only). */
export function ropeScalingJson(s: RopeScaling): Record<string, unknown> {
  // Both spellings of the type: "rope_type" (transformers, vLLM) and "type" (DeepSeek's own code).
  const out: Record<string, unknown> = { rope_type: s.ropeType, type: s.ropeType };
  for (const [key, field] of ROPE_KEYS[s.ropeType]) if (s[field] !== undefined) out[key] = s[field];
  return out;
}
