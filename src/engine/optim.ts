// AdamW (Loshchilov & Hutter: weight decay decoupled from the gradient) with global-norm gradient
// clipping, as one jitted update over the whole parameter tree. The update consumes the old
// parameters, gradients and moments (their memory is reused: on the ORT executor the new values
// are written into the old buffers), and returns the new ones.
//   g <- g * min(1, maxGradNorm / ||g||)
//   m <- b1 m + (1-b1) g ;  v <- b2 v + (1-b2) g^2
//   p <- p - lr * ( m/(1-b1^t) / (sqrt(v/(1-b2^t)) + eps) + wd * p )      (wd only on matrices)
import { compile } from "./compile.ts";
import { numpy as np } from "./jax.ts";
import * as o from "./ops.ts";
import type { Arr } from "./ops.ts";
import { type Params, zerosLike } from "./params.ts";
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

  private step(p: Params, g: Params, m: Params, v: Params, h: Arr): [Params, Params, Params, Arr] {
    const { beta1, beta2, eps, weightDecay, maxGradNorm } = this.config;
    const lr = o.slice(h, 0);
    const bc1 = o.slice(h, 1);
    const bc2 = o.slice(h, 2);
    const norm = globalNorm(g);
    const clip =
      maxGradNorm > 0 && Number.isFinite(maxGradNorm)
        ? o.minimum(1, o.div(maxGradNorm, o.add(norm, 1e-6)))
        : null;
    const outP: Params = {};
    const outM: Params = {};
    const outV: Params = {};
    for (const name of Object.keys(p)) {
      const gi = clip ? o.mul(g[name], clip) : g[name];
      const mi = o.add(o.mul(m[name], beta1), o.mul(gi, 1 - beta1));
      const vi = o.add(o.mul(v[name], beta2), o.mul(o.square(gi), 1 - beta2));
      const upd = o.div(o.div(mi, bc1), o.add(o.sqrt(o.div(vi, bc2)), eps));
      const wd = weightDecay > 0 && decays(name, p[name].shape) ? o.mul(p[name], weightDecay) : null;
      outP[name] = o.sub(p[name], o.mul(lr, wd ? o.add(upd, wd) : upd));
      outM[name] = mi;
      outV[name] = vi;
    }
    return [outP, outM, outV, norm];
  }
}
