// What the bench ran on: CPU model and cores (lscpu), memory, Node, the BLAS library Debian's torch
// links (/etc/alternatives), and the load average before and after (the machine may be shared, so
// absolute figures are noisy; the side-by-side ratio from one run is the comparable number).
import { execFileSync } from "node:child_process";
import { readlinkSync } from "node:fs";
import { availableParallelism, cpus, loadavg, totalmem } from "node:os";

function lscpuField(name: string): string | null {
  try {
    const out = execFileSync("lscpu", { encoding: "utf8" });
    const m = out.match(new RegExp(`^${name}:\\s*(.+)$`, "m"));
    return m ? m[1].trim() : null;
  } catch {
    return null;
  }
}

function blasLibrary(): string | null {
  try {
    return readlinkSync("/etc/alternatives/libblas.so.3-x86_64-linux-gnu");
  } catch {
    return null;
  }
}

export function machineInfo(): Record<string, unknown> {
  return {
    cpu_model: lscpuField("Model name") ?? cpus()[0]?.model ?? "unknown",
    cores: availableParallelism(),
    threads_per_core: Number(lscpuField("Thread\\(s\\) per core") ?? 0) || null,
    memory_gib: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    blas: blasLibrary(),
    load_average_start: loadavg().map((x) => Math.round(x * 100) / 100),
  };
}
