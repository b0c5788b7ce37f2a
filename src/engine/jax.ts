// The one door to @jax-js/jax. jax-js creates its Wasm backend (and decides whether it is
// multi-threaded) while its module is being evaluated, so the Node shims in polyfills.ts must be
// installed before that: importing jax-js only through this file guarantees the order.
// Threads come from R1LAB_THREADS (default: all cores), read once at start-up.
import "./polyfills-install.ts";

export * from "@jax-js/jax";
