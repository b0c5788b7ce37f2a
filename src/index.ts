// r1lab's public API: what `import { ... } from "r1lab"` gives. Everything here is documented in
// docs/api.md; anything not exported here is internal and may change between versions.
//
// The order follows a session with the library: start the engine, load a model and its tokenizer,
// generate, evaluate and score with R1's protocol, compute rewards, train (SFT, GRPO, the runs),
// and move models in and out of Hugging Face's formats.

// Engine start-up (call initEngine once before anything touches a model) and memory.
export {
  type DeviceName,
  type EngineInfo,
  engineInfo,
  initEngine,
  probeWebGPU,
  resolveDevice,
} from "./engine/device.ts";
export { type Params, disposeParams, fromHost, paramCount, paramsToHost, toHost } from "./engine/params.ts";
export { tidy } from "./engine/scope.ts";

// Models: Hugging Face folders (qwen2, llama, deepseek_v3) and the tiny DeepSeek-style presets.
export {
  type LoadedModel,
  type LoadOptions,
  type ModelToSave,
  loadModel,
  saveModel,
} from "./hf/checkpoint.ts";
export { type ModelConfig, type ModelType, usesMla } from "./model/config.ts";
export { tinyDeepSeek, tinyDense } from "./model/presets.ts";
export { initParams } from "./model/init.ts";
export { type ForwardOptions, type ForwardOutput, forward } from "./model/transformer.ts";

// Tokenizers: tokenizer.json with chat templates, and the character tokenizer of the tiny runs.
export { type Tokenizer, loadTokenizer, tokenizerFromJson } from "./hf/tokenizer.ts";
export { CharTokenizer } from "./tasks/char-tokenizer.ts";

// Generation: batched sampling with a KV cache, and the backends that eval/distill use.
export { type GenerateOptions, type GenerateResult, generate } from "./generate/generate.ts";
export type { SamplingParams } from "./generate/sampling.ts";
export { type GenerationConfig, mergeTokenIds, samplingParams } from "./hf/generation-config.ts";
export { cacheBytesPerToken } from "./model/kv-cache.ts";
export type {
  ChatMessage,
  GenerationBackend,
  GenRequest,
  GenResult,
  SamplingOptions,
} from "./backends/types.ts";
export { NativeBackend, type NativeBackendOptions } from "./backends/native.ts";
export { OpenAIBackend, type OpenAIBackendOptions } from "./backends/openai.ts";
export { OnnxBackend, type OnnxBackendOptions } from "./backends/onnx.ts";

// Evaluation with R1's protocol: benchmarks, answer extraction and checking, pass@k and cons@k.
export { EVAL_TASK_NAMES, getEvalTask } from "./eval/tasks/index.ts";
export type { EvalProblem, EvalTask, ScoreOptions, ScoreResult } from "./eval/tasks/types.ts";
export { type EvalRunArgs, type EvalRunOutcome, runEval } from "./eval/run-eval.ts";
export { type ScoreRunArgs, scoreCompletionsFile } from "./eval/score-run.ts";
export type { EvalResults, SampleRecord } from "./eval/results.ts";
export { type Extracted, extractAnswer, stripThink } from "./eval/extract.ts";
export { verifyMath } from "./eval/math-equiv.ts";
export { checkMathAsync, VerifyPool, type VerifyPoolOptions } from "./eval/verify-pool.ts";
export { consAtK, pass1, passAtK, passAtKTable } from "./eval/metrics.ts";
export { createRewardServer, listenRewardServer, type RewardServerOptions } from "./eval/reward-server.ts";

// Rewards (rule-based, as in R1) and the synthetic tasks they score.
export {
  accuracyReward,
  combineRewards,
  consistencyReward,
  formatReward,
  REWARD_FUNCTIONS,
  type RewardFn,
} from "./rl/rewards.ts";
export { getSyntheticTask, problemsOf, SYNTHETIC_TASK_NAMES } from "./tasks/registry.ts";
export type { SyntheticTask, TaskExample } from "./tasks/types.ts";
export { applyTemplate, ZERO_TEMPLATE } from "./tasks/template.ts";

// Training: SFT, GRPO's pieces, and the whole runs (R1-Zero, the R1 pipeline, distillation).
export { type SftArgs, type SftConfig, type SftExample, sftTrain } from "./train/sft.ts";
export { chatToExamples } from "./train/sft-data.ts";
export { groupAdvantages, type ScaleRewards } from "./rl/advantages.ts";
export { type GrpoLossConfig, grpoLoss, type LossType } from "./rl/grpo-loss.ts";
export { type ZeroConfig, ZERO_DEFAULTS, ZERO_PRESETS, ZERO_SCHEMA, zeroPreset } from "./runs/zero-config.ts";
export { runZero } from "./runs/zero.ts";
export { type R1Config, R1_PRESETS, R1_SCHEMA, r1Preset } from "./runs/r1-config.ts";
export { runR1 } from "./runs/r1.ts";
export { type DistillConfig, runDistill } from "./runs/distill.ts";
export { runGrpo } from "./runs/grpo.ts";

// Hugging Face Hub and ONNX.
export { type DownloadOptions, type DownloadResult, downloadRepo } from "./hf/download.ts";
export { type ExportOptions, exportOnnx } from "./hf/onnx-export.ts";
