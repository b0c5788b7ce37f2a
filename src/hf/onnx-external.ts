// ONNX external data: protobuf caps a file at 2 GiB, so a larger model keeps its weights in a
// second file beside the graph, as onnx.save_model(..., save_as_external_data=True), Optimum and
// transformers.js lay it out: onnx/model.onnx (graph; each large initializer names
// location/offset/length) + onnx/model.onnx_data (the raw little-endian bytes, one after another).
// Offsets are aligned to 4 KiB so onnxruntime can map the file; small tensors stay inline.
import type { GraphSpec, TensorInit } from "../engine/onnx-proto.ts";

/** Tensors smaller than this stay in the graph (onnx's default size_threshold). */
export const EXTERNAL_SIZE_THRESHOLD = 1024;
const ALIGN = 4096;

export interface ExternalSplit {
  /** The graph with large initializers pointing into the data file. */
  graph: GraphSpec;
  /** The data file's bytes, as chunks (weights referenced, not copied). */
  data: Uint8Array[];
}

/** Move every initializer of at least `threshold` bytes into the data file named `location`. */
export function externalize(
  g: GraphSpec,
  location: string,
  threshold = EXTERNAL_SIZE_THRESHOLD,
): ExternalSplit {
  if (!/^[\w.-]+$/.test(location))
    throw new Error(`external data file name '${location}' must be a plain file name`);
  const data: Uint8Array[] = [];
  let offset = 0;
  const initializers: TensorInit[] = g.initializers.map((t) => {
    if (t.raw.byteLength < threshold) return t;
    const pad = (ALIGN - (offset % ALIGN)) % ALIGN;
    if (pad) data.push(new Uint8Array(pad));
    offset += pad;
    data.push(t.raw);
    const ext = { location, offset, length: t.raw.byteLength };
    offset += t.raw.byteLength;
    return { ...t, external: ext };
  });
  return { graph: { ...g, initializers }, data };
}
