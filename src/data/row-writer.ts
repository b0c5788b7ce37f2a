// Writing the rows a data command keeps, in the input's format and layout: OUT/<file name> for a
// file, OUT/<same relative path> for each file of a dataset folder. JSONL rows are written as the
// lines that were read (byte-for-byte); Parquet files get the input's schema, a row group per
// 10,000 kept rows (hyparquet-writer); a JSON array stays a JSON array. Every file is written to a
// temporary name and renamed into place by `commit`, so an interrupted run leaves no output that
// looks complete.
import { mkdirSync, renameSync, rmSync } from "node:fs";
import { basename, dirname, join, relative } from "node:path";
import type { FileMetaData } from "hyparquet";
import { parquetSchema } from "hyparquet";
import { fileWriter, ParquetWriter } from "hyparquet-writer";
import { type AtomicWriter, openAtomicWriter } from "../engine/atomic.ts";
import type { Row, RowBatch } from "./rows.ts";

const PARQUET_GROUP = 10_000;

interface FileSink {
  add(rows: Row[]): void;
  /** Flush and rename into place. */
  commit(): void;
  abort(): void;
}

function jsonlSink(path: string): FileSink {
  const w: AtomicWriter = openAtomicWriter(path);
  return {
    add(rows) {
      if (rows.length) w.write(`${rows.map((r) => r.raw ?? JSON.stringify(r.fields)).join("\n")}\n`);
    },
    commit: () => w.commit(),
    abort: () => w.abort(),
  };
}

function jsonArraySink(path: string): FileSink {
  const w = openAtomicWriter(path);
  let n = 0;
  w.write("[");
  return {
    add(rows) {
      for (const r of rows) w.write(`${n++ ? "," : ""}\n${JSON.stringify(r.fields)}`);
    },
    commit() {
      w.write(n ? "\n]\n" : "]\n");
      w.commit();
    },
    abort: () => w.abort(),
  };
}

function parquetSink(path: string, metadata: FileMetaData): FileSink {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const names = parquetSchema(metadata).children.map((c) => c.element.name);
  const pq = new ParquetWriter({
    writer: fileWriter(tmp),
    schema: metadata.schema,
    kvMetadata: metadata.key_value_metadata,
  });
  let pending: Row[] = [];
  const flush = () => {
    if (!pending.length) return;
    const columnData = names.map((name) => ({ name, data: pending.map((r) => r.fields[name] ?? null) }));
    pq.write({ columnData, rowGroupSize: pending.length });
    pending = [];
  };
  return {
    add(rows) {
      for (const r of rows) {
        pending.push(r);
        if (pending.length >= PARQUET_GROUP) flush();
      }
    },
    commit() {
      flush();
      pq.finish();
      renameSync(tmp, path);
    },
    abort: () => rmSync(tmp, { force: true }),
  };
}

/** Kept rows of every input file, written under `outDir` in the input's layout and format. */
export class RowWriter {
  private sinks = new Map<string, FileSink>();
  readonly written: string[] = [];

  /** `input` is what the user passed (a file or a dataset folder). */
  constructor(
    readonly outDir: string,
    readonly input: string,
  ) {}

  /** Where an input file's kept rows go. */
  outPath(file: string): string {
    const rel = relative(this.input, file);
    return join(this.outDir, rel === "" ? basename(file) : rel);
  }

  /** Add the kept rows of a batch (all from `batch.file`); opens that file's output on first use. */
  add(batch: RowBatch, kept: Row[]): void {
    let sink = this.sinks.get(batch.file);
    if (!sink) {
      const path = this.outPath(batch.file);
      sink =
        batch.format === "parquet"
          ? parquetSink(path, batch.parquet!)
          : batch.format === "json"
            ? jsonArraySink(path)
            : jsonlSink(path);
      this.sinks.set(batch.file, sink);
      this.written.push(path);
    }
    sink.add(kept);
  }

  commit(): void {
    for (const s of this.sinks.values()) s.commit();
    this.sinks.clear();
  }

  abort(): void {
    for (const s of this.sinks.values()) s.abort();
    this.sinks.clear();
  }
}
