// Side-effect module: installs the Node shims before @jax-js/jax is evaluated (see jax.ts).
import { installPolyfills } from "./polyfills.ts";

const env = Number(process.env.R1LAB_THREADS);
installPolyfills(Number.isInteger(env) && env > 0 ? env : undefined);
