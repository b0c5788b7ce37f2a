// The resumable state of an `r1lab grpo` run in <out>/checkpoint: the trained model (a Hugging
// Face folder with the tokenizer) or the LoRA adapter in PEFT's format, AdamW's moments and trainer_state.json (optimizer
// steps and generation rounds done). Written into a temporary sibling and renamed into place, so a
// kill -9 leaves the previous checkpoint or the new one. Everything random in a run is drawn from
// (seed, round), so these are all a resumed run needs to continue exactly as if never stopped.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { writeJsonAtomic } from "../engine/atomic.ts";
import type { AdamWState } from "../engine/optim.ts";
import type { Params } from "../engine/params.ts";
import { toHfConfig } from "../hf/config.ts";
import { loadAdapter, saveAdapter } from "../hf/peft.ts";
import type { ModelConfig } from "../model/config.ts";
import type { LoraConfig } from "../model/lora.ts";
import { readTree, writeTree } from "../train/checkpoint.ts";
import { saveTokenizer, type Tokenizer } from "../hf/tokenizer.ts";

export interface GrpoState {
  /** Optimizer steps done. */
  step: number;
  /** Generation rounds done (each is num_iterations steps). */
  round: number;
  /** Completion tokens trained on so far (TRL's num_tokens). */
  num_tokens: number;
}

export async function saveGrpoState(
  dir: string,
  o: {
    trainable: Params;
    opt: AdamWState;
    state: GrpoState;
    config: ModelConfig;
    lora: LoraConfig | null;
    baseModel: string;
    tokenizer: Tokenizer | null;
  },
): Promise<void> {
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  if (o.lora) await saveAdapter(tmp, o.trainable, o.lora, o.baseModel);
  else {
    // A model folder transformers loads (all tensors, the tokenizer), plus the optimizer state.
    writeJsonAtomic(join(tmp, "config.json"), toHfConfig(o.config));
    await writeTree(join(tmp, "model.safetensors"), o.trainable);
    if (o.tokenizer) saveTokenizer(o.tokenizer, tmp);
  }
  const moments: Params = {};
  for (const [k, a] of Object.entries(o.opt.m)) moments[`m.${k}`] = a;
  for (const [k, a] of Object.entries(o.opt.v)) moments[`v.${k}`] = a;
  await writeTree(join(tmp, "optimizer.safetensors"), moments);
  writeJsonAtomic(join(tmp, "trainer_state.json"), { ...o.state, optimizer_step: o.opt.step });
  const old = `${dir}.old-${process.pid}`;
  if (existsSync(dir)) renameSync(dir, old);
  renameSync(tmp, dir);
  rmSync(old, { recursive: true, force: true });
}

/** The checkpoint in `dir`, or null when there is none. */
export function loadGrpoState(
  dir: string,
  peft: boolean,
): { trainable: Params; opt: AdamWState; state: GrpoState } | null {
  const stateFile = join(dir, "trainer_state.json");
  if (!existsSync(stateFile)) return null;
  const state = JSON.parse(readFileSync(stateFile, "utf8")) as GrpoState & { optimizer_step: number };
  const trainable = peft ? loadAdapter(dir).lora : readTree(join(dir, "model.safetensors"));
  const m: Params = {};
  const v: Params = {};
  for (const [k, a] of Object.entries(readTree(join(dir, "optimizer.safetensors"))))
    (k.startsWith("m.") ? m : v)[k.slice(2)] = a;
  return { trainable, opt: { m, v, step: state.optimizer_step }, state };
}
