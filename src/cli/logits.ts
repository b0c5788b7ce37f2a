// `r1lab logits`: run a Hugging Face model on given token ids and print one JSON object with the
// logits at the first and last position and the argmax at every position: the shape of
// tests/fixtures/hf-reference/*/reference.json, so r1lab can be compared with transformers (and
// with itself across devices) by a program. stdout carries only that JSON; notes go to stderr.
import { compile } from "../engine/compile.ts";
import { initEngine, tidy, toHost } from "../engine/index.ts";
import { fromArray } from "../engine/ops.ts";
import { type Params, refParams, residentState } from "../engine/params.ts";
import { loadModel } from "../hf/checkpoint.ts";
import type { ModelConfig } from "../model/config.ts";
import { causalInputs } from "../model/inputs.ts";
import { forward } from "../model/transformer.ts";
import { type Command, requireFlag, UsageError } from "./command.ts";

/** Parse "1,2,3" (spaces allowed) into token ids, each checked against the vocabulary size. */
export function parseIdList(raw: string, flag: string, vocabSize?: number): number[] {
  const parts = raw.split(",").map((s) => s.trim());
  if (parts.length === 0 || parts.some((s) => s === "")) {
    throw new UsageError(`${flag} must be a comma-separated list of token ids like 1,2,3, got '${raw}'`);
  }
  return parts.map((s) => {
    const id = Number(s);
    if (!/^\d+$/.test(s) || !Number.isSafeInteger(id))
      throw new UsageError(`${flag}: '${s}' is not a token id (a non-negative integer)`);
    if (vocabSize !== undefined && id >= vocabSize) {
      throw new UsageError(`${flag}: token id ${id} is outside the model's vocabulary (0..${vocabSize - 1})`);
    }
    return id;
  });
}

/** --device is cpu or webgpu (checked before the engine starts, as a usage error). */
export function checkDeviceFlag(device: unknown): void {
  if (device !== undefined && device !== "cpu" && device !== "webgpu") {
    throw new UsageError(`--device must be cpu or webgpu, got '${device}'`);
  }
}

export interface LogitsSummary {
  logits_first: number[];
  logits_last: number[];
  argmax_all: number[];
}

/**
 * Full-sequence forward (no cache) of one row of ids; the reference.json fields. On the `ort`
 * executor the forward is a compiled program, so it runs on onnxruntime (the WebGPU EP with
 * --device webgpu) and a model larger than jax-js's 4 GiB heap works; on `jax` it runs eagerly.
 */
export async function logitsSummary(p: Params, c: ModelConfig, ids: number[]): Promise<LogitsSummary> {
  const T = ids.length;
  const V = c.vocabSize;
  const run = (pp: Params, x: ReturnType<typeof fromArray>, io: ReturnType<typeof causalInputs>) =>
    tidy(() => forward(pp, c, x, io).logits);
  const logits = residentState()
    ? compile(run, { name: "logits" })(refParams(p), fromArray(ids, [1, T], "int32"), causalInputs(c, 1, T))
    : tidy(() => run(p, fromArray(ids, [1, T], "int32"), causalInputs(c, 1, T)));
  const host = await toHost(logits);
  logits.dispose();
  const argmaxAll: number[] = [];
  for (let t = 0; t < T; t++) {
    let best = 0;
    for (let i = 1; i < V; i++) if (host[t * V + i] > host[t * V + best]) best = i;
    argmaxAll.push(best);
  }
  return {
    logits_first: Array.from(host.subarray(0, V)),
    logits_last: Array.from(host.subarray((T - 1) * V, T * V)),
    argmax_all: argmaxAll,
  };
}

const cmd: Command = {
  name: "logits",
  summary: "print a model's logits (first/last position) and argmax (every position) as JSON",
  usage: "logits --model DIR_OR_ID --input-ids 1,2,3 [--device cpu|webgpu] [--revision REV]",
  options: {
    model: { type: "string", help: "Hugging Face model folder, or org/name in the HF cache" },
    "input-ids": { type: "string", help: "comma-separated token ids" },
    device: { type: "string", help: "cpu or webgpu (default: R1LAB_DEVICE, else cpu)" },
    executor: {
      type: "string",
      help: "ort or jax: what runs compiled steps (default: R1LAB_EXECUTOR, else ort)",
    },
    revision: { type: "string", help: "branch, tag or commit for an org/name model (default: main)" },
  },
  details:
    'Prints exactly one JSON object: {"logits_first": [...], "logits_last": [...], "argmax_all": [...]}.',
  run: (v) => run(v),
};

async function run(v: Record<string, any>): Promise<void> {
  const model = requireFlag(v, "model", "logits");
  const ids = parseIdList(requireFlag(v, "input-ids", "logits"), "--input-ids");
  checkDeviceFlag(v.device);
  await initEngine({ device: v.device, executor: v.executor });
  const m = await loadModel(model, { revision: v.revision });
  parseIdList(v["input-ids"], "--input-ids", m.config.vocabSize);
  if (ids.length > m.config.maxPositionEmbeddings) {
    throw new UsageError(
      `--input-ids has ${ids.length} tokens; the model takes at most ${m.config.maxPositionEmbeddings}`,
    );
  }
  const out = await logitsSummary(m.params, m.config, ids);
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

export default cmd;
