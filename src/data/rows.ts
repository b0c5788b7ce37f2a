// Streaming rows out of a dataset for the data commands (dedup, decontaminate, classify): JSONL read
// in 1 MiB chunks (engine/jsonl.ts), Parquet one row group at a time (hyparquet), a JSON array whole (JSON has no
// row boundaries to stream on), and dataset folders file by file through eval/data.ts's split
// rules. Rows arrive in batches that never span two files, so memory stays bounded by a chunk or a
// row group whatever the dataset's size. A JSONL row keeps its line as read, so written output
// is byte-for-byte the input's line. Every error names the file and line.
import { closeSync, openSync, readFileSync, readSync, statSync } from "node:fs";
import { extname } from "node:path";
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, type FileMetaData } from "hyparquet";
import { jsonlLines, parseJsonlLine } from "../engine/jsonl.ts";
import { DataError, resolveDataFiles } from "../eval/data.ts";

export interface Row {
  fields: Record<string, unknown>;
  file: string;
  /** 1-based line (JSONL), row (Parquet) or item (JSON array) within `file`. */
  line: number;
  /** 0-based row number over all files, in order. */
  index: number;
  /** The JSONL line as read (without its newline). */
  raw?: string;
}

export type RowFormat = "jsonl" | "json" | "parquet";

export interface RowBatch {
  file: string;
  format: RowFormat;
  rows: Row[];
  /** Parquet files: the file's metadata (schema for writing the same format back). */
  parquet?: FileMetaData;
}

export interface ReadOptions {
  /** Split to read from a dataset folder (default "train"). */
  split?: string | string[];
  /** Rows per batch for JSONL (default 2048). */
  batchRows?: number;
  /** Called with input bytes consumed so far (for progress bars). */
  onBytes?: (bytes: number) => void;
}

/** The data files a path stands for (a file, or a dataset folder's files of the split). */
export function dataFiles(path: string, split: string | string[] = "train"): string[] {
  return resolveDataFiles(path, split);
}

/** Total bytes of the files (the progress bar's 100%). */
export function totalBytes(files: string[]): number {
  return files.reduce((s, f) => s + statSync(f).size, 0);
}

export function formatOf(file: string): RowFormat {
  const ext = extname(file);
  if (ext === ".parquet") return "parquet";
  if (ext === ".json") {
    const fd = openSync(file, "r");
    try {
      const head = Buffer.alloc(256);
      const n = readSync(fd, head, 0, 256, 0);
      return head.subarray(0, n).toString("utf8").trimStart().startsWith("[") ? "json" : "jsonl";
    } finally {
      closeSync(fd);
    }
  }
  return "jsonl";
}

/** JSONL rows in batches, streamed by engine/jsonl.ts; each keeps its line as read. */
function* jsonlBatches(
  file: string,
  first: number,
  batchRows: number,
  onBytes: (n: number) => void,
): Generator<Row[]> {
  let index = first;
  let batch: Row[] = [];
  for (const { text, line } of jsonlLines(file, onBytes)) {
    batch.push({ fields: parseJsonlLine(file, line, text), file, line, index: index++, raw: text });
    if (batch.length >= batchRows) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length) yield batch;
}

/**
 * The rows of `path` in order, in batches that never span two files. JSONL is streamed; Parquet is
 * read a row group at a time; a JSON array is read whole.
 */
export async function* readRowBatches(path: string, opts: ReadOptions = {}): AsyncGenerator<RowBatch> {
  const files = dataFiles(path, opts.split);
  let index = 0;
  let done = 0;
  for (const file of files) {
    const size = statSync(file).size;
    const format = formatOf(file);
    if (format === "jsonl") {
      let fileBytes = 0;
      for (const rows of jsonlBatches(file, index, opts.batchRows ?? 2048, (n) => {
        fileBytes += n;
        opts.onBytes?.(done + fileBytes);
      })) {
        index += rows.length;
        yield { file, format, rows };
      }
    } else if (format === "json") {
      let arr: unknown;
      try {
        arr = JSON.parse(readFileSync(file, "utf8"));
      } catch (e) {
        throw new DataError(`${file}: not valid JSON (${(e as Error).message})`);
      }
      const rows = (arr as unknown[]).map((v, i): Row => {
        if (v === null || typeof v !== "object" || Array.isArray(v))
          throw new DataError(`${file}: item ${i + 1}: expected a JSON object`);
        return { fields: v as Record<string, unknown>, file, line: i + 1, index: index + i };
      });
      index += rows.length;
      opts.onBytes?.(done + size);
      yield { file, format, rows };
    } else {
      let metadata: FileMetaData;
      const buffer = await asyncBufferFromFile(file);
      try {
        metadata = await parquetMetadataAsync(buffer);
      } catch (e) {
        throw new DataError(`${file}: cannot read Parquet (${(e as Error).message})`);
      }
      const total = Number(metadata.num_rows);
      let start = 0;
      for (const rg of metadata.row_groups) {
        const end = start + Number(rg.num_rows);
        let objs: Record<string, unknown>[];
        try {
          objs = await parquetReadObjects({ file: buffer, metadata, rowStart: start, rowEnd: end });
        } catch (e) {
          throw new DataError(
            `${file}: cannot read Parquet rows ${start + 1}-${end} (${(e as Error).message})`,
          );
        }
        const rows = objs.map((fields, i): Row => ({ fields, file, line: start + i + 1, index: index + i }));
        index += rows.length;
        start = end;
        opts.onBytes?.(done + Math.round((size * start) / Math.max(1, total)));
        yield { file, format, rows, parquet: metadata };
      }
    }
    done += size;
  }
}

/** Every row of `path` one by one (convenience over readRowBatches). */
export async function* readRowsStream(path: string, opts: ReadOptions = {}): AsyncGenerator<Row> {
  for await (const b of readRowBatches(path, opts)) yield* b.rows;
}
