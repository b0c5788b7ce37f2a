// A computed check of onnxruntime's WebGPU execution provider, for `r1lab doctor`: a compiled
// 64x64 matmul whose product stays on the device and feeds a second run, its sum read back and
// compared with the exact value, and the nodes each provider ran (placement.ts).
import { compile } from "../compile.ts";
import * as o from "../ops.ts";
import { toHost } from "../params.ts";
import { type Placement, formatPlacement } from "./placement.ts";

export interface WebGpuEpCheck {
  ok: boolean;
  /** Wall time of both runs, session creation (and shader compilation) included. */
  ms: number | null;
  /** "N nodes on WebGPU, M on the CPU (...)" of the check's program. */
  placement: string | null;
  error?: string;
}

/** Needs initEngine() first (any device: the check names its execution provider itself). */
export async function checkOrtWebGpu(): Promise<WebGpuEpCheck> {
  try {
    const t0 = performance.now();
    const f = compile((a: o.Arr, b: o.Arr) => [o.matmul(a, b), o.sum(o.matmul(a, b))], {
      executor: "ort",
      device: "webgpu",
      name: "doctor WebGPU check",
      deviceOutputs: [0],
      placement: true,
    }) as unknown as ((a: unknown, b: o.Arr) => [unknown, o.Arr]) & { stats: { placement?: Placement } };
    const [c] = f(o.ones([64, 64]), o.full([64, 64], 2)); // c = 128 everywhere, on the device
    const [c2, s] = f(c, o.ones([64, 64]));
    (c2 as { dispose(): void }).dispose();
    const v = (await toHost(s))[0];
    s.dispose();
    const want = 128 * 64 * 64 * 64;
    if (v !== want) throw new Error(`a device-resident 64x64 matmul chain summed to ${v}, expected ${want}`);
    const p = f.stats.placement;
    return { ok: true, ms: performance.now() - t0, placement: p ? formatPlacement(p) : null };
  } catch (e) {
    return { ok: false, ms: null, placement: null, error: (e as Error).message.split("\n")[0] };
  }
}
