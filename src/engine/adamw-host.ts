// AdamW's per-tensor update as one pass over host buffers, for real-size parameter trees on the CPU.
// As an ONNX program the update is 14 elementwise passes per tensor, each writing a full-size
// intermediate: at 0.5B parameters that moved ~80 GB and cost ~20 s of CPU time per step, more
// than the forward and backward together. Here each element is read once (p, g, m, v) and written
// once (p, m, v), by a small WebAssembly SIMD kernel (f32x4, built below from its bytes) over
// chunks copied through its 256 KiB memory (the state itself is far beyond Wasm's 4 GiB).
// The float32 operations of optim.ts's formula (`one`) in the same order, each correctly rounded
// (Wasm's float ops are IEEE-exact, with no fused multiply-add): the moments equal the compiled
// program's bit for bit; of the parameters, a few differ in the last bit, where onnxruntime's
// optimized graph does not round the formula exactly (tests/engine-adamw-host.test.ts).
//   m' = b1 m + gm g ;  v' = b2 v + gv g^2 ;  p' = decay p - (stepSize m') / (sqrt(v') invSqrtBc2 + eps)

/** The update's float32 factors (optim.ts `coefs`, evaluated on the host). */
export interface HostCoefs {
  beta1: number;
  gm: number;
  beta2: number;
  gv: number;
  invSqrtBc2: number;
  eps: number;
  stepSize: number;
  /** 1 - lr wd, or 1 for tensors without weight decay (p * 1 is exact). */
  decay: number;
}

/** Elements per chunk: p, g, m, v chunks of 64 KiB each sit at these element offsets. */
const CHUNK = 16384;
const OFF = { p: 0, g: CHUNK, m: 2 * CHUNK, v: 3 * CHUNK };

const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
};

/** The kernel: step(nBytes: i32, b1, gm, b2, gv, invSqrtBc2, eps, stepSize, decay: f32). */
function kernelBytes(): Uint8Array {
  const I32 = 0x7f;
  const F32 = 0x7d;
  const V128 = 0x7b;
  const get = (i: number) => [0x20, i];
  const set = (i: number) => [0x21, i];
  const simd = (op: number) => [0xfd, ...uleb(op)];
  const load = (elemOff: number) => [...simd(0x00), 4, ...uleb(elemOff * 4)];
  const store = (elemOff: number) => [...simd(0x0b), 4, ...uleb(elemOff * 4)];
  const [splat, sqrt, add, sub, mul, div] = [0x13, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7].map(simd);
  // params 0 n, 1..8 the factors; locals 9 i, 10..17 the splatted factors, 18 g, 19 m', 20 v'.
  const [B1, GM, B2, GV, INV, EPS, SS, DEC] = [10, 11, 12, 13, 14, 15, 16, 17];
  const [i, g, m, v] = [9, 18, 19, 20];
  const [BLOCK, LOOP, VOID, END, BR_IF, EQZ, CONST, ADD_I32, TEE, LT_U] = [
    2, 3, 0x40, 11, 13, 69, 65, 106, 34, 73,
  ];
  const body = [
    [1, 2, 3, 4, 5, 6, 7, 8].flatMap((k) => [...get(k), ...splat, ...set(k + 9)]),
    [BLOCK, VOID, ...get(0), EQZ, BR_IF, 0], // n == 0: done
    [LOOP, VOID, ...get(i), ...load(OFF.g), ...set(g)],
    // m' = m b1 + g gm
    [...get(i), ...load(OFF.m), ...get(B1), ...mul, ...get(g), ...get(GM), ...mul, ...add, ...set(m)],
    [...get(i), ...get(m), ...store(OFF.m)],
    // v' = v b2 + (g g) gv
    [...get(i), ...load(OFF.v), ...get(B2), ...mul, ...get(g), ...get(g), ...mul, ...get(GV), ...mul],
    [...add, ...set(v), ...get(i), ...get(v), ...store(OFF.v)],
    // p' = p decay - (m' stepSize) / (sqrt(v') invSqrtBc2 + eps)
    [...get(i), ...get(i), ...load(OFF.p), ...get(DEC), ...mul, ...get(m), ...get(SS), ...mul],
    [...get(v), ...sqrt, ...get(INV), ...mul, ...get(EPS), ...add, ...div, ...sub, ...store(OFF.p)],
    // i += 16; loop while i < n
    [...get(i), CONST, 16, ADD_I32, TEE, i, ...get(0), LT_U, BR_IF, 0],
    [END, END, END], // loop, block, function
  ].flat();
  const locals = [2, 1, I32, 11, V128];
  const func = [...locals, ...body];
  const section = (id: number, bytes: number[]) => [id, ...uleb(bytes.length), ...bytes];
  const name = [...new TextEncoder().encode("step")];
  const mem = [...new TextEncoder().encode("mem")];
  const header = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]; // "\0asm", version 1
  return new Uint8Array([
    ...header,
    ...section(1, [1, 0x60, 9, I32, F32, F32, F32, F32, F32, F32, F32, F32, 0]),
    ...section(3, [1, 0]),
    ...section(5, [1, 0, (4 * 4 * CHUNK) / 65536]),
    ...section(7, [2, name.length, ...name, 0x00, 0, mem.length, ...mem, 0x02, 0]),
    ...section(10, [1, ...uleb(func.length), ...func]),
  ]);
}

type Step = (n: number, ...k: number[]) => void;
let kernel: { step: Step; mem: Float32Array } | null = null;

function instance(): { step: Step; mem: Float32Array } {
  if (!kernel) {
    const wasm = (globalThis as any).WebAssembly;
    const ex = new wasm.Instance(new wasm.Module(kernelBytes())).exports as {
      step: Step;
      mem: { buffer: ArrayBuffer };
    };
    kernel = { step: ex.step, mem: new Float32Array(ex.mem.buffer) };
  }
  return kernel;
}

/**
 * One tensor's AdamW update: reads p, g, m, v and writes the new values into outP, outM, outV
 * (which may be p, m, v themselves: each chunk is read before it is written).
 */
export function adamwHost(
  p: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  out: { p: Float32Array; m: Float32Array; v: Float32Array },
  k: HostCoefs,
): void {
  const n = p.length;
  if (g.length !== n || m.length !== n || v.length !== n || out.p.length !== n)
    throw new Error(`adamwHost: lengths differ (p ${n}, g ${g.length}, m ${m.length}, v ${v.length})`);
  const { step, mem } = instance();
  const f = [k.beta1, k.gm, k.beta2, k.gv, k.invSqrtBc2, k.eps, k.stepSize, k.decay].map(Math.fround);
  for (let s = 0; s < n; s += CHUNK) {
    const e = Math.min(n, s + CHUNK);
    mem.set(p.subarray(s, e), OFF.p);
    mem.set(g.subarray(s, e), OFF.g);
    mem.set(m.subarray(s, e), OFF.m);
    mem.set(v.subarray(s, e), OFF.v);
    // Whole f32x4 lanes: the last chunk's padding lanes compute on stale values, never copied out.
    step(Math.ceil((e - s) / 4) * 16, ...f);
    out.p.set(mem.subarray(OFF.p, OFF.p + e - s), s);
    out.m.set(mem.subarray(OFF.m, OFF.m + e - s), s);
    out.v.set(mem.subarray(OFF.v, OFF.v + e - s), s);
  }
}
