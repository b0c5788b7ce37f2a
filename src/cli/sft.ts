// `r1lab sft`: supervised fine-tuning of a Hugging Face (or r1lab) model on conversations, as R1's
// cold-start and distillation stages do. Data: JSONL/JSON/Parquet files or a dataset folder with a
// `messages` column (open-r1 Mixture-of-Thoughts, OpenR1-Math), ShareGPT `conversations`, or
// prompt/completion; only assistant tokens are trained (src/train/sft-data.ts). Writes to --out:
// config.json (resolved, before any work), sft_metrics.jsonl, checkpoint/ (resumable), final/ (a
// Hugging Face folder with the tokenizer). See docs/sft-and-distillation.md.
import { resolveDevice } from "../engine/device.ts";
import { resolveExecutor } from "../engine/executor.ts";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { writeJsonAtomic } from "../engine/atomic.ts";
import { disposeParams } from "../engine/params.ts";
import { loadModel, saveModel } from "../hf/checkpoint.ts";
import { CharTokenizer } from "../tasks/char-tokenizer.ts";
import type { SftExample } from "../train/sft-batch.ts";
import { readSftRecords, recordsToCharExamples, recordsToExamples } from "../train/sft-loader.ts";
import { type SftConfig, sftEvalLoss, sftTrain } from "../train/sft.ts";
import { type Command, UsageError, numberFlag, requireFlag } from "./command.ts";
import { r1labVersion } from "./version.ts";

export interface SftRunConfig {
  model: string;
  data: string;
  split: string;
  limit: number | null;
  eval_data: string | null;
  /** R1-Zero prompt template for character-level (r1lab) models; null = the default. */
  template: string | null;
  device: string;
  /** ort or jax (engine/executor.ts). */
  executor?: string;
  sft: SftConfig;
  r1lab_version: string;
}

function charTokenizerOf(dir: string): CharTokenizer | null {
  try {
    return CharTokenizer.fromTokenizerJson(JSON.parse(readFileSync(join(dir, "tokenizer.json"), "utf8")));
  } catch {
    return null;
  }
}

function resolveConfig(v: Record<string, any>): SftRunConfig {
  const int = (name: string, min = 1) => numberFlag(v, name, { int: true, min });
  return {
    model: requireFlag(v, "model", "sft"),
    data: resolve(requireFlag(v, "data", "sft")),
    split: v.split,
    limit: v.limit ? int("limit") : null,
    eval_data: v["eval-data"] ? resolve(v["eval-data"]) : null,
    template: v.template ?? null,
    device: resolveDevice(v.device),
    executor: resolveExecutor(v.executor),
    sft: {
      learning_rate: numberFlag(v, "lr", { above: 0 }),
      max_steps: int("max-steps"),
      per_device_train_batch_size: int("batch-size"),
      gradient_accumulation_steps: int("grad-accum"),
      max_seq_length: int("max-seq-length", 2),
      packing: Boolean(v.packing),
      seed: int("seed", 0),
      warmup_steps: int("warmup-steps", 0),
      weight_decay: numberFlag(v, "weight-decay", { min: 0 }),
      lr_scheduler_type: v["lr-scheduler"],
      save_steps: int("save-steps"),
      eval_steps: v["eval-steps"] ? int("eval-steps") : undefined,
    },
    r1lab_version: r1labVersion(),
  };
}

const cmd: Command = {
  name: "sft",
  summary: "supervised fine-tuning on conversations (assistant tokens only), resumable",
  usage:
    "sft --model DIR_OR_ID --data FILE|DIR --out DIR [--max-steps N] [--lr LR] [--batch-size B] [--grad-accum G] [--max-seq-length L] [--packing] [--resume]",
  options: {
    model: {
      type: "string",
      help: "Hugging Face model folder or org/name in the HF cache (or an r1lab checkpoint)",
    },
    data: {
      type: "string",
      help: "SFT data: .jsonl/.json/.parquet or a dataset folder (messages, conversations or prompt+completion)",
    },
    split: { type: "string", default: "train", help: "split to read from a dataset folder" },
    limit: { type: "string", help: "use only the first N rows" },
    "eval-data": {
      type: "string",
      help: "held-out conversations: eval_loss every --eval-steps and at the end",
    },
    out: { type: "string", help: "output folder: config.json, sft_metrics.jsonl, checkpoint/, final/" },
    resume: { type: "boolean", help: "continue the run in --out with the settings in its config.json" },
    "max-steps": { type: "string", default: "100", help: "optimizer steps" },
    lr: { type: "string", default: "1e-5", help: "peak learning rate" },
    "lr-scheduler": { type: "string", default: "linear", help: "linear (to 0), cosine (to 10%) or constant" },
    "warmup-steps": { type: "string", default: "0", help: "linear warmup steps" },
    "weight-decay": { type: "string", default: "0", help: "AdamW weight decay" },
    "batch-size": { type: "string", default: "4", help: "per_device_train_batch_size: rows per micro-batch" },
    "grad-accum": {
      type: "string",
      default: "1",
      help: "gradient_accumulation_steps: micro-batches per optimizer step",
    },
    "max-seq-length": {
      type: "string",
      default: "1024",
      help: "tokens per row (longer examples are truncated)",
    },
    packing: { type: "boolean", help: "pack several examples per row (attention stays within each example)" },
    "save-steps": { type: "string", default: "50", help: "write checkpoint/ every N steps (and at the end)" },
    "eval-steps": { type: "string", help: "evaluate every N steps (with --eval-data)" },
    template: { type: "string", help: "r1lab character models: the R1-Zero prompt template ({problem})" },
    seed: { type: "string", default: "0", help: "data order seed" },
    device: { type: "string", help: "cpu or webgpu (default: R1LAB_DEVICE or cpu)" },
    executor: {
      type: "string",
      help: "ort or jax: what runs compiled steps (default: R1LAB_EXECUTOR, else ort)",
    },
  },
  details:
    "Loss: mean cross-entropy over assistant tokens (+ MTP loss when the model has MTP modules).\nSee docs/sft-and-distillation.md.",
  async run(v) {
    const out = resolve(requireFlag(v, "out", "sft"));
    const cfgPath = join(out, "config.json");
    let cfg: SftRunConfig;
    if (v.resume) {
      if (!existsSync(cfgPath))
        throw new UsageError(`--resume: ${cfgPath} does not exist (nothing to resume)`);
      cfg = JSON.parse(readFileSync(cfgPath, "utf8"));
    } else {
      if (existsSync(join(out, "checkpoint")))
        throw new UsageError(
          `--out ${out} already holds a run; pass --resume to continue it or choose another folder`,
        );
      cfg = resolveConfig(v);
      if (!["linear", "cosine", "constant"].includes(cfg.sft.lr_scheduler_type!))
        throw new UsageError(
          `--lr-scheduler must be linear, cosine or constant, got '${cfg.sft.lr_scheduler_type}'`,
        );
      mkdirSync(out, { recursive: true });
      writeJsonAtomic(cfgPath, cfg);
    }
    const { initEngine } = await import("../engine/device.ts");
    await initEngine({ device: cfg.device as "cpu" | "webgpu", executor: v.executor ?? cfg.executor });
    const m = await loadModel(cfg.model);
    const chars = charTokenizerOf(m.dir);
    if (!m.tokenizer && !chars)
      throw new UsageError(
        `--model ${cfg.model}: no tokenizer.json in ${m.dir}; SFT needs the model's tokenizer`,
      );
    const toExamples = async (path: string, limit: number | null): Promise<SftExample[]> => {
      const recs = await readSftRecords(path, { split: cfg.split, limit: limit ?? undefined });
      return chars
        ? recordsToCharExamples(chars, recs, cfg.template ?? undefined)
        : recordsToExamples(m.tokenizer!, recs);
    };
    const train = await toExamples(cfg.data, cfg.limit);
    const held = cfg.eval_data ? await toExamples(cfg.eval_data, null) : null;
    if (cfg.eval_data) {
      const { warnOverlap } = await import("../data/overlap.ts");
      await warnOverlap(cfg.data, cfg.eval_data, { trainSplit: cfg.split, evalSplit: cfg.split });
    }
    const padId = chars?.padId ?? m.tokenizer?.padTokenId ?? undefined;
    const evaluate = held
      ? async (p: typeof m.params) => ({
          loss: await sftEvalLoss(m.config, p, held, {
            maxSeqLength: cfg.sft.max_seq_length,
            batchSize: cfg.sft.per_device_train_batch_size,
            padId,
          }),
        })
      : undefined;
    const r = await sftTrain({
      config: m.config,
      params: m.params,
      train,
      cfg: cfg.sft,
      outDir: out,
      evaluate,
      padId,
      tokenizerJson: chars ? chars.toTokenizerJson() : undefined,
    });
    await saveModel(join(out, "final"), { config: m.config, params: r.params, tokenizer: m.tokenizer });
    disposeParams(r.params);
    const first = r.metrics[0];
    const last = r.metrics.at(-1)!;
    console.log(
      JSON.stringify({
        out,
        steps: last.step,
        examples: train.length,
        first_loss: first.loss,
        last_loss: last.loss,
        ...(last.eval_loss !== undefined ? { eval_loss: last.eval_loss } : {}),
        final: join(out, "final"),
      }),
    );
  },
};

export default cmd;
