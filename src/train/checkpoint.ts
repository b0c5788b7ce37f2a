// Training checkpoints: a Hugging Face model folder (config.json, model.safetensors,
// tokenizer.json) plus optimizer.safetensors (AdamW moments) and trainer_state.json. A checkpoint is
// written into a temporary folder and renamed into place, so a kill -9 leaves either the previous
// checkpoint or the new one, never half of one.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { writeJsonAtomic } from "../engine/atomic.ts";
import type { AdamWState } from "../engine/optim.ts";
import { type Params, disposeParams, fromHost, paramsToHost } from "../engine/params.ts";
import { openSafetensors, writeSafetensors } from "../engine/safetensors.ts";
import { toHfConfig } from "../hf/config.ts";
import type { ModelConfig } from "../model/config.ts";

export interface TrainerState {
  phase: string;
  step: number;
  [k: string]: unknown;
}

/** A parameter tree as one f32 safetensors file. */
export async function writeTree(path: string, tree: Params): Promise<void> {
  const host = await paramsToHost(tree);
  const tensors: Record<string, { dtype: "F32"; shape: number[]; data: Float32Array }> = {};
  for (const [k, v] of Object.entries(host)) tensors[k] = { dtype: "F32", shape: v.shape, data: v.data };
  writeSafetensors(path, tensors, { format: "pt" });
}

/** The tree writeTree wrote. */
export function readTree(path: string): Params {
  const f = openSafetensors(path);
  try {
    const out: Params = {};
    for (const name of f.names()) out[name] = fromHost(f.read(name), f.info(name).shape);
    return out;
  } finally {
    f.close();
  }
}

/**
 * Write a checkpoint folder atomically: `write` fills a temporary sibling, which then replaces
 * `dir` by renames, so a kill -9 leaves the previous folder or the new one.
 */
export async function writeFolderAtomic(dir: string, write: (tmp: string) => Promise<void>): Promise<void> {
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  await write(tmp);
  const old = `${dir}.old-${process.pid}`;
  if (existsSync(dir)) renameSync(dir, old);
  renameSync(tmp, dir);
  rmSync(old, { recursive: true, force: true });
}

/** AdamW's moments as optimizer.safetensors in `dir` (m.NAME, v.NAME). */
export async function writeMoments(dir: string, opt: AdamWState): Promise<void> {
  const moments: Params = {};
  for (const [k, a] of Object.entries(opt.m)) moments[`m.${k}`] = a;
  for (const [k, a] of Object.entries(opt.v)) moments[`v.${k}`] = a;
  await writeTree(join(dir, "optimizer.safetensors"), moments);
}

/** The moments writeMoments wrote, with the optimizer's step count. */
export function readMoments(dir: string, step: number): AdamWState {
  const m: Params = {};
  const v: Params = {};
  for (const [k, a] of Object.entries(readTree(join(dir, "optimizer.safetensors"))))
    (k.startsWith("m.") ? m : v)[k.slice(2)] = a;
  return { m, v, step };
}

export async function saveCheckpoint(
  dir: string,
  o: { config: ModelConfig; params: Params; opt?: AdamWState; state: TrainerState; tokenizerJson?: unknown },
): Promise<void> {
  await writeFolderAtomic(dir, async (tmp) => {
    writeJsonAtomic(join(tmp, "config.json"), toHfConfig(o.config));
    await writeTree(join(tmp, "model.safetensors"), o.params);
    if (o.tokenizerJson) writeJsonAtomic(join(tmp, "tokenizer.json"), o.tokenizerJson);
    if (o.opt) await writeMoments(tmp, o.opt);
    writeJsonAtomic(join(tmp, "trainer_state.json"), { ...o.state, optimizer_step: o.opt?.step ?? 0 });
  });
}

export function loadCheckpoint(dir: string): { params: Params; opt: AdamWState | null; state: TrainerState } {
  const state = JSON.parse(readFileSync(join(dir, "trainer_state.json"), "utf8")) as TrainerState & {
    optimizer_step: number;
  };
  const params = readTree(join(dir, "model.safetensors"));
  const opt = existsSync(join(dir, "optimizer.safetensors")) ? readMoments(dir, state.optimizer_step) : null;
  return { params, opt, state };
}

/**
 * Where an interrupted loop picks up: the parameters, AdamW moments and step of the checkpoint in
 * `dir` (a stage's partial checkpoint), or null when there is none.
 */
export function resumeFrom(
  dir: string,
): { params: Params; opt: AdamWState | undefined; step: number } | null {
  if (!existsSync(join(dir, "trainer_state.json"))) return null;
  const c = loadCheckpoint(dir);
  return { params: c.params, opt: c.opt ?? undefined, step: c.state.step };
}

/** Whether a stage finished: its final checkpoint folder holds a trainer state. */
export function isFinished(dir: string): boolean {
  return existsSync(join(dir, "trainer_state.json"));
}

/** Where a resumable stage keeps its checkpoints: `${dir}.partial` while it runs, `dir` when it is done. */
export interface StageCheckpoints {
  dir: string;
  /** The stage's name (trainer_state.json's phase). */
  stage: string;
  config: ModelConfig;
  tokenizerJson?: unknown;
  /** A partial checkpoint every this many steps. */
  checkpointEvery: number;
  /** The stage's length in steps. */
  steps: number;
}

/** After `done` steps: the partial checkpoint, with AdamW's moments, when one is due and the stage is not over. */
export async function savePartial(
  c: StageCheckpoints,
  done: number,
  tr: { params: Params; optState: AdamWState },
): Promise<void> {
  if (done % c.checkpointEvery !== 0 || done >= c.steps) return;
  await saveCheckpoint(`${c.dir}.partial`, {
    config: c.config,
    params: tr.params,
    opt: tr.optState,
    state: { phase: c.stage, step: done },
    tokenizerJson: c.tokenizerJson,
  });
}

/** The stage's end: AdamW's moments freed, `dir` written without them, the partial checkpoint dropped. */
export async function finishStage(
  c: StageCheckpoints,
  tr: { params: Params; optState: AdamWState },
): Promise<void> {
  disposeParams({ m: tr.optState.m, v: tr.optState.v });
  await saveCheckpoint(c.dir, {
    config: c.config,
    params: tr.params,
    state: { phase: c.stage, step: c.steps, done: true },
    tokenizerJson: c.tokenizerJson,
  });
  rmSync(`${c.dir}.partial`, { recursive: true, force: true }); // the finished checkpoint supersedes it
}
