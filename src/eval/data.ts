// Reading benchmark data: a JSONL file, a JSON array, a Parquet file (hyparquet), or a folder as
// `hf download --repo-type dataset` leaves it (data/test-00000-of-00001.parquet,
// main/test-*.parquet, test.jsonl, ...), where the files of the requested split are found by name.
// Every row remembers its file and line (1-based; the row number for Parquet) so that a bad row
// gives an error that names where it is.

import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, extname, join, relative } from "node:path";
import { asyncBufferFromFile, parquetReadObjects } from "hyparquet";
import { JsonlError, streamJsonl } from "../engine/jsonl.ts";

export interface DataRow {
  fields: Record<string, unknown>;
  file: string;
  /** 1-based line (JSONL) or row number (Parquet, JSON array) within `file`. */
  line: number;
  /** 0-based index of the row over all files of the split, in order. */
  index: number;
}

export class DataError extends Error {
  override name = "DataError";
}

const DATA_EXT = new Set([".jsonl", ".json", ".parquet"]);

function listDataFiles(dir: string, depth = 0): string[] {
  if (depth > 4) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith(".")) continue; // .cache, .gitattributes
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) out.push(...listDataFiles(p, depth + 1));
    else if (DATA_EXT.has(extname(name))) out.push(p);
  }
  return out;
}

/** Whether a file (path relative to the dataset folder) belongs to `split` by its name or folder. */
function inSplit(rel: string, split: string): boolean {
  const stem = basename(rel).replace(/\.(jsonl|json|parquet)$/, "");
  if (
    stem === split ||
    stem.startsWith(`${split}-`) ||
    stem.startsWith(`${split}_`) ||
    stem.startsWith(`${split}.`)
  ) {
    return true;
  }
  return rel.split(/[\\/]/).slice(0, -1).includes(split);
}

/**
 * The data files of `split` under `path` (a file is returned as is). In a folder with several
 * configs (gsm8k's main/ and socratic/), the one named main or default is preferred; otherwise the
 * choice is an error that lists them. A folder with one data file uses it whatever its name.
 * With several split names, the first one that has files is used (AIME releases use train or test).
 */
export function resolveDataFiles(path: string, splits: string | string[] = "test"): string[] {
  const names = Array.isArray(splits) ? splits : [splits];
  if (!existsSync(path) || !statSync(path).isDirectory() || names.length === 1)
    return resolveSplit(path, names[0]);
  const all = listDataFiles(path);
  const split = names.find((n) => all.some((f) => inSplit(relative(path, f), n))) ?? names[0];
  return resolveSplit(path, split);
}

function resolveSplit(path: string, split: string): string[] {
  if (!existsSync(path)) throw new DataError(`data not found: ${path}`);
  if (!statSync(path).isDirectory()) return [path];
  const all = listDataFiles(path);
  if (all.length === 0) throw new DataError(`no .jsonl, .json or .parquet files under ${path}`);
  let files = all.filter((f) => inSplit(relative(path, f), split));
  if (files.length === 0) {
    if (all.length === 1) return all;
    const names = all.map((f) => relative(path, f)).join(", ");
    throw new DataError(
      `no files of split '${split}' under ${path} (found: ${names}); pass --split or a file`,
    );
  }
  const dirs = [...new Set(files.map((f) => dirname(relative(path, f))))];
  if (dirs.length > 1) {
    const preferred = dirs.find((d) => /(^|[\\/])(main|default)$/.test(d));
    if (!preferred) {
      throw new DataError(
        `split '${split}' is in several folders under ${path}: ${dirs.join(", ")}; pass one of them`,
      );
    }
    files = files.filter((f) => dirname(relative(path, f)) === preferred);
  }
  return files;
}

/** BigInt (Parquet INT64) becomes a number when exact, else a decimal string; containers recursively. */
function plain(v: unknown): unknown {
  if (typeof v === "bigint") return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (Array.isArray(v)) return v.map(plain);
  if (v instanceof Uint8Array) return new TextDecoder().decode(v);
  if (v !== null && typeof v === "object" && !(v instanceof Date)) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  }
  return v;
}

function readJsonl(file: string): { fields: Record<string, unknown>; line: number }[] {
  try {
    return Array.from(streamJsonl(file), ({ row, line }) => ({ fields: row, line }));
  } catch (e) {
    throw e instanceof JsonlError ? new DataError(e.message) : e;
  }
}

async function readOne(file: string): Promise<{ fields: Record<string, unknown>; line: number }[]> {
  const ext = extname(file);
  if (ext === ".parquet") {
    let rows: Record<string, unknown>[];
    try {
      rows = await parquetReadObjects({ file: await asyncBufferFromFile(file) });
    } catch (e) {
      throw new DataError(`${file}: cannot read Parquet (${(e as Error).message})`);
    }
    return rows.map((r, i) => ({ fields: plain(r) as Record<string, unknown>, line: i + 1 }));
  }
  if (ext === ".json") {
    const text = readFileSync(file, "utf8").trim();
    if (text.startsWith("[")) {
      let arr: unknown;
      try {
        arr = JSON.parse(text);
      } catch (e) {
        throw new DataError(`${file}: not valid JSON (${(e as Error).message})`);
      }
      return (arr as unknown[]).map((v, i) => {
        if (v === null || typeof v !== "object" || Array.isArray(v)) {
          throw new DataError(`${file}: item ${i + 1}: expected a JSON object`);
        }
        return { fields: v as Record<string, unknown>, line: i + 1 };
      });
    }
  }
  return readJsonl(file);
}

/** All rows of `split` under `path` (a file or a dataset folder), in file order. */
export async function readRows(path: string, opts: { split?: string | string[] } = {}): Promise<DataRow[]> {
  const out: DataRow[] = [];
  const files = resolveDataFiles(path, opts.split);
  for (const file of files) {
    for (const r of await readOne(file)) out.push({ ...r, file, index: out.length });
  }
  if (out.length === 0) throw new DataError(`${files.join(", ")}: no rows (the data is empty)`);
  return out;
}

/** The first present field among `names` (spellings), as a string; an error naming file, line, field otherwise. */
export function stringField(row: DataRow, names: string[], opts: { optional?: boolean } = {}): string {
  for (const n of names) {
    const v = row.fields[n];
    if (v === undefined || v === null) continue;
    if (typeof v === "string") return v;
    if (typeof v === "number" || typeof v === "boolean") return String(v);
    throw new DataError(`${row.file}:${row.line}: field '${n}' must be a string, got ${typeof v}`);
  }
  if (opts.optional) return "";
  throw new DataError(
    `${row.file}:${row.line}: missing field '${names[0]}'${names.length > 1 ? ` (also tried ${names.slice(1).join(", ")})` : ""}`,
  );
}

/** A list-of-strings field (MBPP's test_list); errors name file, line and field. */
export function stringListField(row: DataRow, names: string[]): string[] {
  for (const n of names) {
    const v = row.fields[n];
    if (v === undefined || v === null) continue;
    if (Array.isArray(v) && v.every((x) => typeof x === "string")) return v as string[];
    throw new DataError(`${row.file}:${row.line}: field '${n}' must be a list of strings`);
  }
  throw new DataError(`${row.file}:${row.line}: missing field '${names[0]}'`);
}
