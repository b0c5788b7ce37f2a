// `pnpm bench --only ceiling`: how fast any Wasm engine could multiply matrices on this CPU, next
// to jax-js's jitted matmul and PyTorch's (OpenBLAS) on the same 2048x256x768 product.
// The peak is measured with a hand-assembled Wasm function whose loop does nothing but independent
// f32x4 multiply-adds on 12 accumulators (no memory traffic), once with f32x4.mul + f32x4.add and
// once with relaxed SIMD's fused f32x4.relaxed_madd, on one thread. A real GEMM kernel stays below
// it (loads, stores, loop control). Its ratio to PyTorch's one-thread matmul is therefore an upper
// bound on r1lab's CPU matmul speed relative to PyTorch, whatever r1lab's kernels do.
import { jit } from "../src/engine/jax.ts";
import * as o from "../src/engine/ops.ts";
import { toHost } from "../src/engine/params.ts";
import { median } from "./r1lab-side.ts";

const ACC = 12;

/** LEB128 (unsigned) for lengths and indices. */
function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}
const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];
const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()];
const simd = (op: number) => [0xfd, ...uleb(op)];
const F32X4_SPLAT = 0x13;
const F32X4_EXTRACT_LANE = 0x1f;
const F32X4_ADD = 0xe4;
const F32X4_MUL = 0xe6;
const F32X4_RELAXED_MADD = 0x105;
const f32 = (x: number) => [0x43, ...new Uint8Array(new Float32Array([x]).buffer)];

/**
 * (func (param $n i32) (result f32)): ACC accumulators a_i <- a_i * x + y, n times; returns a sum
 * so the work cannot be dropped. Locals: 0 = n, 1..ACC = a_i, ACC+1 = x, ACC+2 = y.
 */
export function peakModule(fused: boolean): Uint8Array {
  const x = ACC + 1;
  const y = ACC + 2;
  const get = (i: number) => [0x20, ...uleb(i)];
  const set = (i: number) => [0x21, ...uleb(i)];
  const body: number[] = [
    ...vec([[...uleb(ACC + 2), 0x7b]]), // ACC + 2 locals of type v128
    ...f32(0.999),
    ...simd(F32X4_SPLAT),
    ...set(x),
    ...f32(0.001),
    ...simd(F32X4_SPLAT),
    ...set(y),
  ];
  for (let i = 1; i <= ACC; i++) body.push(...f32(i / 1000), ...simd(F32X4_SPLAT), ...set(i));
  body.push(0x03, 0x40); // loop
  for (let i = 1; i <= ACC; i++) {
    if (fused) body.push(...get(i), ...get(x), ...get(y), ...simd(F32X4_RELAXED_MADD), ...set(i));
    else body.push(...get(i), ...get(x), ...simd(F32X4_MUL), ...get(y), ...simd(F32X4_ADD), ...set(i));
  }
  // n -= 1; br_if loop (n > 0)
  body.push(...get(0), 0x41, 1, 0x6b, 0x22, 0, 0x41, 0, 0x4a, 0x0d, 0, 0x0b);
  body.push(...get(1));
  for (let i = 2; i <= ACC; i++) body.push(...get(i), ...simd(F32X4_ADD));
  body.push(...simd(F32X4_EXTRACT_LANE), 0, 0x0b);
  const fn = [...uleb(body.length), ...body];
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, vec([[0x60, 1, 0x7f, 1, 0x7d]])), // type: (i32) -> f32
    ...section(3, vec([[0]])),
    ...section(7, vec([[...uleb(3), ...Buffer.from("run"), 0x00, 0]])),
    ...section(10, vec([fn])),
  ]);
}

/** GFLOP/s of the peak loop on this thread, or null when the engine refuses the module. */
export function wasmPeakGflops(fused: boolean, iterations = 2e7): number | null {
  const wasm = (globalThis as any).WebAssembly;
  let run: (n: number) => number;
  try {
    run = new wasm.Instance(new wasm.Module(peakModule(fused)), {}).exports.run;
  } catch {
    return null; // relaxed SIMD not available in this Node
  }
  run(iterations / 20);
  const ts: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    run(iterations);
    ts.push((performance.now() - t0) / 1000);
  }
  // Each iteration: ACC accumulators x 4 lanes x (multiply + add).
  return (iterations * ACC * 4 * 2) / median(ts) / 1e9;
}

/** GFLOP/s of one jitted jax-js matmul [m, k] @ [k, n] with the engine's threads. */
export async function jaxMatmulGflops(m: number, k: number, n: number, reps = 7): Promise<number> {
  const a = o.fromArray(
    Float32Array.from({ length: m * k }, (_, i) => ((i * 7919) % 1000) / 1000 - 0.5),
    [m, k],
  );
  const b = o.fromArray(
    Float32Array.from({ length: k * n }, (_, i) => ((i * 104729) % 1000) / 1000 - 0.5),
    [k, n],
  );
  const f = jit((x: o.Arr, y: o.Arr) => o.matmul(x, y));
  await toHost(f(a.ref, b.ref));
  const ts: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    await toHost(f(a.ref, b.ref));
    ts.push((performance.now() - t0) / 1000);
  }
  a.dispose();
  b.dispose();
  return (2 * m * k * n) / median(ts) / 1e9;
}
