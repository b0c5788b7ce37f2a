// The one door to @jax-js/jax. jax-js creates its Wasm backend (and decides whether it is
// multi-threaded) while its module is being evaluated, so the Node shims in polyfills.ts must be
// installed before that: importing jax-js only through this file guarantees the order.
// Threads come from R1LAB_THREADS (default: all cores), read once at start-up.
// The function transforms (jit, grad, valueAndGrad, vmap) accept resident tensors (resident.ts)
// among their arguments: those are copied into jax-js arrays (the transform consumes the copies).
import "./polyfills-install.ts";
import * as jax from "@jax-js/jax";

export * from "@jax-js/jax";

/** Resident tensors (duck-typed: resident.ts imports this file) become jax-js arrays. */
const eagerArgs = (args: unknown[]): any[] =>
  jax.tree.map(
    (x: any) => (x !== null && typeof x === "object" && typeof x.toJax === "function" ? x.toJax() : x),
    args as never,
  ) as unknown as any[];

function wrap<T extends (...a: any[]) => (...args: any[]) => any>(transform: T): T {
  return ((...targs: any[]) => {
    const f = transform(...targs);
    // Keep what the transform hangs on its result (jit's dispose).
    return Object.assign((...args: any[]) => f(...eagerArgs(args)), f);
  }) as T;
}

export const jit: typeof jax.jit = wrap(jax.jit);
export const grad: typeof jax.grad = wrap(jax.grad);
export const valueAndGrad: typeof jax.valueAndGrad = wrap(jax.valueAndGrad);
export const vmap: typeof jax.vmap = wrap(jax.vmap);
