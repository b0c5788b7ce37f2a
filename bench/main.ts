// `pnpm bench`: r1lab's training, generation, GRPO and eval throughput, each side by side with
// PyTorch running the same model in the same run (docs/performance.md).
//   pnpm bench [--device cpu|webgpu] [--executor ort|jax] [--json FILE] [--only NAME,...] [--quick] [--no-torch] [--profile]
// The executor (what runs r1lab's compiled steps: onnxruntime or jax-js's jit) is recorded in the
// report and in every row; --executor re-runs the command with R1LAB_EXECUTOR set, because the
// engine reads it while loading.
// Every figure is the median over timed repetitions after untimed warm-up ones (jit compilation
// happens in the warm-up). ratio = r1lab / torch (speeds), so > 1 means r1lab is faster.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { writeJsonAtomic } from "../src/engine/atomic.ts";
import { initEngine, resolveDevice } from "../src/engine/device.ts";
import { currentExecutor, resolveExecutor } from "../src/engine/executor.ts";
import { machineInfo } from "./machine.ts";
import { formatOrtProfile, readOrtProfiles } from "./ort-profile.ts";
import { runProfile } from "./profile.ts";
import type { Reps } from "./r1lab-side.ts";
import { BENCHES, type Row } from "./suite.ts";
import { TorchPeer } from "./torch-peer.ts";

export interface BenchOptions {
  device?: string;
  json?: string;
  only?: string[];
  quick?: boolean;
  torch?: boolean;
  /** Warm-up / timed repetitions for every benchmark instead of the mode's (tests). */
  reps?: Reps;
  log?: (s: string) => void;
}

export interface BenchReport {
  machine: Record<string, unknown>;
  device: string;
  /** ort or jax: what ran r1lab's compiled steps. */
  executor: string;
  mode: "quick" | "full";
  torch_unavailable?: string;
  /** With --device webgpu: what PyTorch ran on (CUDA when torch.cuda is available, else its CPU, said so). */
  torch_reference?: string;
  results: Record<string, Row>;
}

const fmt = (v: number | string | null | undefined) =>
  v === null || v === undefined
    ? "-"
    : typeof v === "string"
      ? v
      : Math.abs(v) >= 100
        ? v.toFixed(0)
        : v.toPrecision(3);

export function formatTable(results: Record<string, Row>): string {
  const lines = [
    `${"benchmark".padEnd(18)} ${"r1lab".padStart(10)} ${"torch".padStart(10)} ${"ratio".padStart(7)}  unit / detail`,
  ];
  for (const [name, row] of Object.entries(results)) {
    const key = Object.keys(row).find(
      (k) =>
        k.startsWith("r1lab_") && (k.endsWith("_per_s") || k.endsWith("per_token") || k === "r1lab_step_s"),
    );
    const mine = key ? row[key] : null;
    const theirs = key ? row[key.replace("r1lab_", "torch_")] : null;
    const unit = key ? key.replace("r1lab_", "").replace(/_/g, " ") : "";
    const extra = row.error
      ? ` ERROR ${row.error}`
      : name.startsWith("grpo")
        ? ` (rollout/ref/update r1lab ${fmt(row.r1lab_rollout_s)}/${fmt(row.r1lab_reference_s)}/${fmt(row.r1lab_update_s)} s, torch ${fmt(row.torch_rollout_s)}/${fmt(row.torch_reference_s)}/${fmt(row.torch_update_s)} s)`
        : name.startsWith("serve")
          ? ` (one at a time ${fmt(row.sequential_tokens_per_s)}, ${fmt(row.speedup_over_sequential)}x; ${fmt(row.rows_per_step)} rows/step)`
          : name.startsWith("kv_cache")
            ? ` (MHA ${fmt(row.mha_bytes_per_token)}, MLA/MHA ${fmt(row.mla_over_mha)})`
            : name === "ceiling"
              ? ` (one thread: Wasm SIMD peak ${fmt(row.wasm_simd_peak_gflops_1t)}, relaxed FMA ${fmt(row.wasm_relaxed_fma_peak_gflops_1t)}, torch ${fmt(row.torch_matmul_gflops_1t)}; peak/torch ${fmt(row.wasm_peak_over_torch_1t)})`
              : "";
    lines.push(
      `${name.padEnd(18)} ${fmt(mine).padStart(10)} ${fmt(theirs).padStart(10)} ${fmt(row.ratio).padStart(7)}  ${unit}${extra}`,
    );
  }
  return lines.join("\n");
}

export async function runBench(o: BenchOptions): Promise<BenchReport> {
  const log = o.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const known = BENCHES.map((b) => b.name);
  for (const n of o.only ?? [])
    if (!known.includes(n)) throw new Error(`--only: unknown benchmark '${n}' (known: ${known.join(", ")})`);
  const chosen = BENCHES.filter((b) => (o.only?.length ? o.only.includes(b.name) : !o.quick || b.inQuick));
  const engine = await initEngine({ device: o.device });
  const machine = machineInfo();
  machine.r1lab_threads = engine.threads;
  if (engine.adapter) machine.webgpu_adapter = engine.adapter;
  const report: BenchReport = {
    machine,
    device: engine.device,
    executor: engine.executor,
    mode: o.quick ? "quick" : "full",
    results: {},
  };
  let torch: TorchPeer | null = null;
  if (o.torch !== false) {
    const started = await TorchPeer.start();
    if ("peer" in started) {
      torch = started.peer;
      Object.assign(machine, {
        torch: started.hello.torch,
        torch_device: started.hello.device,
        torch_threads: started.hello.threads,
        torch_env: started.hello.env,
      });
      if (engine.device === "webgpu") {
        const cuda = started.hello.device !== "cpu";
        report.torch_reference = cuda
          ? `PyTorch CUDA (${started.hello.device})`
          : "PyTorch on the CPU: torch.cuda is not available here, so the ratios compare the GPU path with CPU torch, not with CUDA";
        if (!cuda) log(`bench: ${report.torch_reference}`);
      }
    } else {
      report.torch_unavailable = started.reason;
      log(`bench: PyTorch side skipped: ${started.reason}`);
    }
  } else report.torch_unavailable = "--no-torch";
  try {
    for (const b of chosen) {
      const t0 = performance.now();
      log(`bench: ${b.name} ...`);
      try {
        report.results[b.name] = { ...(await b.run(torch, !!o.quick, o.reps)), executor: engine.executor };
      } catch (e) {
        report.results[b.name] = { error: (e as Error).message, ratio: null, executor: engine.executor };
      }
      log(
        `bench: ${b.name} done in ${((performance.now() - t0) / 1000).toFixed(1)} s: ratio ${fmt(report.results[b.name].ratio)}`,
      );
    }
  } finally {
    torch?.close();
  }
  machine.load_average_end = loadavg().map((x) => Math.round(x * 100) / 100);
  if (o.json) writeJsonAtomic(o.json, report);
  return report;
}

/**
 * Each benchmark in its own process (`--in-process` turns this off): the Wasm heap of jax-js only
 * grows (4 GiB at most) and compiled functions stay cached, so after a few benchmarks in one process
 * a later one could fail with "Allocation exceeds the 4 GiB memory32 limit" although it runs alone.
 */
async function runIsolated(o: BenchOptions, names: string[]): Promise<BenchReport> {
  const dir = mkdtempSync(join(tmpdir(), "r1lab-bench-"));
  let merged: BenchReport | null = null;
  try {
    for (const name of names) {
      const file = join(dir, `${name}.json`);
      const args = [
        ...process.execArgv,
        fileURLToPath(import.meta.url),
        "--in-process",
        "--only",
        name,
        "--json",
        file,
      ];
      if (o.device) args.push("--device", o.device);
      if (o.quick) args.push("--quick");
      if (o.torch === false) args.push("--no-torch");
      const code = await new Promise<number>((res) =>
        spawn(process.execPath, args, { stdio: ["ignore", "ignore", "inherit"] }).on("close", (c) =>
          res(c ?? 1),
        ),
      );
      let part: BenchReport;
      try {
        part = JSON.parse(readFileSync(file, "utf8"));
      } catch {
        part = {
          machine: {},
          device: o.device ?? "cpu",
          executor: currentExecutor(),
          mode: o.quick ? "quick" : "full",
          results: {
            [name]: { error: `benchmark process exited with code ${code} without a report`, ratio: null },
          },
        };
      }
      if (!merged) merged = part;
      else {
        Object.assign(merged.results, part.results);
        merged.machine.load_average_end = part.machine.load_average_end;
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (o.json && merged) writeJsonAtomic(o.json, merged);
  return merged!;
}

async function main(argv: string[]): Promise<number> {
  let v: Record<string, any>;
  try {
    v = parseArgs({
      args: argv,
      options: {
        device: { type: "string" },
        executor: { type: "string" },
        json: { type: "string" },
        only: { type: "string" },
        quick: { type: "boolean" },
        "no-torch": { type: "boolean" },
        profile: { type: "boolean" },
        "in-process": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }).values;
  } catch (e) {
    console.error(`bench: ${(e as Error).message}`);
    return 2;
  }
  if (v.help) {
    console.log(
      "usage: pnpm bench [--device cpu|webgpu] [--executor ort|jax] [--json FILE] [--only NAME,...] [--quick] [--no-torch] [--profile [--only NAME,...]] [--in-process]",
    );
    console.log(`benchmarks: ${BENCHES.map((b) => b.name).join(", ")}`);
    return 0;
  }
  if (v.executor && v.executor !== process.env.R1LAB_EXECUTOR) {
    resolveDevice(v.device); // a bad name fails here, with the flag's name
    resolveExecutor(v.executor);
    const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
      stdio: "inherit",
      env: { ...process.env, R1LAB_EXECUTOR: v.executor },
    });
    return await new Promise<number>((res) => child.on("close", (c) => res(c ?? 1)));
  }
  const only = v.only
    ? String(v.only)
        .split(",")
        .map((s: string) => s.trim())
        .filter(Boolean)
    : undefined;
  if (v.profile && only?.length) return await profileRows(only, v.device, v.quick);
  if (v.profile) {
    await initEngine({ device: v.device });
    console.log(await runProfile(v.quick ? 3 : 6));
    return 0;
  }
  const opts: BenchOptions = { device: v.device, json: v.json, only, quick: v.quick, torch: !v["no-torch"] };
  const names = BENCHES.filter((b) => (only?.length ? only.includes(b.name) : !v.quick || b.inQuick)).map(
    (b) => b.name,
  );
  const unknown = (only ?? []).find((n) => !BENCHES.some((b) => b.name === n));
  if (unknown) {
    console.error(
      `bench: --only: unknown benchmark '${unknown}' (known: ${BENCHES.map((b) => b.name).join(", ")})`,
    );
    return 2;
  }
  const report =
    v["in-process"] || names.length === 1 ? await runBench(opts) : await runIsolated(opts, names);
  console.log(formatTable(report.results));
  const m = report.machine;
  console.log(
    `\n${report.device === "webgpu" ? `device webgpu (${m.webgpu_adapter ?? "adapter unknown"}); reference: ${report.torch_reference ?? "none"}\n` : ""}executor ${report.executor}; ${m.cpu_model}, ${m.cores} cores, ${m.memory_gib} GiB, node ${m.node}, torch ${m.torch ?? `unavailable (${report.torch_unavailable})`}; load ${m.load_average_start} -> ${m.load_average_end}`,
  );
  return Object.values(report.results).some((r) => r.error) ? 1 : 0;
}

/** `--profile --only ROW,...`: run the rows without PyTorch under onnxruntime's profiler. */
async function profileRows(only: string[], device?: string, quick?: boolean): Promise<number> {
  const unknown = only.find((n) => !BENCHES.some((b) => b.name === n));
  if (unknown) {
    console.error(
      `bench: --only: unknown benchmark '${unknown}' (known: ${BENCHES.map((b) => b.name).join(", ")})`,
    );
    return 2;
  }
  let code = 0;
  for (const row of only) {
    const dir = mkdtempSync(join(tmpdir(), "r1lab-ort-profile-"));
    try {
      // Sessions read R1LAB_ORT_PROFILE when created; each row runs in its own child process.
      process.env.R1LAB_ORT_PROFILE = join(dir, "ort");
      const report = await runIsolated({ device, only: [row], quick, torch: false }, [row]);
      delete process.env.R1LAB_ORT_PROFILE;
      console.log(formatTable(report.results));
      console.log(formatOrtProfile(row, readOrtProfiles(dir)));
      if (report.results[row]?.error) code = 1;
    } finally {
      delete process.env.R1LAB_ORT_PROFILE;
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return code;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split("/").pop()!)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      console.error(`bench: ${(e as Error).message}`);
      process.exit(1);
    },
  );
}
