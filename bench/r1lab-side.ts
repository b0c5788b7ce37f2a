// The r1lab side of `pnpm bench`: each function runs one workload with r1lab's own code paths
// (Trainer + lmLoss, generate(), grpoRollouts + tokenLogprobs + grpoLoss, evaluateSynthetic) and
// returns wall-clock seconds per timed repetition, after untimed warm-up repetitions that include
// the jit compilation. The PyTorch peer (torch_bench.py) mirrors each workload.
import { compile } from "../src/engine/compile.ts";
import { type Params, disposeParams, refParams } from "../src/engine/params.ts";
import { Rng } from "../src/engine/rng.ts";
import { tidy } from "../src/engine/scope.ts";
import { generate } from "../src/generate/generate.ts";
import type { ModelConfig } from "../src/model/config.ts";
import { initParams } from "../src/model/init.ts";
import { tinyDeepSeek } from "../src/model/presets.ts";
import { evaluateSynthetic } from "../src/rl/evaluate.ts";
import {
  GRPO_ADAMW,
  type GrpoBatch,
  type GrpoLossConfig,
  grpoLoss,
  tokenLogprobs,
} from "../src/rl/grpo-loss.ts";
import { charPolicy } from "../src/rl/rollout.ts";
import { grpoRollouts } from "../src/rl/grpo.ts";
import { REWARD_FUNCTIONS } from "../src/rl/rewards.ts";
import { ZERO_TEMPLATE, applyTemplate } from "../src/tasks/template.ts";
import { ArithmeticTask } from "../src/tasks/arithmetic.ts";
import { CharTokenizer } from "../src/tasks/char-tokenizer.ts";
import type { TaskExample } from "../src/tasks/types.ts";
import { makeLmBatch } from "../src/train/batch.ts";
import { type LmBatch, lmLoss } from "../src/train/lm-loss.ts";
import { Trainer } from "../src/train/trainer.ts";
import type { TrainShape } from "./models.ts";

export interface Reps {
  warmup: number;
  steps: number;
}

/** Seconds of each timed call of fn (warm-up calls first, untimed). */
export async function timed(
  fn: () => Promise<unknown>,
  r: Reps,
  onStep?: (s: number) => void,
): Promise<number[]> {
  for (let i = 0; i < r.warmup; i++) await fn();
  const out: number[] = [];
  for (let i = 0; i < r.steps; i++) {
    const t0 = performance.now();
    await fn();
    out.push((performance.now() - t0) / 1000);
    onStep?.(out[out.length - 1]);
  }
  return out;
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** A language-model trainer on random tokens of the shape (next-token CE, AdamW, clip 1.0). */
export function lmTrainer(s: TrainShape, seed = 0): { trainer: Trainer<LmBatch>; nextBatch: () => LmBatch } {
  const c = s.config;
  const w = { mtpLambda: 0, balanceAlpha: 0 };
  const trainer = new Trainer<LmBatch>({
    model: c,
    params: initParams(c, seed, { withMtp: false }),
    loss: (t, b, batch) => lmLoss(t, b, c, batch, w),
    optimizer: { weightDecay: 0.01 },
  });
  const rng = Rng.stream(seed, "bench-batch");
  const nextBatch = () => {
    const seqs = Array.from({ length: s.batch }, () => ({
      ids: Array.from({ length: s.seq + 1 }, () => rng.int(c.vocabSize)),
      lossStart: 1,
    }));
    return makeLmBatch(c, seqs, s.seq, 0);
  };
  return { trainer, nextBatch };
}

/** Training tokens/s: one Trainer.update per repetition (batch building included). */
export async function trainSeconds(s: TrainShape, r: Reps): Promise<number[]> {
  const { trainer, nextBatch } = lmTrainer(s);
  const ts = await timed(() => trainer.update(nextBatch(), 1e-3), r);
  disposeParams(trainer.params);
  disposeParams({ m: trainer.optState.m, v: trainer.optState.v });
  return ts;
}

/** Greedy generation of `newTokens` after random prompts of length `prompt`, KV cache, no early stop. */
export async function generateSeconds(
  c: ModelConfig,
  batch: number,
  prompt: number,
  newTokens: number,
  r: Reps,
): Promise<number[]> {
  const p = initParams(c, 0, { withMtp: false });
  const rng = Rng.stream(0, "bench-prompts");
  const prompts = Array.from({ length: batch }, () =>
    Array.from({ length: prompt }, () => rng.int(c.vocabSize)),
  );
  const ts = await timed(
    () =>
      generate(p, c, prompts, {
        maxNewTokens: newTokens,
        eosTokenIds: [],
        seed: 0,
        temperature: 0,
        topP: 1,
        topK: 0,
      }),
    r,
  );
  disposeParams(p);
  return ts;
}

/** The synthetic-task setting of the GRPO and eval benchmarks: arithmetic, character tokenizer. */
export function taskSetting(nProblems: number) {
  const task = new ArithmeticTask({});
  const problems = task.generate("train", nProblems, 0);
  const tok = CharTokenizer.forTexts([
    ZERO_TEMPLATE,
    "0123456789+-*/() =;",
    ...problems.map((e) => e.prompt),
  ]);
  // No end-of-sequence id can be sampled: every completion runs to max_completion_length, so the
  // work per step is fixed and matches the PyTorch peer's.
  Object.defineProperty(tok, "eosId", { value: -1 });
  const c = tinyDeepSeek(tok.tokens.length, { numNextnPredictLayers: 0 });
  const promptLen = Math.max(...problems.map((e) => tok.encode(applyTemplate(e.prompt)).length + 1));
  return { task, problems, tok, c, promptLen };
}

export interface GrpoShape {
  prompts: number;
  numGenerations: number;
  maxCompletionLength: number;
  beta: number;
  temperature: number;
}

/** One GRPO step split into rollout (sample + score + batch), reference log-probs, and update. */
export async function grpoSeconds(
  g: GrpoShape,
  r: Reps,
): Promise<{
  rollout: number[];
  reference: number[];
  update: number[];
  seq: number;
  promptLen: number;
  config: ModelConfig;
}> {
  const { problems, tok, c, promptLen } = taskSetting(g.prompts * (r.warmup + r.steps));
  const seqLen = promptLen + g.maxCompletionLength;
  const lossCfg: GrpoLossConfig = {
    lossType: "grpo",
    beta: g.beta,
    epsilon: 0.2,
    epsilonHigh: 0.28,
    maxCompletionLength: g.maxCompletionLength,
    temperature: g.temperature,
  };
  const ref = initParams(c, 1, { withMtp: false });
  const trainer = new Trainer<GrpoBatch>({
    model: c,
    params: initParams(c, 0, { withMtp: false }),
    loss: (t, b, batch) => grpoLoss(t, b, c, batch, lossCfg),
    optimizer: GRPO_ADAMW,
  });
  const refLogp = compile((p: Params, ids: any, targets: any, io: any) =>
    tidy(() => tokenLogprobs(p, c, ids, targets, io, g.temperature).picked),
  );
  const rewardFns = [
    { name: "accuracy", fn: REWARD_FUNCTIONS.accuracy, weight: 1 },
    { name: "format", fn: REWARD_FUNCTIONS.format, weight: 0.5 },
  ];
  const out = {
    rollout: [] as number[],
    reference: [] as number[],
    update: [] as number[],
    seq: seqLen,
    promptLen,
    config: c,
  };
  for (let step = 0; step < r.warmup + r.steps; step++) {
    const t0 = performance.now();
    const batch = (
      await grpoRollouts(
        trainer.params,
        charPolicy(c, tok, ZERO_TEMPLATE, rewardFns),
        () => problems.slice(step * g.prompts, (step + 1) * g.prompts) as TaskExample[],
        {
          numGenerations: g.numGenerations,
          maxCompletionLength: g.maxCompletionLength,
          temperature: g.temperature,
          topP: 1,
          topK: 0,
          seed: step,
          scaleRewards: "group",
          dynamicSampling: false,
          maxResampleRounds: 0,
          seqLen,
        },
      )
    ).batches[0];
    const t1 = performance.now();
    if (g.beta > 0) {
      batch.refLogp = refLogp(refParams(ref), batch.ids.ref, batch.targets.ref, refParams(batch.io));
      await batch.refLogp.ref.data();
    }
    const t2 = performance.now();
    await trainer.update(batch, 1e-6);
    const t3 = performance.now();
    if (step >= r.warmup) {
      out.rollout.push((t1 - t0) / 1000);
      out.reference.push((t2 - t1) / 1000);
      out.update.push((t3 - t2) / 1000);
    }
  }
  disposeParams(ref);
  disposeParams(trainer.params);
  disposeParams({ m: trainer.optState.m, v: trainer.optState.v });
  return out;
}

/** Held-out evaluation with R1's sampling (k samples per problem, temperature 0.6, top-p 0.95). */
export async function evalSeconds(
  nProblems: number,
  k: number,
  maxCompletionLength: number,
  r: Reps,
): Promise<{ seconds: number[]; promptLen: number; config: ModelConfig }> {
  const { problems, tok, c, promptLen } = taskSetting(nProblems);
  const p = initParams(c, 0, { withMtp: false });
  const opts = {
    k,
    temperature: 0.6,
    topP: 0.95,
    maxCompletionLength,
    seed: 0,
    template: ZERO_TEMPLATE,
    batchSize: nProblems * k,
  };
  const seconds = await timed(() => evaluateSynthetic(p, c, tok, problems, opts), r);
  disposeParams(p);
  return { seconds, promptLen, config: c };
}
