// A small builder for ONNX graphs: adds nodes with generated unique output names, float32 weight
// initializers and int64 constants, and assembles the GraphSpec that onnx-proto.ts encodes.
//   const g = new GraphBuilder("decoder");
//   const ids = g.input("input_ids", DType.INT64, ["batch_size", "sequence_length"]);
//   const h = g.op("Gather", [g.weight("embed", table, [V, D]), ids], { axis: 0 });
import {
  type AttrValue,
  DType,
  type DTypeCode,
  floatRaw,
  type GraphSpec,
  int64Raw,
  type NodeSpec,
  type TensorInit,
  type ValueInfo,
} from "../engine/onnx-proto.ts";

export class GraphBuilder {
  readonly nodes: NodeSpec[] = [];
  readonly initializers: TensorInit[] = [];
  readonly inputs: ValueInfo[] = [];
  readonly outputs: ValueInfo[] = [];
  private counter = 0;
  private readonly consts = new Map<string, string>();

  constructor(readonly name: string) {}

  input(name: string, dataType: DTypeCode, dims: (number | string)[]): string {
    this.inputs.push({ name, dataType, dims });
    return name;
  }

  /** Declare `value` a graph output called `name` (an Identity node when the names differ). */
  output(value: string, name: string, dataType: DTypeCode, dims: (number | string)[]): void {
    if (value !== name) this.op("Identity", [value], {}, name);
    this.outputs.push({ name, dataType, dims });
  }

  /** A float32 initializer (the array's bytes are referenced, not copied). */
  weight(name: string, data: Float32Array, dims: number[]): string {
    const n = dims.reduce((a, b) => a * b, 1);
    if (data.length !== n)
      throw new Error(`onnx graph: ${name} has ${data.length} values, shape [${dims}] needs ${n}`);
    this.initializers.push({ name, dims, dataType: DType.FLOAT, raw: floatRaw(data) });
    return name;
  }

  /** An int64 constant (shared between uses); `scalar` gives a 0-d tensor. */
  ints(values: number[], scalar = false): string {
    const key = `${scalar ? "s" : "v"}:${values.join(",")}`;
    const known = this.consts.get(key);
    if (known) return known;
    const name = `const_i64_${this.consts.size}`;
    this.initializers.push({
      name,
      dims: scalar ? [] : [values.length],
      dataType: DType.INT64,
      raw: int64Raw(values),
    });
    this.consts.set(key, name);
    return name;
  }

  /** A float32 scalar constant. */
  scalar(value: number): string {
    const key = `f:${value}`;
    const known = this.consts.get(key);
    if (known) return known;
    const name = `const_f32_${this.consts.size}`;
    this.initializers.push({ name, dims: [], dataType: DType.FLOAT, raw: floatRaw(Float32Array.of(value)) });
    this.consts.set(key, name);
    return name;
  }

  /** Add a node; returns its (single) output name, `out` if given. */
  op(op: string, inputs: string[], attrs: Record<string, AttrValue> = {}, out?: string): string {
    const id = this.counter++;
    const output = out ?? `${op}_${id}`;
    this.nodes.push({ op, inputs, outputs: [output], name: `${op}_node_${id}`, attrs });
    return output;
  }

  /** Add a node with `n` outputs (TopK: values, indices); returns their names. */
  opN(op: string, inputs: string[], n: number, attrs: Record<string, AttrValue> = {}): string[] {
    const id = this.counter++;
    const outputs = Array.from({ length: n }, (_, i) => `${op}_${id}_${i}`);
    this.nodes.push({ op, inputs, outputs, name: `${op}_node_${id}`, attrs });
    return outputs;
  }

  spec(): GraphSpec {
    return {
      name: this.name,
      nodes: this.nodes,
      initializers: this.initializers,
      inputs: this.inputs,
      outputs: this.outputs,
    };
  }
}
