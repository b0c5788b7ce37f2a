// What `r1lab grpo` trains: every weight of the model, or LoRA adapters over the frozen base (which
// is then also pi_ref, for free); the Trainer over them with the GRPO objective and the config's
// AdamW; the weights rollouts are sampled from (the adapters merged in); and, when the run folder
// has a checkpoint (grpo-state.ts), the tensors, AdamW moments and counters it continues from.
import { disposeParams, type Params } from "../engine/params.ts";
import { deriveSeed } from "../engine/rng.ts";
import type { LoadedModel } from "../hf/checkpoint.ts";
import { mergedParams } from "../hf/peft.ts";
import { initLora, type LoraConfig, loraScaling, mergeLora, resolveTargets } from "../model/lora.ts";
import { type GrpoBatch, type GrpoLossConfig, grpoObjective } from "../rl/grpo-loss.ts";
import { frozenCopy } from "../rl/grpo-update.ts";
import { Trainer } from "../train/trainer.ts";
import type { GrpoRunConfig } from "./grpo-config.ts";
import { type GrpoState, loadGrpoState } from "./grpo-state.ts";

/** PEFT's default target modules per model type. */
const PEFT_DEFAULT_TARGETS: Record<string, string[]> = {
  qwen2: ["q_proj", "v_proj"],
  llama: ["q_proj", "v_proj"],
};

export interface GrpoPolicy {
  tr: Trainer<GrpoBatch>;
  lora: LoraConfig | null;
  /** pi_ref for beta > 0 (the base model), else null. */
  ref: Params | null;
  /** Counters to continue from (zero for a fresh run). */
  state: GrpoState;
  resumed: boolean;
  /** The full weights to sample from now; give them back with `release`. */
  sampler(): Params;
  release(p: Params): void;
}

/** Set up the trained tensors (resuming from `checkpointDir` when it holds a checkpoint). */
export function grpoPolicy(
  cfg: GrpoRunConfig,
  m: LoadedModel,
  checkpointDir: string,
  resolveTargetsOrFail: <T>(f: () => T) => T,
): GrpoPolicy {
  const mc = m.config;
  let lora: LoraConfig | null = null;
  let trainable: Params;
  let frozen: Params = {};
  let ref: Params | null = null;
  if (cfg.use_peft) {
    const targets =
      cfg.lora_target_modules ??
      PEFT_DEFAULT_TARGETS[mc.modelType] ??
      (mc.qLoraRank !== null ? ["q_b_proj", "kv_b_proj"] : ["q_proj", "kv_b_proj"]);
    const l: LoraConfig = {
      r: cfg.lora_r,
      alpha: cfg.lora_alpha,
      dropout: cfg.lora_dropout,
      targetModules: targets[0] === "all-linear" ? "all-linear" : targets,
      useRslora: cfg.use_rslora,
    };
    const modules = resolveTargetsOrFail(() => resolveTargets(m.params, l.targetModules, mc.numHiddenLayers));
    trainable = initLora(m.params, modules, l, deriveSeed(cfg.seed, "lora"));
    frozen = m.params;
    ref = m.params;
    lora = l;
  } else {
    trainable = m.params;
    if (cfg.beta > 0) ref = frozenCopy(m.params);
  }
  const resumed = loadGrpoState(checkpointDir, cfg.use_peft);
  if (resumed) {
    if (cfg.use_peft) disposeParams(trainable);
    else for (const k of Object.keys(resumed.trainable)) m.params[k]?.dispose();
    trainable = cfg.use_peft ? resumed.trainable : { ...m.params, ...resumed.trainable };
  }
  const lossCfg: GrpoLossConfig = {
    lossType: cfg.loss_type,
    beta: cfg.beta,
    epsilon: cfg.epsilon,
    epsilonHigh: cfg.epsilon_high,
    maxCompletionLength: cfg.max_completion_length,
    temperature: cfg.temperature,
    importanceSamplingLevel: cfg.importance_sampling_level,
    gradientAccumulationSteps: cfg.gradient_accumulation_steps,
  };
  const scaling = lora ? loraScaling(lora) : 1;
  const tr = new Trainer<GrpoBatch>({
    model: mc,
    params: trainable,
    loss: lora
      ? (t, b, batch) => grpoObjective(mergeLora(b, t, scaling), mc, batch, lossCfg)
      : (t, b, batch) => grpoObjective({ ...t, ...b }, mc, batch, lossCfg),
    optimizer: {
      beta1: cfg.adam_beta1,
      beta2: cfg.adam_beta2,
      weightDecay: cfg.weight_decay,
      maxGradNorm: cfg.max_grad_norm,
    },
    optState: resumed?.opt,
    withMtp: false,
    frozen,
  });
  return {
    tr,
    lora,
    ref,
    state: resumed?.state ?? { step: 0, round: 0, num_tokens: 0 },
    resumed: resumed !== null,
    sampler: () => (lora ? mergedParams(m.params, tr.trainable, lora) : tr.params),
    release: (p) => {
      if (lora) for (const k of Object.keys(p)) if (p[k] !== m.params[k]) p[k].dispose();
    },
  };
}
