// Checkpoints split over several safetensors files, the way transformers' save_pretrained writes
// them: model-00001-of-00003.safetensors ... plus model.safetensors.index.json
//   {"metadata": {"total_size": <bytes of tensor data>}, "weight_map": {tensor name: shard file}}
// A checkpoint small enough for one shard is a single model.safetensors and no index.
//
//   openCheckpoint(dirOrFile): Checkpoint      one lazy TensorReader over a single file or all shards
//     (a folder with model.safetensors, preferred as in transformers, or model.safetensors.index.json;
//     or the path of a .safetensors file or of an index). Every shard's header is read and checked
//     at open: a missing shard, or a tensor the index lists but its shard lacks, is an error.
//   writeShardedSafetensors(dir, tensors, {maxShardBytes, metadata}): {files, totalSize}
//     Splits as huggingface_hub's split_torch_state_dict_into_shards does: tensors in the given
//     order fill a shard until the next would push it past maxShardBytes; a tensor larger than
//     maxShardBytes gets a shard of its own. Each file is written atomically, the index last; stale
//     shards of an earlier save in `dir` are removed. For an all-or-nothing checkpoint write into a
//     fresh folder and rename it (train/checkpoint.ts does).
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { basename, dirname, isAbsolute, join } from "node:path";
import { writeJsonAtomic } from "./atomic.ts";
import {
  openSafetensors,
  type SafetensorsFile,
  storedBytes,
  type TensorInfo,
  type TensorReader,
  type WriteTensor,
  writeSafetensors,
} from "./safetensors.ts";

export const SINGLE_FILE = "model.safetensors";
export const INDEX_FILE = "model.safetensors.index.json";
const SHARD_RE = /^model-\d{5}-of-\d{5}\.safetensors$/;

export interface Checkpoint extends TensorReader {
  /** Folder holding the files. */
  readonly dir: string;
  /** The safetensors files read, relative to `dir`. */
  readonly files: string[];
  /** The file (relative to `dir`) that holds tensor `name`. */
  fileOf(name: string): string;
}

/** transformers' shard file name: model-00002-of-00005.safetensors (1-based). */
export function shardFileName(index: number, count: number): string {
  const pad = (i: number) => String(i).padStart(5, "0");
  return `model-${pad(index)}-of-${pad(count)}.safetensors`;
}

function readIndex(indexPath: string): Map<string, string> {
  let index: unknown;
  try {
    index = JSON.parse(readFileSync(indexPath, "utf8"));
  } catch (e) {
    throw new Error(`${indexPath}: not valid JSON (${(e as Error).message})`);
  }
  const wm = (index as { weight_map?: unknown } | null)?.weight_map;
  if (typeof wm !== "object" || wm === null || Array.isArray(wm)) {
    throw new Error(`${indexPath}: "weight_map" must be an object {tensor name: shard file}`);
  }
  const map = new Map<string, string>();
  for (const [name, file] of Object.entries(wm)) {
    if (typeof file !== "string" || file === "" || isAbsolute(file) || file.split(/[\\/]/).includes("..")) {
      throw new Error(
        `${indexPath}: weight_map[${JSON.stringify(name)}] must be a file name in the folder, got ${JSON.stringify(file)}`,
      );
    }
    map.set(name, file);
  }
  return map;
}

/** Open a checkpoint folder (or one .safetensors file, or an index file) for lazy reads. */
export function openCheckpoint(dirOrFile: string): Checkpoint {
  let dir = dirOrFile;
  let single: string | null = null;
  let indexPath: string | null = null;
  if (existsSync(dirOrFile) && statSync(dirOrFile).isFile()) {
    dir = dirname(dirOrFile);
    if (dirOrFile.endsWith(".json")) indexPath = dirOrFile;
    else single = basename(dirOrFile);
  } else if (existsSync(join(dir, SINGLE_FILE))) single = SINGLE_FILE;
  else if (existsSync(join(dir, INDEX_FILE))) indexPath = join(dir, INDEX_FILE);
  else throw new Error(`${dirOrFile}: no ${SINGLE_FILE} or ${INDEX_FILE} there`);

  const open = new Map<string, SafetensorsFile>();
  const where = new Map<string, string>();
  const closeAll = () => {
    for (const f of open.values()) f.close();
  };
  try {
    if (single) {
      const f = openSafetensors(join(dir, single));
      open.set(single, f);
      for (const n of f.names()) where.set(n, single);
    } else {
      for (const [name, file] of readIndex(indexPath!)) {
        let f = open.get(file);
        if (!f) {
          const p = join(dir, file);
          if (!existsSync(p))
            throw new Error(
              `${indexPath}: shard ${file} (listed for tensor "${name}") is missing from ${dir}`,
            );
          f = openSafetensors(p);
          open.set(file, f);
        }
        if (!f.has(name))
          throw new Error(
            `${indexPath}: tensor "${name}" is listed in ${file} but that shard does not hold it`,
          );
        where.set(name, file);
      }
    }
  } catch (e) {
    closeAll();
    throw e;
  }

  const fileOf = (name: string): string => {
    const f = where.get(name);
    if (f === undefined) throw new Error(`${dirOrFile}: no tensor named "${name}" in this checkpoint`);
    return f;
  };
  const shard = (name: string) => open.get(fileOf(name))!;
  return {
    dir,
    files: [...open.keys()],
    fileOf,
    names: () => [...where.keys()],
    has: (name) => where.has(name),
    info: (name): TensorInfo => shard(name).info(name),
    read: (name) => shard(name).read(name),
    readRaw: (name) => shard(name).readRaw(name),
    close: closeAll,
  };
}

/** Split tensor names into shards of at most `maxShardBytes` (huggingface_hub's rule). */
export function planShards(tensors: Record<string, WriteTensor>, maxShardBytes: number): string[][] {
  if (!(maxShardBytes > 0)) throw new Error(`maxShardBytes must be positive, got ${maxShardBytes}`);
  const shards: string[][] = [];
  let current: string[] = [];
  let currentBytes = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const bytes = storedBytes(t);
    if (bytes > maxShardBytes) {
      shards.push([name]);
      continue;
    }
    if (currentBytes + bytes > maxShardBytes) {
      shards.push(current);
      current = [];
      currentBytes = 0;
    }
    current.push(name);
    currentBytes += bytes;
  }
  if (current.length > 0 || shards.length === 0) shards.push(current);
  return shards;
}

/**
 * Write `tensors` into `dir` as transformers does (see the header). maxShardBytes defaults to
 * 5 GB (5e9 bytes, transformers' "5GB"); metadata defaults to {format: "pt"}.
 */
export function writeShardedSafetensors(
  dir: string,
  tensors: Record<string, WriteTensor>,
  opts: { maxShardBytes?: number; metadata?: Record<string, string> } = {},
): { files: string[]; totalSize: number } {
  const metadata = opts.metadata ?? { format: "pt" };
  const plan = planShards(tensors, opts.maxShardBytes ?? 5e9);
  const files = plan.length === 1 ? [SINGLE_FILE] : plan.map((_, i) => shardFileName(i + 1, plan.length));
  let totalSize = 0;
  const weightMap: Record<string, string> = Object.create(null);
  plan.forEach((names, i) => {
    const part: Record<string, WriteTensor> = Object.create(null);
    for (const n of names) {
      part[n] = tensors[n];
      totalSize += storedBytes(tensors[n]);
      weightMap[n] = files[i];
    }
    writeSafetensors(join(dir, files[i]), part, metadata);
  });
  if (plan.length > 1) {
    const sorted = Object.fromEntries(
      Object.keys(weightMap)
        .sort()
        .map((k) => [k, weightMap[k]]),
    );
    writeJsonAtomic(join(dir, INDEX_FILE), { metadata: { total_size: totalSize }, weight_map: sorted });
  }
  // Remove what an earlier save left behind and this one did not rewrite.
  for (const f of readdirSync(dir)) {
    const stale = SHARD_RE.test(f) || f === SINGLE_FILE || f === INDEX_FILE;
    const written = files.includes(f) || (f === INDEX_FILE && plan.length > 1);
    if (stale && !written) rmSync(join(dir, f), { force: true });
  }
  return { files, totalSize };
}
