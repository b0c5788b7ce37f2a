// Which tensors a Hugging Face checkpoint of a given ModelConfig holds, checked in one pass so that a
// wrong checkpoint fails with ONE error listing every missing, unexpected and mis-shaped tensor (with
// the file each came from) instead of failing on the first.
//
// The expected set is paramShapes(config) under HF names. Accepted besides it, and not loaded:
//   lm_head.weight when the embeddings are tied (transformers ignores it too);
//   *.rotary_emb.inv_freq (a buffer older transformers versions saved);
//   <weight>_scale_inv next to an F8_E4M3 weight (its 128x128 block scales: fp8.ts);
//   the MTP module's own copies of the shared embedding and head, as DeepSeek-V3 releases them
//   (model.layers.{L+k}.embed_tokens.weight, model.layers.{L+k}.shared_head.head.weight).
// MTP modules (layers L .. L+D-1) are loaded when the file has them; transformers' save_pretrained
// drops them, so their absence is fine. A missing e_score_correction_bias (the aux-loss-free routing
// bias, which some exports omit) starts at zeros, its value before any balancing update.

import type { ModelConfig } from "../model/config.ts";
import { paramShapes } from "../model/init.ts";

/** One tensor as the checkpoint stores it. */
export interface StoredTensor {
  name: string;
  dtype: string;
  shape: number[];
  /** The file that holds it (relative to the checkpoint folder). */
  file: string;
}

export interface TensorPlan {
  /** Tensors to read, in model order, with the shape the model expects. */
  load: { name: string; shape: number[] }[];
  /** Tensors the model needs that the checkpoint lacks and that start at zero. */
  zeros: { name: string; shape: number[] }[];
  /** The checkpoint holds the MTP modules (and they are loaded). */
  hasMtp: boolean;
}

/** A checkpoint whose tensors do not match its config; `problems` has one line per tensor. */
export class CheckpointMismatchError extends Error {
  override name = "CheckpointMismatchError";
  constructor(
    readonly where: string,
    readonly problems: string[],
    summary: string,
  ) {
    super(
      `${where}: ${summary} (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n  ${problems.join("\n  ")}`,
    );
  }
}

/** Weight dtypes r1lab reads into float32. */
export const LOADABLE_DTYPES = ["F32", "F16", "BF16", "F8_E4M3"];

const fmt = (s: number[]) => `[${s.join(", ")}]`;
const sameShape = (a: number[], b: number[]) => a.length === b.length && a.every((x, i) => x === b[i]);

function layerIndex(name: string): number | null {
  const m = /^model\.layers\.(\d+)\./.exec(name);
  return m ? Number(m[1]) : null;
}

/** Names of the DeepSeek-V3 MTP copies of the shared embedding and head, for module k (0-based). */
export function mtpSharedCopies(c: ModelConfig, k: number): string[] {
  const pre = `model.layers.${c.numHiddenLayers + k}`;
  return [`${pre}.embed_tokens.weight`, `${pre}.shared_head.head.weight`];
}

/**
 * Check `stored` against what `c` needs and say what to load. Throws CheckpointMismatchError listing
 * every problem; `where` names the checkpoint (folder) in the message.
 */
export function planTensors(c: ModelConfig, stored: StoredTensor[], where: string): TensorPlan {
  const L = c.numHiddenLayers;
  const D = c.numNextnPredictLayers;
  const isMtp = (name: string) => {
    const i = layerIndex(name);
    return i !== null && i >= L && i < L + D;
  };
  const hasMtp = stored.some((t) => isMtp(t.name));
  const expected = paramShapes(c, hasMtp);
  const byName = new Map(stored.map((t) => [t.name, t]));
  const vd = [c.vocabSize, c.hiddenSize];
  // Accepted but not loaded, with the shape they must have (null: any shape).
  const ignorable = new Map<string, number[] | null>();
  if (c.tieWordEmbeddings) ignorable.set("lm_head.weight", vd);
  if (hasMtp) for (let k = 0; k < D; k++) for (const n of mtpSharedCopies(c, k)) ignorable.set(n, vd);
  for (const t of stored) {
    if (t.name.endsWith(".rotary_emb.inv_freq")) ignorable.set(t.name, null);
    const w = t.name.endsWith("_scale_inv") ? byName.get(t.name.slice(0, -"_scale_inv".length)) : undefined;
    if (w?.dtype === "F8_E4M3") ignorable.set(t.name, null);
  }

  const missing: string[] = [];
  const shapes: string[] = [];
  const dtypes: string[] = [];
  const plan: TensorPlan = { load: [], zeros: [], hasMtp };
  for (const [name, shape] of Object.entries(expected)) {
    const t = byName.get(name);
    if (!t) {
      if (name.endsWith(".e_score_correction_bias")) plan.zeros.push({ name, shape });
      else missing.push(`missing: ${name} ${fmt(shape)}`);
      continue;
    }
    if (!sameShape(t.shape, shape)) {
      shapes.push(`shape mismatch: ${name} is ${fmt(t.shape)} in ${t.file}, config.json needs ${fmt(shape)}`);
    } else if (!LOADABLE_DTYPES.includes(t.dtype)) {
      dtypes.push(
        `unsupported dtype: ${name} is ${t.dtype} in ${t.file} (readable: ${LOADABLE_DTYPES.join(", ")})`,
      );
    } else if (t.dtype === "F8_E4M3" && !byName.has(`${name}_scale_inv`)) {
      dtypes.push(`missing block scales: ${name} is F8_E4M3 in ${t.file} but ${name}_scale_inv is absent`);
    } else plan.load.push({ name, shape });
  }
  const unexpected: string[] = [];
  for (const t of stored) {
    if (t.name in expected) continue;
    if (!ignorable.has(t.name)) {
      unexpected.push(`unexpected: ${t.name} ${fmt(t.shape)} ${t.dtype} in ${t.file}`);
      continue;
    }
    const want = ignorable.get(t.name);
    if (want && !sameShape(t.shape, want)) {
      shapes.push(
        `shape mismatch: ${t.name} is ${fmt(t.shape)} in ${t.file}, config.json needs ${fmt(want)}`,
      );
    }
  }
  const problems = [...missing, ...unexpected, ...shapes, ...dtypes];
  if (problems.length > 0) {
    const mtp = D > 0 ? `, ${D} MTP module${D === 1 ? "" : "s"} ${hasMtp ? "present" : "absent"}` : "";
    throw new CheckpointMismatchError(
      where,
      problems,
      `the tensors do not match config.json (model_type ${c.modelType}, ${L} layers${mtp})`,
    );
  }
  return plan;
}
