// `r1lab export-onnx`: write an r1lab / Hugging Face model (qwen2, llama, deepseek_v3) as an ONNX folder in
// the transformers.js layout (OUT/onnx/model.onnx + config.json + tokenizer files), which
// `r1lab eval --backend onnx`, transformers.js and onnxruntime load. By default the graph carries
// the Optimum KV-cache inputs/outputs (past_key_values.{i}.key/value -> present.{i}.key/value);
// --no-past writes the plain input_ids + attention_mask -> logits graph. See docs/evaluation.md.
import { initEngine } from "../engine/device.ts";
import { disposeParams } from "../engine/params.ts";
import { loadModel } from "../hf/checkpoint.ts";
import { exportable } from "../hf/onnx-decoder.ts";
import { exportOnnx } from "../hf/onnx-export.ts";
import { runEvalSettings } from "../hf/run-folder.ts";
import { type Command, requireFlag, UsageError } from "./command.ts";

const cmd: Command = {
  name: "export-onnx",
  summary: "export a model (qwen2, llama, deepseek_v3) to ONNX in the transformers.js folder layout",
  usage:
    "export-onnx --model DIR_OR_ID --out DIR [--no-past] [--file NAME.onnx] [--keep-safetensors] [--external-data auto|always|never]",
  options: {
    model: { type: "string", help: "r1lab checkpoint or Hugging Face folder, or org/name in the HF cache" },
    out: { type: "string", help: "output folder (replaced if it is a model folder)" },
    "no-past": {
      type: "boolean",
      help: "no past_key_values inputs (each decode step recomputes the prefix)",
    },
    file: { type: "string", default: "model.onnx", help: "file name under OUT/onnx/" },
    "keep-safetensors": { type: "boolean", help: "also keep model.safetensors in OUT" },
    "external-data": {
      type: "string",
      default: "auto",
      help: "weights in OUT/onnx/NAME.onnx_data: auto (when the graph passes 2 GiB), always or never",
    },
    revision: { type: "string", help: "branch, tag or commit for an org/name model (default: main)" },
  },
  details: [
    "Weights are stored as float32 initializers, inline or, for a graph over 2 GiB (protobuf's limit),",
    "in OUT/onnx/model.onnx_data beside it (ONNX external data, the layout of Optimum and transformers.js).",
    "DeepSeek-V3: MLA caches full per-head keys/values; MoE experts run densely; MTP modules are not exported.",
    "A checkpoint of an r1lab run (or the run folder) carries its prompt template, completion budget and",
    "held-out problems into OUT (r1lab_run.json, test_problems.jsonl), so eval --backend onnx scores what",
    "eval of the native checkpoint scores.",
  ].join("\n"),
  async run(v) {
    const model = requireFlag(v, "model", "export-onnx");
    const out = requireFlag(v, "out", "export-onnx");
    const externalData = String(v["external-data"]);
    if (externalData !== "auto" && externalData !== "always" && externalData !== "never")
      throw new UsageError(`--external-data must be auto, always or never, got '${externalData}'`);
    await initEngine({ device: "cpu" });
    const m = await loadModel(model, { revision: v.revision });
    try {
      const why = exportable(m.config);
      if (why) throw new UsageError(`--model ${m.dir}: ${why}`);
      const run = runEvalSettings(m.dir);
      const path = await exportOnnx(
        out,
        { config: m.config, params: m.params, tokenizer: m.tokenizer },
        {
          withPast: !v["no-past"],
          keepSafetensors: Boolean(v["keep-safetensors"]),
          fileName: v.file,
          externalData,
          run,
        },
      );
      console.log(`wrote ${path} (${v["no-past"] ? "no KV cache" : "with past_key_values"})`);
      if (run)
        console.log(
          `carried the run's prompt template, completion budget (${run.maxTokens ?? "none"})` +
            `${run.problems ? " and held-out problems" : ""} from ${run.source} into ${out}/r1lab_run.json`,
        );
    } finally {
      disposeParams(m.params);
    }
  },
};

export default cmd;
