// JSON lines, read and written one way everywhere: run logs (metrics.jsonl, pretrain.jsonl,
// samples.jsonl: appended one row per step, cut back to the last checkpoint's step before a resumed
// run appends again), data files (eval sets, SFT sets, teacher traces, kept samples) and results.
// Reading streams the file 1 MiB at a time, so a file larger than a JavaScript string reads too;
// a line that is not a JSON object is an error naming file:line (or, for logs a crash may have torn,
// skipped with `torn: "skip"`). Whole files are written atomically (atomic.ts).
import { appendFileSync, closeSync, existsSync, openSync, readSync } from "node:fs";
import { StringDecoder } from "node:string_decoder";
import { writeFileAtomic } from "./atomic.ts";

/** A line of a JSONL file that is not a JSON object; the message names file:line. */
export class JsonlError extends Error {
  override name = "JsonlError";
}

/**
 * The non-blank lines of a file (without "\r\n" or "\n"), streamed (1 MiB reads), with 1-based line
 * numbers; `onBytes` hears of each read (a progress bar's bytes).
 */
export function* jsonlLines(
  path: string,
  onBytes?: (bytes: number) => void,
): Generator<{ text: string; line: number }> {
  const fd = openSync(path, "r");
  const buf = Buffer.alloc(1 << 20);
  const utf8 = new StringDecoder("utf8"); // keeps a character cut by the chunk end for the next chunk
  let carry = "";
  let line = 0;
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      const parts = (carry + utf8.write(buf.subarray(0, n))).split("\n");
      carry = parts.pop() ?? "";
      for (const text of parts) {
        line++;
        if (text.trim() !== "") yield { text: text.endsWith("\r") ? text.slice(0, -1) : text, line };
      }
      onBytes?.(n);
    }
    carry += utf8.end();
    line++;
    if (carry.trim() !== "") yield { text: carry.endsWith("\r") ? carry.slice(0, -1) : carry, line };
  } finally {
    closeSync(fd);
  }
}

/** Parse one line as a JSON object, or throw a JsonlError naming file:line. */
export function parseJsonlLine(path: string, line: number, text: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new JsonlError(`${path}:${line}: not valid JSON (${(e as Error).message})`);
  }
  if (v === null || typeof v !== "object" || Array.isArray(v))
    throw new JsonlError(`${path}:${line}: expected a JSON object per line`);
  return v as Record<string, unknown>;
}

export interface ReadJsonlOptions {
  /** "error" (default): a bad line is an error; "skip": drop it (a log whose last line a crash cut). */
  torn?: "error" | "skip";
}

/** The rows of a JSONL file one at a time, with their line numbers (streaming). */
export function* streamJsonl<T = Record<string, unknown>>(
  path: string,
  o: ReadJsonlOptions = {},
): Generator<{ row: T; line: number }> {
  for (const { text, line } of jsonlLines(path)) {
    try {
      yield { row: parseJsonlLine(path, line, text) as T, line };
    } catch (e) {
      if (!(e instanceof JsonlError) || o.torn !== "skip") throw e;
    }
  }
}

/** Every row of a JSONL file; [] when the file does not exist and `missingOk` is set. */
export function readJsonl<T = Record<string, unknown>>(
  path: string,
  o: ReadJsonlOptions & { missingOk?: boolean } = {},
): T[] {
  if (o.missingOk && !existsSync(path)) return [];
  return Array.from(streamJsonl<T>(path, o), (r) => r.row);
}

/** Write rows as a JSONL file, atomically. */
export function writeJsonl(path: string, rows: readonly unknown[]): void {
  writeFileAtomic(path, rows.map((r) => `${JSON.stringify(r)}\n`).join(""));
}

/** Append one row as a JSON line. */
export function appendJsonl(path: string, row: unknown): void {
  appendFileSync(path, `${JSON.stringify(row)}\n`);
}

/** Keep only complete JSON lines with step <= maxStep (after a crash, before resuming at maxStep). */
export function truncateJsonl(path: string, maxStep: number): void {
  if (!existsSync(path)) return;
  const keep = readJsonl<{ step?: number }>(path, { torn: "skip" }).filter((r) => (r.step ?? 0) <= maxStep);
  writeJsonl(path, keep);
}
