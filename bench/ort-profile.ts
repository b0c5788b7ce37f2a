// `pnpm bench --profile --only ROW`: where onnxruntime spends a benchmark row's time, per ONNX
// operator type and per node, from onnxruntime's own profiler. Every session the row opens writes
// a JSON trace (R1LAB_ORT_PROFILE, src/engine/ort/session.ts): one event per node run, with its
// kernel time. Warm-up runs are included, as are all sessions (train step, AdamW, prefill, decode
// ...), so the table is the whole row's ORT time; time outside ORT (tracing, session creation,
// host work between runs) is not in it.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

interface OrtEvent {
  cat?: string;
  name?: string;
  dur?: number;
  args?: { op_name?: string; provider?: string };
}

export interface OpTime {
  name: string;
  /** Microseconds summed over every run. */
  us: number;
  calls: number;
}

export interface OrtProfile {
  byOp: OpTime[];
  byNode: (OpTime & { op: string; file: string })[];
  totalUs: number;
  files: number;
}

/** Sum kernel times per operator type and per node over the JSON traces in `dir`. */
export function readOrtProfiles(dir: string): OrtProfile {
  const ops = new Map<string, OpTime>();
  const nodes = new Map<string, OpTime & { op: string; file: string }>();
  let totalUs = 0;
  const files = readdirSync(dir).filter((f) => f.endsWith(".json"));
  for (const f of files) {
    let events: OrtEvent[];
    try {
      events = JSON.parse(readFileSync(join(dir, f), "utf8"));
    } catch (e) {
      throw new Error(
        `bench --profile: cannot read onnxruntime's profile ${join(dir, f)}: ${(e as Error).message}`,
      );
    }
    for (const ev of events) {
      if (ev.cat !== "Node" || !ev.name?.endsWith("_kernel_time") || typeof ev.dur !== "number") continue;
      const op = ev.args?.op_name ?? "?";
      const node = ev.name.slice(0, -"_kernel_time".length);
      const o = ops.get(op) ?? { name: op, us: 0, calls: 0 };
      o.us += ev.dur;
      o.calls++;
      ops.set(op, o);
      const key = `${f}:${node}`;
      const n = nodes.get(key) ?? { name: node, op, file: f, us: 0, calls: 0 };
      n.us += ev.dur;
      n.calls++;
      nodes.set(key, n);
      totalUs += ev.dur;
    }
  }
  const desc = (a: OpTime, b: OpTime) => b.us - a.us;
  return {
    byOp: [...ops.values()].sort(desc),
    byNode: [...nodes.values()].sort(desc),
    totalUs,
    files: files.length,
  };
}

export function formatOrtProfile(row: string, p: OrtProfile, topNodes = 15): string {
  if (p.totalUs === 0) return `profile of ${row}: no onnxruntime kernel ran (is the executor ort?)`;
  const ms = (us: number) => (us / 1000).toFixed(1).padStart(10);
  const pct = (us: number) => `${((100 * us) / p.totalUs).toFixed(1)}%`.padStart(7);
  const lines = [
    `profile of ${row}: ${(p.totalUs / 1000).toFixed(0)} ms in onnxruntime kernels over ${p.files} session(s), warm-up included`,
    "",
    `${"op type".padEnd(28)} ${"ms".padStart(10)} ${"share".padStart(7)} ${"runs".padStart(8)}`,
  ];
  for (const o of p.byOp)
    lines.push(`${o.name.padEnd(28)} ${ms(o.us)} ${pct(o.us)} ${String(o.calls).padStart(8)}`);
  lines.push(
    "",
    `top ${topNodes} nodes`,
    `${"node (op)".padEnd(40)} ${"ms".padStart(10)} ${"share".padStart(7)} ${"runs".padStart(8)}`,
  );
  for (const n of p.byNode.slice(0, topNodes))
    lines.push(
      `${`${n.name} (${n.op})`.slice(0, 40).padEnd(40)} ${ms(n.us)} ${pct(n.us)} ${String(n.calls).padStart(8)}`,
    );
  return lines.join("\n");
}
