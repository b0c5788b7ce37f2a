// Export an r1lab model (qwen2, llama, deepseek_v3) as ONNX in the transformers.js folder layout:
//   OUT/config.json, generation_config.json, tokenizer.json, tokenizer_config.json  (saveModel)
//   OUT/onnx/model.onnx                                                   (onnx-decoder.ts graph)
//   OUT/onnx/model.onnx_data   the weights, when the graph would pass protobuf's 2 GiB limit
// so onnxruntime (src/backends/onnx.ts), transformers.js and other ONNX runtimes load it. The graph
// holds the weights as float32 initializers, inline or (onnx-external.ts) in the external data
// file beside it, the layout Optimum writes for models over 2 GiB. By default the graph has the Optimum
// decoder-with-past inputs and outputs (KV cache); withPast: false writes the plain
// input_ids + attention_mask -> logits graph.
// An export of a run's checkpoint carries the run's evaluation settings (r1lab_run.json: prompt
// template, completion budget) and its held-out problems (test_problems.jsonl), so `r1lab eval`
// scores the ONNX model on what it scores the native checkpoint on.
// The folder is assembled in a temporary sibling and renamed into place; an existing OUT is
// replaced only when it is a model folder (config.json) or empty.
import { copyFileSync, existsSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { openAtomicWriter } from "../engine/atomic.ts";
import { type Params, toHost } from "../engine/params.ts";
import type { ModelConfig } from "../model/config.ts";
import { type ModelToSave, saveModel } from "./checkpoint.ts";
import { decoderGraph, exportable, type HostWeights } from "./onnx-decoder.ts";
import { byteLength, modelProto } from "../engine/onnx-proto.ts";
import { externalize } from "./onnx-external.ts";
import { RUN_SETTINGS_FILE, type RunEvalSettings } from "./run-folder.ts";

/** protobuf's message size limit. */
export const ONNX_MAX_BYTES = 2 ** 31 - 1;

export interface ExportOptions {
  /** Optimum decoder-with-past layout (default true). */
  withPast?: boolean;
  /** Keep model.safetensors beside the ONNX file (default false). */
  keepSafetensors?: boolean;
  /** File name under onnx/ (default model.onnx). */
  fileName?: string;
  /**
   * Weights in `<fileName>_data` beside the graph: "auto" (default) when the graph would be larger
   * than maxInlineBytes, "always", or "never" (then a graph over the limit is an error).
   */
  externalData?: "auto" | "always" | "never";
  /** The size above which "auto" moves the weights out (default: protobuf's 2 GiB limit). */
  maxInlineBytes?: number;
  /** The evaluation settings of the run the model came from (runEvalSettings), carried into the folder. */
  run?: RunEvalSettings | null;
}

/** r1lab_run.json and a copy of the run's test_problems.jsonl in the export folder `dir`. */
function writeRunSettings(dir: string, run: RunEvalSettings): void {
  if (run.problems) copyFileSync(run.problems, join(dir, "test_problems.jsonl"));
  const carried = {
    template: run.template,
    max_completion_length: run.maxTokens,
    test_problems: run.problems ? "test_problems.jsonl" : null,
    from: run.source,
  };
  writeFileSync(join(dir, RUN_SETTINGS_FILE), `${JSON.stringify(carried, null, 2)}\n`);
}

/** Host copies of the parameters, for onnxModelBytes. */
export async function hostWeightsOf(p: Params): Promise<HostWeights> {
  const out: HostWeights = {};
  for (const [k, a] of Object.entries(p)) {
    const d = await toHost(a);
    out[k] = { data: d instanceof Float32Array ? d : Float32Array.from(d), shape: [...a.shape] };
  }
  return out;
}

/** The ONNX file's bytes, as chunks (weights referenced, not copied). */
export function onnxModelBytes(c: ModelConfig, w: HostWeights, withPast: boolean): Uint8Array[] {
  const spec = decoderGraph(c, w, { withPast });
  return modelProto(spec, {
    "r1lab.model_type": c.modelType,
    "r1lab.with_past": String(withPast),
  });
}

/** Write `chunks` to `path` atomically. */
export function writeChunks(path: string, chunks: Uint8Array[]): void {
  const wr = openAtomicWriter(path);
  try {
    for (const ch of chunks) wr.write(ch);
  } catch (e) {
    wr.abort();
    throw e;
  }
  wr.commit();
}

/** Export `m` to folder `outDir`; returns the path of the ONNX file. */
export async function exportOnnx(outDir: string, m: ModelToSave, opts: ExportOptions = {}): Promise<string> {
  const why = exportable(m.config);
  if (why) throw new Error(`export-onnx: ${why}`);
  const target = resolve(outDir);
  if (existsSync(target) && readdirSync(target).length > 0 && !existsSync(join(target, "config.json")))
    throw new Error(
      `export-onnx: ${target} exists and is not a model folder (no config.json); refusing to replace it`,
    );
  const fileName = opts.fileName ?? "model.onnx";
  if (!/^[\w.-]+\.onnx$/.test(fileName))
    throw new Error(`export-onnx: file name '${fileName}' must look like name.onnx`);

  const mode = opts.externalData ?? "auto";
  const withPast = opts.withPast ?? true;
  const spec = decoderGraph(m.config, await hostWeightsOf(m.params), { withPast });
  const meta = { "r1lab.model_type": m.config.modelType, "r1lab.with_past": String(withPast) };
  let chunks = modelProto(spec, meta);
  let data: Uint8Array[] | null = null;
  const inline = byteLength(chunks);
  if (mode === "always" || (mode === "auto" && inline > (opts.maxInlineBytes ?? ONNX_MAX_BYTES))) {
    const split = externalize(spec, `${fileName}_data`);
    chunks = modelProto(split.graph, meta);
    data = split.data;
  }
  if (byteLength(chunks) > ONNX_MAX_BYTES)
    throw new Error(
      `export-onnx: the graph would be ${(byteLength(chunks) / 2 ** 30).toFixed(2)} GiB, over protobuf's 2 GiB limit` +
        (mode === "never" ? " (use external data: --external-data auto)" : ""),
    );

  const stage = join(dirname(target), `.${basename(target)}.onnx-stage-${process.pid}`);
  rmSync(stage, { recursive: true, force: true });
  try {
    await saveModel(stage, m);
    if (!opts.keepSafetensors)
      for (const f of readdirSync(stage))
        if (/^model.*\.safetensors(\.index\.json)?$/.test(f)) rmSync(join(stage, f));
    writeChunks(join(stage, "onnx", fileName), chunks);
    if (data) writeChunks(join(stage, "onnx", `${fileName}_data`), data);
    if (opts.run) writeRunSettings(stage, opts.run);
  } catch (e) {
    rmSync(stage, { recursive: true, force: true });
    throw e;
  }
  const old = join(dirname(target), `.${basename(target)}.onnx-old-${process.pid}`);
  if (existsSync(target)) renameSync(target, old);
  renameSync(stage, target);
  rmSync(old, { recursive: true, force: true });
  return join(target, "onnx", fileName);
}
