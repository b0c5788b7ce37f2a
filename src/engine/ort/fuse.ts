// Fusion rewrites on the lowered ONNX graph (filled in below).
import type { Graph } from "./graph.ts";

export function fuse(_g: Graph): void {}
