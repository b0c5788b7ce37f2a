// A minimal protobuf writer for ONNX files (used by src/hf's exporter and by the ORT executor in
// src/engine/ort): just enough of the wire format (varints, fixed32,
// length-delimited fields) and of onnx.proto's messages (ModelProto, GraphProto, NodeProto,
// AttributeProto, TensorProto, ValueInfoProto) to write an inference graph with float32 weights
// as raw_data initializers. Field numbers are those of onnx/onnx.proto (IR version 8).
// Messages are built as lists of byte chunks, so large weights are never copied into one buffer
// before the file is written.

/** Encoded bytes of a message or field, as chunks (concatenated only when written). */
export type Bytes = Uint8Array[];

const enc = new TextEncoder();

/** Base-128 varint of a non-negative or negative (two's complement, 10 bytes) 64-bit integer. */
export function varint(value: number | bigint): Uint8Array {
  if (typeof value === "number" && value >= 0 && value <= 0x7fffffff && Number.isInteger(value)) {
    // Fast path (tags, lengths, dims, small attributes): no BigInt.
    if (value < 0x80) return Uint8Array.of(value);
    const out: number[] = [];
    let x = value;
    while (x >= 0x80) {
      out.push((x & 0x7f) | 0x80);
      x >>>= 7;
    }
    out.push(x);
    return Uint8Array.from(out);
  }
  let v = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Uint8Array.from(out);
}

const tag = (field: number, wire: 0 | 2 | 5) => varint((field << 3) | wire);
const size = (b: Bytes) => b.reduce((s, c) => s + c.length, 0);

/** Field helpers: each returns the encoded field. */
export const pb = {
  int(field: number, v: number | bigint): Bytes {
    return [tag(field, 0), varint(v)];
  },
  float(field: number, v: number): Bytes {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    return [tag(field, 5), b];
  },
  bytes(field: number, b: Uint8Array | Bytes): Bytes {
    const chunks = b instanceof Uint8Array ? [b] : b;
    return [tag(field, 2), varint(size(chunks)), ...chunks];
  },
  string(field: number, s: string): Bytes {
    return pb.bytes(field, enc.encode(s));
  },
  /** An embedded message. */
  message(field: number, m: Bytes): Bytes {
    return pb.bytes(field, m);
  },
  /** Packed repeated int64. */
  packedInts(field: number, vs: (number | bigint)[]): Bytes {
    return pb.bytes(field, vs.map(varint));
  },
};

/** TensorProto.DataType values used here. */
export const DType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
} as const;
export type DTypeCode = (typeof DType)[keyof typeof DType];

export interface TensorInit {
  name: string;
  dims: number[];
  dataType: DTypeCode;
  /** Little-endian element bytes (raw_data). */
  raw: Uint8Array;
  /** Stored in an external data file instead (raw is then not written): ONNX external data. */
  external?: { location: string; offset: number; length: number };
}

/**
 * TensorProto with raw_data, or with external_data (field 13: location, offset, length entries)
 * and data_location EXTERNAL (field 14 = 1) when the bytes live in a separate file.
 */
export function tensorProto(t: TensorInit): Bytes {
  const head = [...pb.packedInts(1, t.dims), ...pb.int(2, t.dataType), ...pb.string(8, t.name)];
  if (!t.external) return [...head, ...pb.bytes(9, t.raw)];
  const { location, offset, length } = t.external;
  const entry = (k: string, v: string) => pb.message(13, [...pb.string(1, k), ...pb.string(2, v)]);
  return [
    ...head,
    ...entry("location", location),
    ...entry("offset", String(offset)),
    ...entry("length", String(length)),
    ...pb.int(14, 1),
  ];
}

/** Raw bytes of a float32 / int64 host array (the host is little-endian, as ONNX's raw_data). */
export function floatRaw(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}
export function int64Raw(vs: number[]): Uint8Array {
  return new Uint8Array(BigInt64Array.from(vs.map((v) => BigInt(v))).buffer);
}

/** An attribute value: number (int unless `floatAttrs` names it), number[] (ints), string, tensor. */
export type AttrValue = number | number[] | string | { float: number } | { tensor: TensorInit };

function attributeProto(name: string, v: AttrValue): Bytes {
  const head = pb.string(1, name);
  // AttributeType: FLOAT=1, INT=2, STRING=3, TENSOR=4, INTS=7.
  if (typeof v === "number") return [...head, ...pb.int(3, v), ...pb.int(20, 2)];
  if (typeof v === "string") return [...head, ...pb.string(4, v), ...pb.int(20, 3)];
  if (Array.isArray(v)) return [...head, ...v.flatMap((x) => pb.int(8, x)), ...pb.int(20, 7)];
  if ("float" in v) return [...head, ...pb.float(2, v.float), ...pb.int(20, 1)];
  return [...head, ...pb.message(5, tensorProto(v.tensor)), ...pb.int(20, 4)];
}

export interface NodeSpec {
  op: string;
  /** Operator domain ("" = ONNX, "com.microsoft" = ORT's contrib ops). */
  domain?: string;
  inputs: string[];
  outputs: string[];
  name: string;
  attrs?: Record<string, AttrValue>;
}

export function nodeProto(n: NodeSpec): Bytes {
  return [
    ...n.inputs.flatMap((i) => pb.string(1, i)),
    ...n.outputs.flatMap((o) => pb.string(2, o)),
    ...pb.string(3, n.name),
    ...pb.string(4, n.op),
    ...(n.domain ? pb.string(7, n.domain) : []),
    ...Object.entries(n.attrs ?? {}).flatMap(([k, v]) => pb.message(5, attributeProto(k, v))),
  ];
}

/** A graph input/output: element type and shape, each dim a size or a symbolic name. */
export interface ValueInfo {
  name: string;
  dataType: DTypeCode;
  dims: (number | string)[];
}

export function valueInfoProto(v: ValueInfo): Bytes {
  const dims = v.dims.flatMap((d) => pb.message(1, typeof d === "number" ? pb.int(1, d) : pb.string(2, d)));
  const tensorType = [...pb.int(1, v.dataType), ...pb.message(2, dims)];
  return [...pb.string(1, v.name), ...pb.message(2, pb.message(1, tensorType))];
}

export interface GraphSpec {
  name: string;
  nodes: NodeSpec[];
  initializers: TensorInit[];
  inputs: ValueInfo[];
  outputs: ValueInfo[];
}

export const IR_VERSION = 8;
export const OPSET = 17;

/** A whole ModelProto (default ONNX domain at `opset`, plus `extraDomains`), as chunks ready to write. */
export function modelProto(
  g: GraphSpec,
  meta: Record<string, string> = {},
  opset = OPSET,
  extraDomains: Record<string, number> = {},
): Bytes {
  const graph = [
    ...g.nodes.flatMap((n) => pb.message(1, nodeProto(n))),
    ...pb.string(2, g.name),
    ...g.initializers.flatMap((t) => pb.message(5, tensorProto(t))),
    ...g.inputs.flatMap((v) => pb.message(11, valueInfoProto(v))),
    ...g.outputs.flatMap((v) => pb.message(12, valueInfoProto(v))),
  ];
  const props = Object.entries(meta).flatMap(([k, v]) =>
    pb.message(14, [...pb.string(1, k), ...pb.string(2, v)]),
  );
  return [
    ...pb.int(1, IR_VERSION),
    ...pb.string(2, "r1lab"),
    ...pb.message(7, graph),
    ...pb.message(8, [...pb.string(1, ""), ...pb.int(2, opset)]),
    ...Object.entries(extraDomains).flatMap(([d, v]) => pb.message(8, [...pb.string(1, d), ...pb.int(2, v)])),
    ...props,
  ];
}

/** Total byte length of encoded chunks. */
export const byteLength = size;
