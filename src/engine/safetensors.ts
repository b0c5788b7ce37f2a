// safetensors, Hugging Face's tensor file format, read and written in plain TypeScript (host typed
// arrays; turning them into engine arrays is params.ts's job).
//
// Layout: u64 little-endian N | N bytes of UTF-8 JSON header | data. The header maps each tensor name
// to {dtype, shape, data_offsets: [begin, end]} (offsets relative to the data section) and may hold
// "__metadata__": {string: string}. Data is row-major, little-endian, one tensor after another with
// no gaps; the writer pads the header with spaces so the data starts on an 8-byte boundary.
//
// Reading is lazy: openSafetensors reads and checks only the header; each tensor's bytes are then
// read on demand with positioned reads (readSync on an fd), so loading a multi-GB checkpoint never
// needs the file's size twice in memory. Writing streams tensor by tensor into a temp file that is
// renamed into place (atomic.ts).
//
// API:
//   openSafetensors(path): SafetensorsFile
//     .names()            tensor names in file order       .has(name)
//     .info(name)         {dtype, shape, byteLength}        .metadata: Record<string,string> | null
//     .read(name)         Float32Array (F32/F16/BF16/F8_E4M3/F8_E5M2/F64 decoded exactly)
//     .readRaw(name)      Uint8Array of the stored bytes (own buffer, byteOffset 0: safe to view as
//                         BigInt64Array / Int32Array / ... for I64, I32, U8, BOOL and the rest)
//     .close()
//   writeSafetensors(path, {name: {dtype, shape, data}}, metadata?)
//     data is a Float32Array (dtype F32, F16 or BF16; rounded to nearest even) or a Uint8Array of
//     already-encoded bytes of any dtype. Tensors are written in sorted name order.
// Every malformed file raises a SafetensorsError naming the file (and the tensor when there is one).
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { openAtomicWriter } from "./atomic.ts";
import {
  DTYPE_BYTES,
  type Dtype,
  decodeFloat32,
  encodeFloat32,
  FLOAT_DTYPES,
  isDtype,
  type WritableFloatDtype,
} from "./dtypes.ts";

/** Header lengths above this are refused as corrupt (the reference Rust implementation's limit). */
export const MAX_HEADER_BYTES = 100_000_000;
const MAX_IO = 1 << 30; // bytes per readSync call
const ENCODE_CHUNK = 1 << 20; // elements converted per step when writing F16/BF16

export class SafetensorsError extends Error {
  override name = "SafetensorsError";
}

export interface TensorInfo {
  dtype: Dtype;
  shape: number[];
  byteLength: number;
}

/** What both a single file and a sharded checkpoint (sharded.ts) offer. */
export interface TensorReader {
  names(): string[];
  has(name: string): boolean;
  info(name: string): TensorInfo;
  /** The tensor decoded to float32; throws for integer/bool dtypes (use readRaw). */
  read(name: string): Float32Array;
  /** The tensor's stored bytes, little-endian, in a fresh buffer. */
  readRaw(name: string): Uint8Array;
  close(): void;
}

export interface SafetensorsFile extends TensorReader {
  readonly path: string;
  readonly metadata: Record<string, string> | null;
}

/** A tensor to write: float32 values to encode, or bytes already in `dtype`'s encoding. */
export type WriteTensor =
  | { dtype: WritableFloatDtype; shape: number[]; data: Float32Array }
  | { dtype: Dtype; shape: number[]; data: Uint8Array };

interface Entry extends TensorInfo {
  name: string;
  /** Absolute position of the first byte in the file. */
  position: number;
}

const numel = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
const isCount = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;
const isObject = (x: unknown): x is Record<string, unknown> =>
  typeof x === "object" && x !== null && !Array.isArray(x);

function fail(path: string, msg: string, tensor?: string): never {
  throw new SafetensorsError(
    `${path}: ${tensor === undefined ? "" : `tensor ${JSON.stringify(tensor)}: `}${msg}`,
  );
}

/** Read exactly `out.byteLength` bytes at `position`, or fail with a truncation error. */
function readExact(fd: number, out: Uint8Array, position: number, path: string, tensor?: string): void {
  let done = 0;
  while (done < out.byteLength) {
    const got = readSync(fd, out, done, Math.min(MAX_IO, out.byteLength - done), position + done);
    if (got === 0) fail(path, `file ended after ${position + done} bytes (truncated?)`, tensor);
    done += got;
  }
}

/** Check a parsed header against the file size; returns tensors sorted by data offset. */
function parseHeader(path: string, header: unknown, dataStart: number, fileSize: number) {
  if (!isObject(header)) {
    fail(
      path,
      `bad header: expected a JSON object, got ${Array.isArray(header) ? "an array" : typeof header}`,
    );
  }
  let metadata: Record<string, string> | null = null;
  const spans: { entry: Entry; begin: number; end: number }[] = [];
  for (const [name, raw] of Object.entries(header)) {
    if (name === "__metadata__") {
      if (!isObject(raw)) fail(path, "__metadata__ must be an object");
      for (const [k, v] of Object.entries(raw)) {
        if (typeof v !== "string") fail(path, `__metadata__.${k} must be a string, got ${JSON.stringify(v)}`);
      }
      metadata = raw as Record<string, string>;
      continue;
    }
    if (!isObject(raw)) fail(path, "header entry is not an object", name);
    const { dtype, shape, data_offsets: off } = raw;
    if (!isDtype(dtype)) {
      fail(
        path,
        `unknown dtype ${JSON.stringify(dtype)} (known: ${Object.keys(DTYPE_BYTES).join(", ")})`,
        name,
      );
    }
    if (!Array.isArray(shape) || !shape.every(isCount)) {
      fail(path, `shape must be a list of non-negative integers, got ${JSON.stringify(shape)}`, name);
    }
    if (!Array.isArray(off) || off.length !== 2 || !off.every(isCount) || off[0] > off[1]) {
      fail(
        path,
        `data_offsets must be [begin, end] with 0 <= begin <= end, got ${JSON.stringify(off)}`,
        name,
      );
    }
    const [begin, end] = off as [number, number];
    const need = numel(shape) * DTYPE_BYTES[dtype];
    if (!Number.isSafeInteger(need) || need !== end - begin) {
      fail(
        path,
        `shape ${JSON.stringify(shape)} of ${dtype} needs ${need} bytes, data_offsets [${begin}, ${end}] hold ${end - begin}`,
        name,
      );
    }
    if (dataStart + end > fileSize) {
      fail(
        path,
        `data ends at byte ${dataStart + end} but the file has only ${fileSize} bytes (truncated?)`,
        name,
      );
    }
    spans.push({
      entry: { name, dtype, shape: [...shape], byteLength: need, position: dataStart + begin },
      begin,
      end,
    });
  }
  // The data section must be tiled exactly: sorted by offset, each tensor starts where the last ended.
  spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  let prev = "the start of the data";
  for (const s of spans) {
    const label = JSON.stringify(s.entry.name);
    if (s.begin < at)
      fail(path, `data_offsets [${s.begin}, ${s.end}] overlap ${prev} (which ends at ${at})`, s.entry.name);
    if (s.begin > at)
      fail(path, `gap of ${s.begin - at} bytes between ${prev} and tensor ${label}`, s.entry.name);
    at = s.end;
    prev = `tensor ${label}`;
  }
  if (dataStart + at !== fileSize) {
    fail(path, `${fileSize - dataStart - at} bytes after the last tensor's data (data_offsets end at ${at})`);
  }
  return { metadata, entries: spans.map((s) => s.entry) };
}

/** Open a safetensors file: reads and validates the header only; tensors are read on demand. */
export function openSafetensors(path: string): SafetensorsFile {
  const fd = openSync(path, "r");
  let entries: Entry[];
  let metadata: Record<string, string> | null;
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) fail(path, "not a regular file");
    const size = stat.size;
    if (size < 8) fail(path, `file has ${size} bytes, too short for the 8-byte header length (truncated?)`);
    const lenBytes = new Uint8Array(8);
    readExact(fd, lenBytes, 0, path);
    const n = new DataView(lenBytes.buffer).getBigUint64(0, true);
    if (n > BigInt(MAX_HEADER_BYTES))
      fail(path, `bad header: header length ${n} is absurd (limit ${MAX_HEADER_BYTES})`);
    const headerLen = Number(n);
    if (8 + headerLen > size) {
      fail(path, `header length ${headerLen} runs past the end of the ${size}-byte file (truncated?)`);
    }
    if (headerLen < 2) fail(path, `bad header: header length ${headerLen} is too short for a JSON object`);
    const headerBytes = new Uint8Array(headerLen);
    readExact(fd, headerBytes, 8, path);
    let header: unknown;
    try {
      header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(headerBytes));
    } catch (e) {
      fail(path, `bad header: not valid UTF-8 JSON (${(e as Error).message})`);
    }
    ({ entries, metadata } = parseHeader(path, header, 8 + headerLen, size));
  } catch (e) {
    closeSync(fd);
    throw e;
  }

  const byName = new Map(entries.map((e) => [e.name, e]));
  let closed = false;
  const get = (name: string): Entry => {
    if (closed) fail(path, "read after close()", name);
    return byName.get(name) ?? fail(path, "no such tensor in this file", name);
  };
  return {
    path,
    metadata,
    names: () => entries.map((e) => e.name),
    has: (name) => byName.has(name),
    info(name) {
      const e = get(name);
      return { dtype: e.dtype, shape: [...e.shape], byteLength: e.byteLength };
    },
    readRaw(name) {
      const e = get(name);
      const out = new Uint8Array(e.byteLength);
      readExact(fd, out, e.position, path, name);
      return out;
    },
    read(name) {
      const e = get(name);
      if (!FLOAT_DTYPES.includes(e.dtype))
        fail(path, `dtype ${e.dtype} is not a float dtype; use readRaw`, name);
      if (e.dtype === "F32") {
        // Read straight into the result: no second copy of the tensor.
        const out = new Float32Array(e.byteLength / 4);
        readExact(fd, new Uint8Array(out.buffer), e.position, path, name);
        return out;
      }
      const raw = new Uint8Array(e.byteLength);
      readExact(fd, raw, e.position, path, name);
      return decodeFloat32(e.dtype, raw);
    },
    close() {
      if (!closed) closeSync(fd);
      closed = true;
    },
  };
}

/** The on-disk byte size of a tensor to write (after conversion to its dtype). */
export function storedBytes(t: WriteTensor): number {
  return numel(t.shape) * DTYPE_BYTES[t.dtype];
}

function checkWriteTensor(path: string, name: string, t: WriteTensor): void {
  if (name === "" || name === "__metadata__") fail(path, "reserved or empty tensor name", name);
  if (!isDtype(t.dtype)) fail(path, `unknown dtype ${JSON.stringify(t.dtype)}`, name);
  if (!Array.isArray(t.shape) || !t.shape.every(isCount)) {
    fail(path, `shape must be a list of non-negative integers, got ${JSON.stringify(t.shape)}`, name);
  }
  if (t.data instanceof Float32Array) {
    if (t.dtype !== "F32" && t.dtype !== "F16" && t.dtype !== "BF16") {
      fail(
        path,
        `float32 data can be written as F32, F16 or BF16, not ${t.dtype} (pass encoded bytes instead)`,
        name,
      );
    }
    if (t.data.length !== numel(t.shape)) {
      fail(
        path,
        `shape ${JSON.stringify(t.shape)} holds ${numel(t.shape)} values but data has ${t.data.length}`,
        name,
      );
    }
  } else if (t.data instanceof Uint8Array) {
    if (t.data.byteLength !== storedBytes(t)) {
      fail(
        path,
        `shape ${JSON.stringify(t.shape)} of ${t.dtype} needs ${storedBytes(t)} bytes, data has ${t.data.byteLength}`,
        name,
      );
    }
  } else fail(path, "data must be a Float32Array or a Uint8Array of encoded bytes", name);
}

/**
 * Write `tensors` to `path` atomically, in sorted name order, with optional string metadata
 * (transformers writes {format: "pt"}).
 */
export function writeSafetensors(
  path: string,
  tensors: Record<string, WriteTensor>,
  metadata?: Record<string, string>,
): void {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = Object.create(null); // a tensor may be named "__proto__"
  if (metadata) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") fail(path, `metadata ${k} must be a string, got ${JSON.stringify(v)}`);
    }
    header.__metadata__ = metadata;
  }
  let offset = 0;
  for (const name of names) {
    const t = tensors[name];
    checkWriteTensor(path, name, t);
    const bytes = storedBytes(t);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = Buffer.from(JSON.stringify(header), "utf8");
  const pad = (8 - (json.byteLength % 8)) % 8;
  if (pad) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.byteLength));

  const w = openAtomicWriter(path);
  try {
    w.write(len);
    w.write(json);
    for (const name of names) {
      const t = tensors[name];
      const d = t.data;
      if (d instanceof Uint8Array) w.write(d);
      else {
        // checkWriteTensor has made sure float32 data goes with F32, F16 or BF16.
        const dtype = t.dtype as WritableFloatDtype;
        for (let i = 0; i < d.length; i += ENCODE_CHUNK)
          w.write(encodeFloat32(dtype, d.subarray(i, i + ENCODE_CHUNK)));
      }
    }
    if (w.bytesWritten !== 8 + json.byteLength + offset)
      fail(path, "internal error: wrote a wrong number of bytes");
  } catch (e) {
    w.abort();
    throw e;
  }
  w.commit();
}
