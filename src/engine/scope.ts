// Memory discipline over jax-js's move semantics. jax-js frees device memory by reference
// counting: every operation consumes its inputs. r1lab code instead calls the wrappers in
// ops.ts, which never consume inputs (they take `.ref`) and register every result in the current
// scope. `tidy(fn)` opens a scope, and on exit disposes every array created inside it except the
// ones fn returns, which move to the enclosing scope (or to the caller). Parameters and other
// long-lived arrays are created outside any scope and are never touched by it.
// This works the same under jit/grad tracing, where the "arrays" are tracers.
import { type Array as JArray, tree } from "./jax.ts";

const scopes: Set<JArray>[] = [];

/** Register a freshly created array with the current scope (if any) and return it. */
export function track<T extends JArray>(a: T): T {
  const s = scopes[scopes.length - 1];
  if (s) s.add(a);
  return a;
}

/** Run fn in a new scope; arrays it creates are disposed on exit unless they are in its result. */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<JArray>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    scopes.pop();
    for (const a of scope) safeDispose(a);
    throw e;
  }
  scopes.pop();
  const keep = new Set<JArray>();
  for (const leaf of tree.leaves(result as any) as unknown[]) {
    if (!isArray(leaf)) continue;
    if (scope.has(leaf)) {
      scope.delete(leaf);
      keep.add(leaf);
    } else if (!keep.has(leaf)) {
      // Returned but not created here (e.g. a parameter passed through): hand out a new reference.
      leaf.ref;
      keep.add(leaf);
    }
  }
  for (const a of scope) safeDispose(a);
  const parent = scopes[scopes.length - 1];
  if (parent) for (const a of keep) parent.add(a);
  return result;
}

/** Remove an array from the current scope so it outlives it (the caller now owns it). */
export function keep<T extends JArray>(a: T): T {
  scopes[scopes.length - 1]?.delete(a);
  return a;
}

export function isArray(x: unknown): x is JArray {
  return typeof x === "object" && x !== null && "dispose" in x && "shape" in x && "dtype" in x;
}

function safeDispose(a: JArray): void {
  try {
    a.dispose();
  } catch {
    /* already freed */
  }
}

/** Number of arrays the current scopes hold (for tests). */
export function scopeDepth(): number {
  return scopes.length;
}
