// Parameter trees: a model's weights as a flat map from Hugging Face tensor names
// ("model.layers.0.self_attn.q_proj.weight") to engine arrays. Keeping HF names as the keys makes
// loading and saving checkpoints a rename-free copy, and lets readers map each weight to the paper.
import { numpy as np, random, tree } from "./jax.ts";
import type { Arr } from "./ops.ts";
import { DeviceTensor, download } from "./ort/device-tensors.ts";
import { deriveSeed } from "./rng.ts";

export type Params = Record<string, Arr>;

export function paramCount(p: Params): number {
  let n = 0;
  for (const a of Object.values(p)) n += a.size;
  return n;
}

// With `--device webgpu` and the ort executor, a tree may hold DeviceTensors (ort/device-tensors.ts)
// where it would hold arrays: they are reference-counted the same way, and toHost reads them back.

/** A new reference to every array (for passing a tree into a consuming call such as jit). */
export const refParams = <T>(p: T): T =>
  tree.map((x: unknown) => (x instanceof DeviceTensor ? x.ref : x), tree.ref(p as any) as any) as T;

/** Free every array of the tree. */
export const disposeParams = (p: unknown): void => {
  tree.dispose(p as any);
  tree.map((x: unknown) => (x instanceof DeviceTensor ? x.dispose() : undefined), p as any);
};

/** Read an array (or a WebGPU device tensor) back to the host without consuming it. */
export async function toHost(a: Arr | DeviceTensor): Promise<Float32Array | Int32Array> {
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

export function fromHost(data: Float32Array, shape: number[]): Arr {
  return np.array(data, { shape, dtype: "float32" } as any) as Arr;
}

/** N(0, std^2) initialisation from a jax PRNG key derived from (seed, name). */
export function normalInit(shape: number[], std: number, key: Arr): Arr {
  return random.normal(key, shape).mul(std) as Arr;
}

export function zerosLike(p: Params): Params {
  const out: Params = {};
  for (const [k, a] of Object.entries(p)) out[k] = np.zeros([...a.shape], { dtype: np.float32 }) as Arr;
  return out;
}

/** A jax-js PRNG key for the stream `name` of the run seeded with `seed`. */
export function jaxKey(seed: number, name: string, step = 0): Arr {
  return random.key(deriveSeed(seed, name, step)) as Arr;
}
