// Quantised ONNX decoders in the layouts transformers.js ships next to model.onnx:
//   model_q4.onnx          each projection MatMul becomes onnxruntime's MatMulNBits (com.microsoft):
//                          4-bit weights in blocks of `blockSize` along K with a float scale and a
//                          4-bit zero point per block: B uint8 [N, K / block, block / 2] (two codes a
//                          byte, low nibble first), scales float [N * K / block], zero_points uint8
//                          [N * ceil(blocks / 2)]; weight = (q - zp) * scale.
//   model_quantized.onnx   dynamic int8, as onnxruntime's quantize_dynamic writes it: the activation
//                          is quantised per tensor at run time (DynamicQuantizeLinear, uint8), the
//                          weight is int8 per output column (symmetric, zero point 0), MatMulInteger
//                          accumulates in int32, and Cast + Mul by (x_scale * w_scale) give float32.
// Only MatMuls whose weight is a 2-D float initializer named *.weight_t (the projections of
// onnx-decoder.ts: attention, MLP) are rewritten; the output head and the attention products stay
// float32, as do the KV cache inputs and outputs, so OnnxDecoder runs both files unchanged. A q4
// graph needs the com.microsoft opset (version 1) among modelProto's extra domains.
import { quantizeInt4 } from "../model/quantize.ts";
import { DType, floatRaw, type GraphSpec, type NodeSpec, type TensorInit } from "../engine/onnx-proto.ts";

export type OnnxQuantMode = "q4" | "q8";

/** transformers.js file names by dtype (its `dtype` option), under onnx/. */
export const ONNX_DTYPE_FILES: Record<string, string> = {
  fp32: "model.onnx",
  fp16: "model_fp16.onnx",
  q8: "model_quantized.onnx",
  int8: "model_int8.onnx",
  uint8: "model_uint8.onnx",
  q4: "model_q4.onnx",
  q4f16: "model_q4f16.onnx",
  bnb4: "model_bnb4.onnx",
};

function floats(t: TensorInit): Float32Array {
  return new Float32Array(t.raw.buffer.slice(t.raw.byteOffset, t.raw.byteOffset + t.raw.byteLength));
}

/** The weight [K, N] transposed to [N, K] (rows = output columns). */
function columns(w: Float32Array, K: number, N: number): Float32Array {
  const out = new Float32Array(K * N);
  for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) out[n * K + k] = w[k * N + n];
  return out;
}

function q4Node(
  node: NodeSpec,
  w: TensorInit,
  blockSize: number,
): { nodes: NodeSpec[]; inits: TensorInit[] } {
  const [K, N] = w.dims;
  const q = quantizeInt4(columns(floats(w), K, N), N, K, blockSize);
  const blocks = K / blockSize;
  const zpBytes = Math.ceil(blocks / 2);
  const zp = new Uint8Array(N * zpBytes);
  for (let n = 0; n < N; n++)
    for (let b = 0; b < blocks; b++) zp[n * zpBytes + (b >> 1)] |= q.zero![n * blocks + b] << (4 * (b & 1));
  const base = w.name.replace(/\.weight_t$/, "");
  const inits: TensorInit[] = [
    {
      name: `${base}.qweight`,
      dims: [N, blocks, blockSize / 2],
      dataType: DType.UINT8,
      raw: new Uint8Array(q.packed.buffer),
    },
    { name: `${base}.scales`, dims: [N * blocks], dataType: DType.FLOAT, raw: floatRaw(q.scale) },
    { name: `${base}.qzeros`, dims: [N * zpBytes], dataType: DType.UINT8, raw: zp },
  ];
  const mm: NodeSpec = {
    op: "MatMulNBits",
    domain: "com.microsoft",
    inputs: [node.inputs[0], ...inits.map((t) => t.name)],
    outputs: node.outputs,
    name: `${node.name}_q4`,
    attrs: { K, N, bits: 4, block_size: blockSize },
  };
  return { nodes: [mm], inits };
}

function q8Node(node: NodeSpec, w: TensorInit): { nodes: NodeSpec[]; inits: TensorInit[] } {
  const [K, N] = w.dims;
  const f = floats(w);
  const scale = new Float32Array(N);
  for (let k = 0; k < K; k++)
    for (let n = 0; n < N; n++) scale[n] = Math.max(scale[n], Math.abs(f[k * N + n]));
  for (let n = 0; n < N; n++) scale[n] = scale[n] > 0 ? scale[n] / 127 : 1;
  const qw = new Int8Array(K * N);
  for (let k = 0; k < K; k++)
    for (let n = 0; n < N; n++)
      qw[k * N + n] = Math.max(-127, Math.min(127, Math.round(f[k * N + n] / scale[n])));
  const base = w.name.replace(/\.weight_t$/, "");
  const p = node.name;
  const inits: TensorInit[] = [
    { name: `${base}.weight_q8`, dims: [K, N], dataType: DType.INT8, raw: new Uint8Array(qw.buffer) },
    { name: `${base}.weight_zp`, dims: [N], dataType: DType.INT8, raw: new Uint8Array(N) },
    { name: `${base}.weight_scale`, dims: [N], dataType: DType.FLOAT, raw: floatRaw(scale) },
  ];
  const [xq, xs, xzp, acc, accF, s] = ["x_q", "x_scale", "x_zp", "acc", "acc_f", "scale"].map(
    (n) => `${p}_${n}`,
  );
  const nodes: NodeSpec[] = [
    { op: "DynamicQuantizeLinear", inputs: [node.inputs[0]], outputs: [xq, xs, xzp], name: `${p}_dql` },
    {
      op: "MatMulInteger",
      inputs: [xq, inits[0].name, xzp, inits[1].name],
      outputs: [acc],
      name: `${p}_mmi`,
    },
    { op: "Cast", inputs: [acc], outputs: [accF], name: `${p}_cast`, attrs: { to: DType.FLOAT } },
    { op: "Mul", inputs: [xs, inits[2].name], outputs: [s], name: `${p}_scale` },
    { op: "Mul", inputs: [accF, s], outputs: node.outputs, name: `${p}_out` },
  ];
  return { nodes, inits };
}

/** A copy of `g` with its projection weights quantised (see the file header). */
export function quantizeGraph(g: GraphSpec, mode: OnnxQuantMode, blockSize = 32): GraphSpec {
  if (mode === "q4" && blockSize !== 32 && blockSize !== 128)
    throw new Error(`onnx quantize: block size must be 32 or 128, got ${blockSize}`);
  const byName = new Map(g.initializers.map((t) => [t.name, t]));
  const replaced = new Set<string>();
  const nodes: NodeSpec[] = [];
  const added: TensorInit[] = [];
  for (const node of g.nodes) {
    const w = node.op === "MatMul" ? byName.get(node.inputs[1]) : undefined;
    const ok = w && w.dataType === DType.FLOAT && w.dims.length === 2 && w.name.endsWith(".weight_t");
    const fits = ok && (mode === "q8" || w!.dims[0] % blockSize === 0);
    if (!fits) {
      nodes.push(node);
      continue;
    }
    const r = mode === "q4" ? q4Node(node, w!, blockSize) : q8Node(node, w!);
    nodes.push(...r.nodes);
    added.push(...r.inits);
    replaced.add(w!.name);
  }
  // A weight still used by a node that was not rewritten stays.
  const stillUsed = new Set(nodes.flatMap((n) => n.inputs));
  const kept = g.initializers.filter((t) => !replaced.has(t.name) || stillUsed.has(t.name));
  return { ...g, nodes, initializers: [...kept, ...added] };
}
