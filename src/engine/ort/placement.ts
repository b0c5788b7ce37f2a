// Which execution provider ran each node of a session: onnxruntime assigns every node it can to
// the WebGPU EP and the rest to its CPU EP (copying tensors between them). The only place
// onnxruntime-node tells which is its profile: every node's kernel event names its provider.
// `placementOf` profiles one run of a fresh session and counts nodes per provider, so
// R1LAB_ORT_DEBUG and `r1lab doctor` can show what fell back to the CPU.
import { readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Placement {
  /** Distinct nodes per provider ("WebGpuExecutionProvider", "CPUExecutionProvider"). */
  byProvider: Record<string, number>;
  /** ONNX op types of the nodes that ran on the CPU EP, with counts. */
  cpuOps: Record<string, number>;
}

/** A profile file prefix in the temp directory, unique to this process and call. */
let seq = 0;
export function profilePrefix(): string {
  return join(tmpdir(), `r1lab-ort-${process.pid}-${seq++}`);
}

/** Count nodes per provider in an ORT profile (a JSON list of trace events); deletes the file. */
export function readPlacement(profilePath: string): Placement {
  const events = JSON.parse(readFileSync(profilePath, "utf8")) as {
    cat?: string;
    name?: string;
    args?: { provider?: string; op_name?: string };
  }[];
  rmSync(profilePath, { force: true });
  const seen = new Set<string>();
  const byProvider: Record<string, number> = {};
  const cpuOps: Record<string, number> = {};
  for (const e of events) {
    const provider = e.args?.provider;
    if (e.cat !== "Node" || !provider || !e.name || seen.has(e.name)) continue;
    seen.add(e.name);
    byProvider[provider] = (byProvider[provider] ?? 0) + 1;
    if (provider === "CPUExecutionProvider") {
      const op = e.args?.op_name ?? "?";
      cpuOps[op] = (cpuOps[op] ?? 0) + 1;
    }
  }
  return { byProvider, cpuOps };
}

/** One line: "1033 nodes on WebGPU, 1 on the CPU (TopK)". */
export function formatPlacement(p: Placement): string {
  const gpu = p.byProvider.WebGpuExecutionProvider ?? 0;
  const cpu = p.byProvider.CPUExecutionProvider ?? 0;
  const ops = Object.entries(p.cpuOps)
    .map(([op, n]) => (n > 1 ? `${op} x${n}` : op))
    .join(", ");
  return `${gpu} nodes on WebGPU, ${cpu} on the CPU${cpu > 0 ? ` (${ops})` : ""}`;
}
