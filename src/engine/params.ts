// Parameter trees: a model's weights as a flat map from Hugging Face tensor names
// ("model.layers.0.self_attn.q_proj.weight") to engine arrays. Keeping HF names as the keys makes
// loading and saving checkpoints a rename-free copy, and lets readers map each weight to the paper.
// Where they live follows the executor: on `ort` every tensor made here is resident (resident.ts:
// a host buffer outside jax-js's 4 GiB heap, fed to onnxruntime without a copy); on `jax` it is a
// jax-js array. Code that takes a Params works with either.
import { currentExecutor } from "./executor.ts";
import { numpy as np, random, tree } from "./jax.ts";
import type { Arr } from "./ops.ts";
import { DeviceTensor, download } from "./ort/device-tensors.ts";
import { ResidentTensor, isResident, residentOf, residentZeros } from "./resident.ts";
import { Rng, deriveSeed } from "./rng.ts";

export type Params = Record<string, Arr>;

/** Whether new parameter-like state is resident (the ORT executor) rather than jax-js arrays. */
export const residentState = (): boolean => currentExecutor() === "ort";

export function paramCount(p: Params): number {
  let n = 0;
  for (const a of Object.values(p)) n += a.size;
  return n;
}

// A tree may hold resident tensors (resident.ts, the ORT executor's host state) and, with
// `--device webgpu`, DeviceTensors (ort/device-tensors.ts) where it would hold jax-js arrays: both
// are reference-counted the same way, and toHost reads them.
const counted = (x: unknown): x is ResidentTensor | DeviceTensor =>
  isResident(x) || x instanceof DeviceTensor;

/** A new reference to every array of a tree (for passing it into a consuming call such as jit). */
export const refParams = <T>(p: T): T =>
  onlyCounted(p)
    ? (refCounted(p) as T)
    : (tree.map((x: unknown) => (counted(x) ? x.ref : x), tree.ref(p as any) as any) as T);

const plainObject = (x: unknown): x is Record<string, unknown> =>
  typeof x === "object" && x !== null && x.constructor === Object;

/**
 * Whether a tree is plain objects and arrays of resident / device tensors only (the ORT executor's
 * parameters and caches): refParams then copies it directly, without jax-js's two tree walks, since
 * a generation step takes new references to every weight at every token.
 */
function onlyCounted(x: unknown): boolean {
  if (counted(x)) return true;
  if (Array.isArray(x)) return x.every(onlyCounted);
  if (plainObject(x)) {
    for (const k in x) if (!onlyCounted(x[k])) return false;
    return true;
  }
  return false;
}

function refCounted(x: unknown): unknown {
  if (counted(x)) return x.ref;
  if (Array.isArray(x)) return x.map(refCounted);
  const out: Record<string, unknown> = {};
  for (const k in x as Record<string, unknown>) out[k] = refCounted((x as Record<string, unknown>)[k]);
  return out;
}

/** Free every array of the tree. */
export const disposeParams = (p: unknown): void => {
  tree.dispose(p as any);
  for (const x of tree.leaves(p as any) as unknown[]) if (counted(x)) x.dispose();
};

/**
 * Read an array back to the host without consuming it. A resident tensor gives its own buffer (do
 * not change it); a WebGPU device tensor is downloaded.
 */
export async function toHost(a: Arr | DeviceTensor): Promise<Float32Array | Int32Array> {
  if (isResident(a)) return a.host as Float32Array | Int32Array;
  if (a instanceof DeviceTensor) return (await download(a)) as Float32Array | Int32Array;
  return (await a.ref.data()) as Float32Array | Int32Array;
}

/** Read a scalar array back to the host without consuming it. */
export async function scalar(a: Arr): Promise<number> {
  return (await toHost(a))[0];
}

/** Host copies of all parameters (for checkpoints). */
export async function paramsToHost(
  p: Params,
): Promise<Record<string, { shape: number[]; data: Float32Array }>> {
  const out: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const [k, a] of Object.entries(p)) {
    const d = await toHost(a);
    out[k] = { shape: [...a.shape], data: d instanceof Float32Array ? d : Float32Array.from(d) };
  }
  return out;
}

/** An engine tensor over host values: resident on `ort` (no copy: `data` becomes its buffer), else a jax-js array. */
export function fromHost(data: Float32Array, shape: number[]): Arr {
  if (residentState()) return new ResidentTensor(data, shape, "float32") as unknown as Arr;
  return np.array(data, { shape, dtype: "float32" } as any) as Arr;
}

/** A float32 tensor filled with `value`, where fromHost would put it. */
export function filled(shape: number[], value: number): Arr {
  if (residentState()) {
    const t = residentZeros(shape);
    if (value !== 0) t.host.fill(value);
    return t as unknown as Arr;
  }
  return (value === 0 ? np.zeros(shape) : np.full(shape, value)) as Arr;
}

/**
 * Above this many elements normalInit draws on the host (sfc32 + Box-Muller, seeded from the key)
 * rather than with jax-js's PRNG, whose temporaries for a 150k-vocabulary embedding would take
 * gigabytes of the Wasm heap (which never shrinks). Smaller tensors get jax-js's exact numbers on
 * either executor, so both train the same model from the same seed.
 */
export const HOST_INIT_ELEMENTS = 1 << 24;

/** N(0, std^2) initialisation from a jax PRNG key derived from (seed, name). */
export function normalInit(shape: number[], std: number, key: Arr): Arr {
  const n = shape.reduce((a, b) => a * b, 1);
  if (!residentState()) return random.normal(key, shape).mul(std) as Arr;
  if (n <= HOST_INIT_ELEMENTS) {
    const a = random.normal(key, shape).mul(std) as Arr;
    const t = residentOf(a);
    a.dispose();
    return t as unknown as Arr;
  }
  const [k0, k1] = key.ref.dataSync() as Uint32Array;
  key.dispose();
  const rng = new Rng(deriveSeed(k0, "host-normal", k1));
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = rng.normal() * std;
  return new ResidentTensor(data, shape, "float32") as unknown as Arr;
}

export function zerosLike(p: Params): Params {
  const out: Params = {};
  for (const [k, a] of Object.entries(p)) out[k] = filled([...a.shape], 0);
  return out;
}

/** A jax-js PRNG key for the stream `name` of the run seeded with `seed`. */
export function jaxKey(seed: number, name: string, step = 0): Arr {
  return random.key(deriveSeed(seed, name, step)) as Arr;
}
