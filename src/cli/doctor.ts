// `r1lab doctor`: what this machine gives r1lab. Node and r1lab/engine versions; the CPU backend
// (Wasm) with its thread count and whether its worker pool is really multi-threaded; the executor
// of compiled steps (ort or jax) with a computed check; the WebGPU
// adapter, or why there is none and how to get one; and the optional tools some features use
// (bubblewrap for the code sandbox, python3 with torch for cross-checks, jupyter for notebooks,
// podman for containers, deno); whether the code sandbox works here and what bounds a sandboxed
// run's memory (a cgroup per run, or rlimits only, with the gap that leaves: docs/security.md).
// Prints text, or one JSON object with --json.
import { spawnSync } from "node:child_process";
import { accessSync, constants, existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { sandboxAvailable } from "../eval/sandbox.ts";
import { containment } from "../eval/sandbox-cgroup.ts";
import { compile } from "../engine/compile.ts";
import { defaultThreads, initEngine } from "../engine/device.ts";
import { currentExecutor } from "../engine/executor.ts";
import { ops as o, tidy, toHost } from "../engine/index.ts";
import type { WebGpuEpCheck } from "../engine/ort/webgpu-check.ts";
import type { Command } from "./command.ts";
import { packageVersion, r1labVersion } from "./version.ts";

/** Full path of `name` on PATH, or null. */
export function which(name: string): string | null {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* not here */
    }
  }
  return null;
}

type WebGpuReport = DoctorReport["webgpu"];

/**
 * The WebGPU adapter and onnxruntime's WebGPU EP, probed in a child process: Dawn prints warnings
 * of its own ("maxDynamic... artificially reduced") straight to the process's stderr, which
 * doctor's report should not carry.
 */
function probeWebGPUQuietly(): WebGpuReport {
  const self = fileURLToPath(import.meta.url);
  const ext = self.endsWith(".ts") ? ".ts" : ".js";
  const url = (...p: string[]) => JSON.stringify(`file://${join(self, "..", "..", "engine", ...p)}${ext}`);
  const code = `const d = await import(${url("device")}); const p = await d.probeWebGPU();
const adapter = p.adapter ? d.describeAdapter(p.adapter) : null;
let ortEp = null;
if (adapter) { await d.initEngine({ device: "cpu", executor: "ort" }); ortEp = await (await import(${url("ort", "webgpu-check")})).checkOrtWebGpu(); }
process.stdout.write(JSON.stringify({ adapter, reason: p.reason, software: /llvmpipe|lavapipe|swiftshader|software/i.test(adapter ?? ""), ortEp }) + "\\n");
process.exit(0);`;
  const r = spawnSync(process.execPath, [...process.execArgv, "--input-type=module", "-e", code], {
    encoding: "utf8",
    timeout: 60_000,
  });
  try {
    return JSON.parse(r.stdout.trim().split("\n").at(-1) ?? "");
  } catch {
    const err = (r.stderr ?? "").split("\n").filter((l) => l.trim() && !/artificially reduced/.test(l));
    return {
      adapter: null,
      reason: `the WebGPU probe failed: ${err.slice(-3).join(" ") || `exit ${r.status}`}`,
      software: false,
      ortEp: null,
    };
  }
}

/** First line of `cmd args` (stdout, else stderr), or null when it fails or takes over 20 s. */
function firstLine(cmd: string, args: string[]): string | null {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 20_000 });
  if (r.error || r.status !== 0) return null;
  return (r.stdout.trim() || r.stderr.trim()).split("\n")[0] ?? "";
}

interface Tool {
  name: string;
  path: string | null;
  detail: string;
}

function tools(): Tool[] {
  const out: Tool[] = [];
  const simple = (name: string, versionArgs: string[], what: string) => {
    const path = which(name);
    const version = path ? firstLine(path, versionArgs) : null;
    out.push({ name, path, detail: path ? `${version ?? "present"} (${what})` : `not found (${what})` });
  };
  simple("bwrap", ["--version"], "sandbox for generated code");
  const py = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : which("python3");
  const torch = py ? firstLine(py, ["-c", "import torch; print(torch.__version__)"]) : null;
  out.push({
    name: "python3+torch",
    path: py,
    detail: !py
      ? "python3 not found (cross-checks)"
      : torch
        ? `torch ${torch}`
        : `${py} has no importable torch (cross-checks)`,
  });
  simple("jupyter", ["--version"], "notebooks");
  simple("podman", ["--version"], "containers");
  simple("deno", ["--version"], "alternative runtime");
  return out;
}

export interface DoctorReport {
  node: string;
  platform: string;
  r1lab: string;
  engine: { name: string; version: string };
  webgpuPackage: string;
  cpu: {
    cores: number;
    threads: number;
    threadsFrom: string;
    multiThreaded: boolean;
    matmulMs: number | null;
    error?: string;
  };
  /** The WebGPU adapter (software: Mesa's llvmpipe or another CPU rasteriser) and a computed check of onnxruntime's WebGPU EP. */
  webgpu: { adapter: string | null; reason: string; software: boolean; ortEp: WebGpuEpCheck | null };
  /** The code sandbox: whether bwrap works here, and what bounds a run's memory. */
  sandbox: { ok: boolean; reason: string; cgroup: boolean; memory: string };
  /** What runs compiled steps, where the choice came from, and a check that it computes. */
  executor: { name: string; from: string; onnxruntime: string; checkMs: number | null; error?: string };
  tools: Tool[];
}

export async function doctorReport(): Promise<DoctorReport> {
  const threads = defaultThreads();
  const cpu: DoctorReport["cpu"] = {
    cores: availableParallelism(),
    threads,
    threadsFrom: process.env.R1LAB_THREADS ? "R1LAB_THREADS" : "all cores",
    multiThreaded: false,
    matmulMs: null,
  };
  try {
    await initEngine({ device: "cpu" });
    // jax-js starts its Wasm worker pool only when both exist (shared memory + Worker shim).
    cpu.multiThreaded =
      typeof SharedArrayBuffer !== "undefined" &&
      typeof (globalThis as { Worker?: unknown }).Worker !== "undefined" &&
      threads > 1;
    const t0 = performance.now();
    const y = tidy(() => o.sum(o.matmul(o.ones([256, 256]), o.ones([256, 256]))));
    const v = (await toHost(y))[0];
    y.dispose();
    if (v !== 256 ** 3) throw new Error(`a 256x256 matmul of ones summed to ${v}, expected ${256 ** 3}`);
    cpu.matmulMs = performance.now() - t0;
  } catch (e) {
    cpu.error = (e as Error).message;
  }
  const executor: DoctorReport["executor"] = {
    name: currentExecutor(),
    from: process.env.R1LAB_EXECUTOR ? "R1LAB_EXECUTOR" : "default on cpu",
    onnxruntime: packageVersion("onnxruntime-node"),
    checkMs: null,
  };
  try {
    // A compiled 64x64 matmul on the chosen executor, checked against its exact result.
    const t0 = performance.now();
    const f = compile((a: o.Arr, b: o.Arr) => o.sum(o.matmul(a, b)), { name: "doctor check" });
    const y = f(o.ones([64, 64]), o.full([64, 64], 2));
    const v = (await toHost(y))[0];
    y.dispose();
    if (v !== 2 * 64 ** 3) throw new Error(`a compiled 64x64 matmul summed to ${v}, expected ${2 * 64 ** 3}`);
    executor.checkMs = performance.now() - t0;
  } catch (e) {
    executor.error = (e as Error).message;
  }
  const webgpu = probeWebGPUQuietly();
  return {
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    r1lab: r1labVersion(),
    engine: { name: "@jax-js/jax", version: packageVersion("@jax-js/jax") },
    webgpuPackage: packageVersion("webgpu"),
    cpu,
    webgpu,
    sandbox: { ...sandboxAvailable(), cgroup: containment().cgroup, memory: containment().line },
    executor,
    tools: tools(),
  };
}

function formatEp(c: WebGpuEpCheck, version: string): string {
  if (!c.ok) return `onnxruntime's WebGPU execution provider FAILED: ${c.error}`;
  return `onnxruntime ${version} WebGPU execution provider works (--device webgpu; ort is the default executor there); device-resident matmul check ok (${c.ms!.toFixed(0)} ms incl. session and shaders; ${c.placement ?? "placement unknown"})`;
}

export function formatDoctor(r: DoctorReport): string {
  const c = r.cpu;
  const pool = c.multiThreaded ? "multi-threaded Wasm pool" : "single-threaded (no Wasm worker pool)";
  const cpuLine = c.error
    ? `FAILED: ${c.error}`
    : `Wasm, ${c.threads} thread${c.threads === 1 ? "" : "s"} of ${c.cores} cores (${c.threadsFrom}; set R1LAB_THREADS to change), ${pool}; 256x256 matmul check ok (${c.matmulMs!.toFixed(0)} ms incl. compile)`;
  const rows: [string, string][] = [
    ["node", `${r.node} (${r.platform})`],
    ["r1lab", r.r1lab],
    ["engine", `${r.engine.name} ${r.engine.version}`],
    ["cpu", cpuLine],
    [
      "executor",
      r.executor.error
        ? `${r.executor.name} FAILED: ${r.executor.error}`
        : `${r.executor.name} (${r.executor.from}; --executor or R1LAB_EXECUTOR to change: ort = onnxruntime ${r.executor.onnxruntime}, jax = jax-js jit); compiled matmul check ok (${r.executor.checkMs!.toFixed(0)} ms incl. compile)`,
    ],
    [
      "webgpu",
      r.webgpu.adapter
        ? `${r.webgpu.adapter} (webgpu ${r.webgpuPackage})${r.webgpu.software ? "; a software rasteriser on the CPU (llvmpipe): correct but slow" : ""}`
        : `unavailable: ${r.webgpu.reason}`,
    ],
    ...(r.webgpu.ortEp
      ? [["webgpu EP", formatEp(r.webgpu.ortEp, r.executor.onnxruntime)] as [string, string]]
      : []),
    ["sandbox", r.sandbox.ok ? `works (${r.sandbox.reason})` : `UNAVAILABLE: ${r.sandbox.reason}`],
    ["sandbox mem", r.sandbox.memory],
    ...r.tools.map((t): [string, string] => [t.name, t.detail]),
  ];
  return rows.map(([k, v]) => `${k.padEnd(14)} ${v}`).join("\n");
}

const cmd: Command = {
  name: "doctor",
  summary: "show the runtime, engine, devices and optional tools",
  usage: "doctor [--json]",
  options: { json: { type: "boolean", help: "print one JSON object instead of text" } },
  async run(v) {
    const r = await doctorReport();
    process.stdout.write(`${v.json ? JSON.stringify(r) : formatDoctor(r)}\n`);
    if (r.cpu.error || r.executor.error) process.exitCode = 1;
  },
};

export default cmd;
