// What the from-scratch runs (zero, r1, fp8-report) build from their configs: the synthetic task
// from `task` + `task_options`, and the tiny DeepSeek-style model from `model`, sized to the run's
// character tokenizer. One place, so the three runs cannot drift apart.
import type { ModelConfig } from "../model/config.ts";
import { tinyDeepSeek } from "../model/presets.ts";
import { ArithmeticTask } from "../tasks/arithmetic.ts";
import type { CharTokenizer } from "../tasks/char-tokenizer.ts";
import { CountdownTask } from "../tasks/countdown.ts";
import type { SyntheticTask } from "../tasks/types.ts";
import type { ZeroConfig } from "./zero-config.ts";

export function makeTask(task: string, t: ZeroConfig["task_options"]): SyntheticTask {
  const ops = [...t.ops].filter((x) => x !== " ") as ("+" | "-" | "*")[];
  if (task === "arithmetic")
    return new ArithmeticTask({ minTerms: t.min_terms, maxTerms: t.max_terms, min: 1, max: t.max_number, ops, testFraction: t.test_fraction });
  if (task === "countdown") return new CountdownTask({ count: t.max_terms, min: 1, max: t.max_number, ops, testFraction: t.test_fraction });
  throw new Error(`config.task: unknown task '${task}' (arithmetic or countdown)`);
}

/** The run's model: tinyDeepSeek with the config's sizes and the tokenizer's vocabulary and special ids. */
export function runModelConfig(m: ZeroConfig["model"], tok: CharTokenizer): ModelConfig {
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
