// The resumable state of an `r1lab grpo` run in <out>/checkpoint: the trained model (a Hugging
// Face folder with the tokenizer) or the LoRA adapter in PEFT's format, AdamW's moments and
// trainer_state.json (optimizer steps and generation rounds done). Written like every checkpoint
// (train/checkpoint.ts), into a temporary sibling renamed into place, so a kill -9 leaves the
// previous checkpoint or the new one. Everything random in a run is drawn from (seed, round), so
// these are all a resumed run needs to continue exactly as if never stopped.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeJsonAtomic } from "../engine/atomic.ts";
import type { AdamWState } from "../engine/optim.ts";
import type { Params } from "../engine/params.ts";
import { toHfConfig } from "../hf/config.ts";
import { loadAdapter, saveAdapter } from "../hf/peft.ts";
import type { ModelConfig } from "../model/config.ts";
import type { LoraConfig } from "../model/lora.ts";
import { readMoments, readTree, writeFolderAtomic, writeMoments, writeTree } from "../train/checkpoint.ts";
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
  await writeFolderAtomic(dir, async (tmp) => {
    if (o.lora) await saveAdapter(tmp, o.trainable, o.lora, o.baseModel);
    else {
      // A model folder transformers loads (all tensors, the tokenizer), plus the optimizer state.
      writeJsonAtomic(join(tmp, "config.json"), toHfConfig(o.config));
      await writeTree(join(tmp, "model.safetensors"), o.trainable);
      if (o.tokenizer) saveTokenizer(o.tokenizer, tmp);
    }
    await writeMoments(tmp, o.opt);
    writeJsonAtomic(join(tmp, "trainer_state.json"), { ...o.state, optimizer_step: o.opt.step });
  });
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
  return { trainable, opt: readMoments(dir, state.optimizer_step), state };
}
