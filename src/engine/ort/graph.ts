// The ONNX graph a lowering writes into: a list of nodes, initializers (constants), and the
// helpers every lowering rule needs (fresh names, cached int64/scalar constants, dead-node
// elimination, encoding to model bytes with onnx-proto.ts).
import {
  DType,
  type DTypeCode,
  type NodeSpec,
  type TensorInit,
  byteLength,
  modelProto,
} from "../onnx-proto.ts";

/** jax-js dtype names -> ONNX TensorProto element types. */
export const ONNX_DTYPE: Record<string, DTypeCode> = {
  float32: DType.FLOAT,
  int32: DType.INT32,
  bool: DType.BOOL,
  float16: DType.FLOAT16,
  uint32: DType.UINT32,
  float64: DType.DOUBLE,
};

/** ONNX element type codes by name, for Cast's `to` (int64 included: ONNX index outputs). */
export const DTYPE_CODE: Record<string, number> = { ...ONNX_DTYPE, int64: DType.INT64 };

export function onnxDtype(dtype: string, what: string): DTypeCode {
  const t = ONNX_DTYPE[dtype];
  if (t === undefined)
    throw new Error(`ORT executor: ${what} has dtype ${dtype}, which has no ONNX type here`);
  return t;
}

export interface GraphIO {
  name: string;
  shape: number[];
  dtype: string;
}

export class Graph {
  readonly nodes: NodeSpec[] = [];
  readonly inits: TensorInit[] = [];
  /** ONNX shapes of some tensors, recorded by rules that know them (elementwise operands): rewrites read it. */
  readonly shapes = new Map<string, number[]>();
  private uid = 0;
  private consts = new Map<string, string>();

  fresh(prefix = "t"): string {
    return `${prefix}${this.uid++}`;
  }

  /** Append a node; returns its output names. */
  emit(op: string, inputs: string[], attrs?: NodeSpec["attrs"], nOut = 1, domain?: string): string[] {
    const outputs = Array.from({ length: nOut }, () => this.fresh());
    this.nodes.push({
      op,
      inputs,
      outputs,
      name: `n${this.nodes.length}`,
      attrs,
      ...(domain ? { domain } : {}),
    });
    return outputs;
  }

  emit1(op: string, inputs: string[], attrs?: NodeSpec["attrs"]): string {
    return this.emit(op, inputs, attrs)[0];
  }

  /** An int64 vector constant (shapes, axes), shared by every user. */
  i64(vs: number[]): string {
    const key = `i64:${vs.join(",")}`;
    let n = this.consts.get(key);
    if (!n) {
      n = this.fresh("c");
      this.inits.push({
        name: n,
        dims: [vs.length],
        dataType: DType.INT64,
        raw: new Uint8Array(BigInt64Array.from(vs.map(BigInt)).buffer),
      });
      this.consts.set(key, n);
    }
    return n;
  }

  /** A 0-d constant of `dtype`. */
  scalar(v: number, dtype: string): string {
    const key = `s:${dtype}:${Object.is(v, -0) ? "-0" : v}`;
    let n = this.consts.get(key);
    if (!n) {
      n = this.fresh("c");
      this.inits.push({
        name: n,
        dims: [],
        dataType: onnxDtype(dtype, "a literal"),
        raw: scalarBytes(v, dtype),
      });
      this.consts.set(key, n);
    }
    return n;
  }

  /** The name of an existing scalar constant, if the graph has one. */
  constName(v: number, dtype: string): string | undefined {
    return this.consts.get(`s:${dtype}:${Object.is(v, -0) ? "-0" : v}`);
  }

  /** A named initializer holding host data (constants captured by a trace). */
  tensor(name: string, dims: number[], dtype: string, data: ArrayBufferView): void {
    const raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    this.inits.push({ name, dims, dataType: onnxDtype(dtype, `constant ${name}`), raw });
  }

  /** Drop nodes whose outputs no graph output needs (rewrites leave some behind). */
  prune(outputs: string[]): void {
    const needed = new Set(outputs);
    const live: NodeSpec[] = [];
    for (let k = this.nodes.length - 1; k >= 0; k--) {
      const nd = this.nodes[k];
      if (!nd.outputs.some((x) => needed.has(x))) continue;
      live.push(nd);
      for (const x of nd.inputs) needed.add(x);
    }
    live.reverse();
    this.nodes.length = 0;
    this.nodes.push(...live);
    const used = new Set(this.nodes.flatMap((n) => n.inputs));
    const inits = this.inits.filter((t) => used.has(t.name) || needed.has(t.name));
    this.inits.length = 0;
    this.inits.push(...inits);
  }

  /** Operator counts (for reports and tests). */
  opCounts(): Record<string, number> {
    const c: Record<string, number> = {};
    for (const n of this.nodes) c[n.op] = (c[n.op] ?? 0) + 1;
    return c;
  }

  /** The model as one byte array. */
  encode(inputs: GraphIO[], outputs: GraphIO[]): Uint8Array {
    const chunks = modelProto(
      {
        name: "r1lab",
        nodes: this.nodes,
        initializers: this.inits,
        inputs: inputs.map((v) => ({
          name: v.name,
          dataType: onnxDtype(v.dtype, `input ${v.name}`),
          dims: v.shape,
        })),
        outputs: outputs.map((v) => ({
          name: v.name,
          dataType: onnxDtype(v.dtype, `output ${v.name}`),
          dims: v.shape,
        })),
      },
      {},
      18,
      { "com.microsoft": 1 },
    );
    const out = new Uint8Array(byteLength(chunks));
    let off = 0;
    for (const c of chunks) {
      out.set(c, off);
      off += c.length;
    }
    return out;
  }
}

function scalarBytes(v: number, dtype: string): Uint8Array {
  if (dtype === "float32") return new Uint8Array(Float32Array.of(v).buffer);
  if (dtype === "int32") return new Uint8Array(Int32Array.of(v).buffer);
  if (dtype === "uint32") return new Uint8Array(Uint32Array.of(v).buffer);
  if (dtype === "float64") return new Uint8Array(Float64Array.of(v).buffer);
  if (dtype === "bool") return Uint8Array.of(v ? 1 : 0);
  throw new Error(`ORT executor: a literal of dtype ${dtype} cannot be written`);
}

export const prod = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);
