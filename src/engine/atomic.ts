// Atomic file writes: write to a temp file in the same folder, fsync, then rename over the target.
// A crash or kill -9 mid-write leaves either the old file or the new one, never a torn file.
// `openAtomicWriter` streams a large file (e.g. a multi-GB safetensors checkpoint) chunk by chunk
// with the same guarantee; `writeFileAtomic` is the one-call form.
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";

let counter = 0;

function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${counter++}.tmp`);
}

// writeSync takes at most 2^31-1 bytes per call; stay well under it.
const MAX_WRITE = 1 << 30;

/** A file being written: chunks go to a temp file; `commit` renames it into place, `abort` removes it. */
export interface AtomicWriter {
  readonly path: string;
  /** Bytes written so far. */
  readonly bytesWritten: number;
  write(chunk: string | Uint8Array): void;
  /** fsync, close and rename over `path`. */
  commit(): void;
  /** Close and delete the temp file; `path` is left untouched. Safe to call after a failed write. */
  abort(): void;
}

/** Start writing `path` atomically. Creates parent folders. Call `commit()` or `abort()` exactly once. */
export function openAtomicWriter(path: string): AtomicWriter {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = tempPathFor(path);
  const fd = openSync(tmp, "w");
  let open = true;
  let written = 0;
  const ensureOpen = () => {
    if (!open) throw new Error(`${path}: atomic writer already committed or aborted`);
  };
  return {
    path,
    get bytesWritten() {
      return written;
    },
    write(chunk) {
      ensureOpen();
      const buf = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk;
      let off = 0;
      while (off < buf.byteLength) off += writeSync(fd, buf, off, Math.min(MAX_WRITE, buf.byteLength - off));
      written += buf.byteLength;
    },
    commit() {
      ensureOpen();
      open = false;
      let closed = false;
      try {
        fsyncSync(fd);
        closeSync(fd);
        closed = true;
        renameSync(tmp, path);
      } catch (e) {
        if (!closed) closeSync(fd);
        rmSync(tmp, { force: true });
        throw e;
      }
    },
    abort() {
      if (!open) return;
      open = false;
      closeSync(fd);
      rmSync(tmp, { force: true });
    },
  };
}

/** Write `data` (or several chunks in order) to `path` atomically. Creates parent folders. */
export function writeFileAtomic(path: string, data: string | Uint8Array | (string | Uint8Array)[]): void {
  const w = openAtomicWriter(path);
  try {
    for (const chunk of Array.isArray(data) ? data : [data]) w.write(chunk);
  } catch (e) {
    w.abort();
    throw e;
  }
  w.commit();
}

/** JSON with two-space indent and a trailing newline, written atomically. */
export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}
