// What the evaluation tests share (eval-run, onnx-backend, onnx-run-eval): a run folder as
// `r1lab zero` leaves it (checkpoints/final with the character tokenizer, config.json with the
// prompt template and completion budget, optionally test_problems.jsonl), the tiny dense model
// they put in it, JSON-lines files read back, and a command run with its console output held back.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { vi } from "vitest";
import type { Params } from "../../src/engine/params.ts";
import { saveModel } from "../../src/hf/checkpoint.ts";
import type { ModelConfig } from "../../src/model/config.ts";
import { tinyDense } from "../../src/model/presets.ts";
import { CharTokenizer } from "../../src/tasks/char-tokenizer.ts";

/** The rows of a JSON-lines file. */
export const jsonLines = (p: string) =>
  readFileSync(p, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l));

/** Run `f` with console.log, console.error and stderr held back; returns what it logged. */
export async function quiet(f: () => Promise<unknown>): Promise<string> {
  const log = vi.spyOn(console, "log").mockImplementation(() => {});
  const err = vi.spyOn(console, "error").mockImplementation(() => {});
  const write = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
  try {
    await f();
    return log.mock.calls.map((c) => c.join(" ")).join("\n");
  } finally {
    log.mockRestore();
    err.mockRestore();
    write.mockRestore();
  }
}

/** A one-layer dense model over the character tokenizer's vocabulary. */
export function tinyCharDense(tok: CharTokenizer): ModelConfig {
  return tinyDense(tok.vocabSize, {
    hiddenSize: 32,
    numHiddenLayers: 1,
    numAttentionHeads: 2,
    headDim: 16,
    intermediateSize: 48,
  });
}

export interface RunFolderOptions {
  config: ModelConfig;
  params: Params;
  /** The run's prompt template and grpo.max_completion_length (what evaluation of its checkpoint uses). */
  template: string;
  maxCompletionLength: number;
  name?: string;
  /** Held-out problems written to test_problems.jsonl. */
  problems?: object[];
}

/**
 * Write a run folder at `dir`; returns checkpoints/final's path and the model as saved there
 * (config, parameters, tokenizer files), for an export of the same model.
 */
export async function writeRunFolder(dir: string, o: RunFolderOptions) {
  const tok = new CharTokenizer();
  const model = {
    config: o.config,
    params: o.params,
    tokenizerJson: tok.toTokenizerJson(),
    tokenizerConfig: tok.toTokenizerConfigJson(256),
  };
  const checkpoint = join(dir, "checkpoints", "final");
  await saveModel(checkpoint, model);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, "config.json"),
    JSON.stringify({
      ...(o.name ? { name: o.name } : {}),
      template: o.template,
      grpo: { max_completion_length: o.maxCompletionLength },
    }),
  );
  if (o.problems)
    writeFileSync(join(dir, "test_problems.jsonl"), o.problems.map((p) => JSON.stringify(p)).join("\n"));
  return { checkpoint, model };
}
