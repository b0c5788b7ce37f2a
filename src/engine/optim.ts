// AdamW (Loshchilov & Hutter: weight decay decoupled from the gradient) with global-norm gradient
// clipping, as one jitted update over the whole parameter tree. The update consumes the old
// parameters, gradients and moments (their memory is reused: on the ORT executor the new values
// are written into the old buffers), and returns the new ones.
//   g <- g * min(1, maxGradNorm / ||g||)
//   m <- b1 m + (1-b1) g ;  v <- b2 v + (1-b2) g^2
//   p <- p - lr * ( m/(1-b1^t) / (sqrt(v/(1-b2^t)) + eps) + wd * p )      (wd only on matrices)
import { type HostCoefs, adamwHost } from "./adamw-host.ts";
import { compile } from "./compile.ts";
import { numpy as np } from "./jax.ts";
import * as o from "./ops.ts";
import type { Arr } from "./ops.ts";
import { type Params, zerosLike } from "./params.ts";
import { onWebGpu } from "./ort/resident.ts";
import { ResidentTensor, isResident } from "./resident.ts";
import { tidy } from "./scope.ts";

export interface AdamWConfig {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Clip the global gradient norm to this value; 0 or Infinity disables clipping. */
  maxGradNorm: number;
}

export const ADAMW_DEFAULTS: AdamWConfig = {
  beta1: 0.9,
  beta2: 0.95,
  eps: 1e-8,
  weightDecay: 0.01,
  maxGradNorm: 1.0,
};

/** Scalar factors of one update (0-d arrays, or plain numbers without clipping). */
interface Coefs {
  gm: Arr | number;
  gv: Arr | number;
  stepSize: Arr;
  invSqrtBc2: Arr;
  decay: Arr;
}

export interface AdamWState {
  m: Params;
  v: Params;
  /** Number of updates applied so far. */
  step: number;
}

/** Weight decay applies to matrices (projections, embeddings), not to norms' gains or biases. */
export function decays(name: string, shape: readonly number[]): boolean {
  return shape.length >= 2 && !name.endsWith("norm.weight");
}

/**
 * Global L2 norm of a gradient tree (inside a traced or eager scope). The squares are summed in
 * sorted name order, not the tree's insertion order: a tree read back from a checkpoint (sorted
 * names) and one built by initParams (layer order) give the bit-identical norm, so a resumed run
 * clips exactly like an uninterrupted one.
 */
export function globalNorm(grads: Params): Arr {
  const parts = Object.keys(grads)
    .sort()
    .map((k) => o.sum(o.square(grads[k])));
  return o.sqrt(parts.reduce((a, b) => o.add(a, b)));
}

export class AdamW {
  readonly config: AdamWConfig;
  private compiled:
    | ((p: Params, g: Params, m: Params, v: Params, h: Arr) => [Params, Params, Params, Arr])
    | null = null;

  /**
   * Resident parameter trees over this many bytes are updated on the host (updateOnHost): one
   * program over a real-size model's whole tree let onnxruntime run the 290 independent per-tensor
   * chains breadth first, holding several tree-sized intermediates at once (a 0.5B model's first
   * update passed 13 GB), and even layer by layer its 14 passes per tensor cost more than the
   * forward and backward. On the host the update needs no intermediates at all.
   */
  static hostUpdateBytes = 2 ** 30;
  private sqFn: ((g: Arr[]) => Arr) | null = null;

  constructor(config: Partial<AdamWConfig> = {}) {
    this.config = { ...ADAMW_DEFAULTS, ...config };
  }

  init(params: Params): AdamWState {
    return { m: zerosLike(params), v: zerosLike(params), step: 0 };
  }

  /**
   * One update. Consumes `params`, `grads` and `state`'s moments; returns the new params and state,
   * and the gradient norm before clipping (a 0-d array owned by the caller).
   */
  update(
    params: Params,
    grads: Params,
    state: AdamWState,
    lr: number,
  ): { params: Params; state: AdamWState; gradNorm: Arr } {
    const { beta1, beta2 } = this.config;
    const t = state.step + 1;
    const first = Object.values(params)[0];
    const bytes = Object.values(params).reduce((n, a) => n + 4 * a.size, 0);
    if (isResident(first) && !onWebGpu() && bytes > AdamW.hostUpdateBytes)
      return this.updateOnHost(params, grads, state, lr, t);
    const hyper = np.array([lr, 1 - beta1 ** t, 1 - beta2 ** t], { dtype: np.float32 }) as Arr;
    this.compiled ??= compile(
      (p: Params, g: Params, m: Params, v: Params, h: Arr) => tidy(() => this.step(p, g, m, v, h)),
      // On the CPU parameters and moments are updated in their own buffers (donation); on WebGPU
      // they stay on the device. Only the norm is read.
      { name: "AdamW update", donate: [0, 2, 3], deviceOutputs: [0, 1, 2] },
    ) as any;
    const [np_, nm, nv, norm] = this.compiled!(params, grads, state.m, state.v, hyper);
    return { params: np_, state: { m: nm, v: nv, step: t }, gradNorm: norm };
  }

  private clipOf(norm: Arr): Arr | null {
    const { maxGradNorm } = this.config;
    return maxGradNorm > 0 && Number.isFinite(maxGradNorm)
      ? o.minimum(1, o.div(maxGradNorm, o.add(norm, 1e-6)))
      : null;
  }

  /**
   * One tensor's update: [p, m, v] new. `decay`: apply weight decay (decays(name, shape)).
   * Every scalar factor is folded first (coefs), so each full-size pass is one op:
   *   m' = b1 m + ((1-b1) c) g ;  v' = b2 v + ((1-b2) c^2) g^2 ;  p' = (1 - lr wd) p - (lr/bc1) m' / (sqrt(v') / sqrt(bc2) + eps)
   * 14 passes over the tensor instead of 17 (at 0.5B parameters each pass moves gigabytes).
   */
  private one(p: Arr, g: Arr, m: Arr, v: Arr, k: Coefs, decay: boolean): [Arr, Arr, Arr] {
    const { beta1, beta2, eps } = this.config;
    const mi = o.add(o.mul(m, beta1), o.mul(g, k.gm));
    const vi = o.add(o.mul(v, beta2), o.mul(o.square(g), k.gv));
    const denom = o.add(o.mul(o.sqrt(vi), k.invSqrtBc2), eps);
    const step = o.div(o.mul(mi, k.stepSize), denom);
    return [o.sub(decay && this.config.weightDecay > 0 ? o.mul(p, k.decay) : p, step), mi, vi];
  }

  /** The update's scalar factors (0-d values) from hyper = [lr, 1-b1^t, 1-b2^t] and the clip factor. */
  private coefs(h: Arr, clip: Arr | null): Coefs {
    const { beta1, beta2, weightDecay } = this.config;
    const lr = o.slice(h, 0);
    return {
      gm: clip ? o.mul(clip, 1 - beta1) : 1 - beta1,
      gv: clip ? o.mul(o.square(clip), 1 - beta2) : 1 - beta2,
      stepSize: o.div(lr, o.slice(h, 1)),
      invSqrtBc2: o.div(1, o.sqrt(o.slice(h, 2))),
      decay: o.sub(1, o.mul(lr, weightDecay)),
    };
  }

  private step(p: Params, g: Params, m: Params, v: Params, h: Arr): [Params, Params, Params, Arr] {
    const norm = globalNorm(g);
    const k = this.coefs(h, this.clipOf(norm));
    const outP: Params = {};
    const outM: Params = {};
    const outV: Params = {};
    for (const name of Object.keys(p)) {
      [outP[name], outM[name], outV[name]] = this.one(
        p[name],
        g[name],
        m[name],
        v[name],
        k,
        decays(name, p[name].shape),
      );
    }
    return [outP, outM, outV, norm];
  }

  /**
   * The same update for a resident tree on the CPU (real sizes): the gradient norm from per-layer
   * sums of squares (compiled; summed on the host, so it may differ from the one-program norm in the
   * last bits), then every tensor updated in one pass over its host buffers (adamw-host.ts), in
   * place where no one else holds them. As an ONNX program the update made 14 full-size passes per
   * tensor (~20 s of CPU per step at 0.5B parameters, against ~1.5 s here).
   */
  private updateOnHost(
    params: Params,
    grads: Params,
    state: AdamWState,
    lr: number,
    t: number,
  ): { params: Params; state: AdamWState; gradNorm: Arr } {
    const { beta1, beta2, eps, weightDecay, maxGradNorm } = this.config;
    const groups = new Map<string, string[]>();
    for (const k of Object.keys(params).sort()) {
      const key = /^model\.layers\.\d+\./.exec(k)?.[0] ?? "rest";
      groups.set(key, [...(groups.get(key) ?? []), k]);
    }
    this.sqFn ??= compile((g: Arr[]) => g.map((x) => o.sum(o.square(x))).reduce((a, b) => o.add(a, b)), {
      name: "AdamW gradient norm (layer)",
    }) as unknown as (g: Arr[]) => Arr;
    let sq = 0;
    for (const names of groups.values()) {
      const part = this.sqFn(names.map((k) => (grads[k] as any).ref));
      sq += (part as any).dataSync()[0];
    }
    // The factors in float32, as the compiled update computes them (coefs, clipOf).
    const f = Math.fround;
    const norm = f(Math.sqrt(sq));
    const [lr32, bc1, bc2] = [f(lr), f(1 - beta1 ** t), f(1 - beta2 ** t)];
    const clip =
      maxGradNorm > 0 && Number.isFinite(maxGradNorm)
        ? Math.min(1, f(f(maxGradNorm) / f(norm + f(1e-6))))
        : null;
    const k: HostCoefs = {
      beta1,
      gm: clip === null ? 1 - beta1 : f(clip * f(1 - beta1)),
      beta2,
      gv: clip === null ? 1 - beta2 : f(f(clip * clip) * f(1 - beta2)),
      invSqrtBc2: f(1 / f(Math.sqrt(bc2))),
      eps,
      stepSize: f(lr32 / bc1),
      decay: 1,
    };
    const decay = f(1 - f(lr32 * f(weightDecay)));
    const out = { p: {} as Params, m: {} as Params, v: {} as Params };
    for (const name of Object.keys(params)) {
      const [p, g, m, v] = [params[name], grads[name], state.m[name], state.v[name]];
      const dst = { p: ownBuffer(p), m: ownBuffer(m), v: ownBuffer(v) };
      const doDecay = decays(name, p.shape) && weightDecay > 0;
      adamwHost(hostF32(p), hostF32(g), hostF32(m), hostF32(v), dst, { ...k, decay: doDecay ? decay : 1 });
      for (const a of [p, g, m, v]) a.dispose();
      out.p[name] = new ResidentTensor(dst.p, [...p.shape], "float32") as unknown as Arr;
      out.m[name] = new ResidentTensor(dst.m, [...p.shape], "float32") as unknown as Arr;
      out.v[name] = new ResidentTensor(dst.v, [...p.shape], "float32") as unknown as Arr;
    }
    const gradNorm = np.array([norm], { dtype: np.float32 }).reshape([]) as Arr;
    return { params: out.p, state: { m: out.m, v: out.v, step: t }, gradNorm };
  }
}

/** The float32 values of a tensor (a resident one's own buffer; a jax-js array's copy). */
function hostF32(a: Arr): Float32Array {
  if (a.dtype !== "float32")
    throw new Error(`AdamW: ${a.dtype} tensor of shape [${a.shape}]; expected float32`);
  return (isResident(a) ? a.host : (a as any).ref.dataSync()) as Float32Array;
}

/** Where a consumed tensor's new value goes: its own buffer when no one else holds it (donation). */
function ownBuffer(a: Arr): Float32Array {
  return isResident(a) && a.refs <= 1 && a.location === "cpu"
    ? (a.host as Float32Array)
    : new Float32Array(a.size);
}
