// Where `r1lab eval`'s completions come from: the model named by --model located and checked for
// its backend (before any data is read, so a wrong path fails fast), then opened as a
// GenerationBackend: native (r1lab / Hugging Face weights in this process), onnx (onnxruntime) or
// openai (any OpenAI-compatible server).
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import type { GenerationBackend } from "../backends/types.ts";
import { UsageError } from "./command.ts";

export type BackendKind = "native" | "openai" | "onnx";

/** The model's place: a local folder (native, onnx) and the ONNX graph (onnx); null where not local. */
export interface ModelLocation {
  modelDir: string | null;
  onnxPath: string | null;
}

/** A clear error when nothing answers at the URL (before any retry/backoff loop). */
async function checkReachable(url: string): Promise<void> {
  const models = `${url.replace(/\/+$/, "").replace(/\/v1$/, "")}/v1/models`;
  try {
    await fetch(models, { signal: AbortSignal.timeout(10_000) });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    throw new UsageError(
      `--model ${url}: cannot reach the server (${cause?.code ?? cause?.message ?? (e as Error).message}); is it running?`,
    );
  }
}

/** Check --model for its backend: an ONNX folder or file, a model folder (or hub id), or a reachable server. */
export async function locateModel(a: {
  backendKind: BackendKind;
  model: string;
  onnxFile?: string;
}): Promise<ModelLocation> {
  const { model } = a;
  if (a.backendKind === "onnx") {
    if (/^https?:\/\//.test(model))
      throw new UsageError(
        `--backend onnx: --model must be an ONNX model folder or .onnx file, got the URL ${model}`,
      );
    const { resolveOnnxModel } = await import("../backends/onnx.ts");
    try {
      const { dir, onnxPath } = resolveOnnxModel(model, a.onnxFile);
      return { modelDir: dir, onnxPath };
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  }
  if (a.backendKind === "native") {
    if (/^https?:\/\//.test(model)) throw new UsageError(`--model ${model} is a URL: use --backend openai`);
    const local = resolve(model);
    if (!existsSync(local)) return { modelDir: null, onnxPath: null }; // a hub id, resolved by the loader
    if (!existsSync(join(local, "config.json")))
      throw new UsageError(
        `--model ${local}: no config.json there (not an r1lab or Hugging Face model folder)`,
      );
    return { modelDir: local, onnxPath: null };
  }
  if (!/^https?:\/\//.test(model))
    throw new UsageError(
      `--backend openai: --model must be the server URL (or set OPENAI_BASE_URL and give the model name), got '${model}'`,
    );
  await checkReachable(model);
  return { modelDir: null, onnxPath: null };
}

export interface BackendArgs {
  backendKind: BackendKind;
  model: string;
  modelName?: string;
  batchSize: number;
  concurrency: number;
  endpoint: "chat" | "completions";
  device?: string;
  executor?: string;
  apiKeyEnv?: string;
}

/** Open the backend; `bosPrefix`: prompts get the model's BOS first (r1lab's synthetic-task models). */
export async function openBackend(
  a: BackendArgs,
  where: ModelLocation,
  bosPrefix: boolean,
): Promise<GenerationBackend> {
  if (a.backendKind === "native") {
    const { initEngine } = await import("../engine/device.ts");
    const { NativeBackend } = await import("../backends/native.ts");
    await initEngine({ device: a.device, executor: a.executor });
    return NativeBackend.load({ model: where.modelDir ?? a.model, batchSize: a.batchSize, bosPrefix });
  }
  if (a.backendKind === "onnx") {
    const { OnnxBackend } = await import("../backends/onnx.ts");
    return OnnxBackend.load({ model: where.onnxPath as string, batchSize: a.batchSize, bosPrefix });
  }
  const { OpenAIBackend } = await import("../backends/openai.ts");
  return new OpenAIBackend({
    baseUrl: a.model,
    model: a.modelName,
    endpoint: a.endpoint,
    apiKeyEnv: a.apiKeyEnv,
    concurrency: a.concurrency,
  });
}
