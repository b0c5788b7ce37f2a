// What the from-scratch runs (zero, r1, fp8-report) build from their configs: the synthetic task
// from `task` + `task_options`, the held-out problems, the pretraining corpus, the tiny DeepSeek-style model from `model`
// sized to the run's character tokenizer, and how a (prompt, completion) pair becomes token ids.
// One place, so the runs cannot drift apart.
import type { ModelConfig } from "../model/config.ts";
import { tinyDeepSeek } from "../model/presets.ts";
import { ArithmeticTask } from "../tasks/arithmetic.ts";
import type { CharTokenizer } from "../tasks/char-tokenizer.ts";
import { type CorpusMix, buildCorpus } from "../tasks/corpus.ts";
import { CountdownTask } from "../tasks/countdown.ts";
import { applyTemplate } from "../tasks/template.ts";
import type { SyntheticTask, TaskExample } from "../tasks/types.ts";
import type { TokenSequence } from "../train/batch.ts";

/** The task settings of a run config: numbers from 1 to max_number, min_terms..max_terms operands, operators `ops`. */
export interface TaskOptions {
  min_terms: number;
  max_terms: number;
  max_number: number;
  ops: string;
  test_fraction: number;
}

/** The sizes of a run's tiny DeepSeek-style model. */
export interface ModelSizes {
  hidden_size: number;
  num_hidden_layers: number;
  n_routed_experts: number;
  moe_intermediate_size: number;
  intermediate_size: number;
}

export function makeTask(task: string, t: TaskOptions): SyntheticTask {
  const ops = [...t.ops].filter((x) => x !== " ") as ("+" | "-" | "*")[];
  if (task === "arithmetic")
    return new ArithmeticTask({
      minTerms: t.min_terms,
      maxTerms: t.max_terms,
      min: 1,
      max: t.max_number,
      ops,
      testFraction: t.test_fraction,
    });
  if (task === "countdown")
    return new CountdownTask({
      count: t.max_terms,
      min: 1,
      max: t.max_number,
      ops,
      testFraction: t.test_fraction,
    });
  throw new Error(`config.task: unknown task '${task}' (arithmetic or countdown)`);
}

/** The held-out problems: n of them (0 = every one the task has). */
export function heldOut(task: SyntheticTask, n: number, seed: number): TaskExample[] {
  return task.generate("test", Math.min(n || 10_000, task.countProblems?.("test") ?? 10_000), seed);
}

/** How many training problems to draw: `wanted`, capped at what the task has. */
export function trainCount(task: SyntheticTask, wanted: number): number {
  return Math.min(wanted, task.countProblems?.("train") ?? wanted);
}

/** The parts of a from-scratch run's config that say what its data is. */
export interface RunDataConfig {
  task: string;
  task_options: TaskOptions;
  seed: number;
  train_problems: number;
  eval: { n_problems: number };
  pretrain: { traces_per_problem: number };
}

/**
 * A from-scratch run's data: the task, its held-out problems, the pretraining corpus of traces
 * (styles drawn from `mix`, default corpus.ts's DEFAULT_MIX) and the training problems it covers.
 */
export function runData(cfg: RunDataConfig, mix?: Partial<CorpusMix>) {
  const task = makeTask(cfg.task, cfg.task_options);
  const test = heldOut(task, cfg.eval.n_problems, cfg.seed);
  const corpus = buildCorpus({
    task,
    problems: trainCount(task, cfg.train_problems),
    seed: cfg.seed,
    tracesPerProblem: cfg.pretrain.traces_per_problem,
    mix,
  });
  const trainProblems = [...new Map(corpus.map((it) => [it.example.id, it.example])).values()];
  return { task, test, corpus, trainProblems };
}

/** The run's model: tinyDeepSeek with the config's sizes and the tokenizer's vocabulary and special ids. */
export function runModelConfig(m: ModelSizes, tok: CharTokenizer): ModelConfig {
  return tinyDeepSeek(tok.tokens.length, {
    hiddenSize: m.hidden_size,
    numHiddenLayers: m.num_hidden_layers,
    nRoutedExperts: m.n_routed_experts,
    moeIntermediateSize: m.moe_intermediate_size,
    intermediateSize: m.intermediate_size,
    bosTokenId: tok.bosId,
    eosTokenId: tok.eosId,
    padTokenId: tok.padId,
  });
}

/** [BOS] + template(prompt) + completion + [EOS], with the loss from the completion on. */
export function encoder(
  tok: CharTokenizer,
  template: string,
): (prompt: string, completion: string) => TokenSequence {
  return (prompt, completion) => {
    const p = [tok.bosId, ...tok.encode(applyTemplate(prompt, template))];
    return { ids: [...p, ...tok.encode(completion), tok.eosId], lossStart: p.length };
  };
}
