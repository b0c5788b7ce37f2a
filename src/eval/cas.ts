// The computer-algebra part of math equivalence, on @cortex-js/compute-engine (Math-Verify uses
// SymPy for this). Two scalars are equal when:
//   - both are constants: their numeric values agree (complex parts included) within a relative
//     tolerance of 1e-6 (absolute 1e-12 near zero); two exact integers must be identical;
//   - both have the same free variables: the engine proves them equal (structure, expansion), or
//     they agree numerically at several fixed points (a randomized identity test with fixed seeds).
// Every engine call runs inside a time budget (ce.withTimeLimit) and any error means "not equal".
// Inputs longer than CAS_MAX_CHARS are never handed to the engine (its parser is not interruptible).

import { ComputeEngine, type Expression } from "@cortex-js/compute-engine";

/** Relative tolerance for numeric comparison (Math-Verify rounds to 6 decimals; this is the analogue). */
export const REL_TOL = 1e-6;
/** Absolute floor so that values like sin(pi) = 1.2e-16 compare equal to 0. */
export const ABS_TOL = 1e-12;
/** Longer LaTeX strings are compared only as text. */
export const CAS_MAX_CHARS = 1000;

let engine: ComputeEngine | null = null;
function ce(): ComputeEngine {
  engine ??= new ComputeEngine();
  return engine;
}

const parseCache = new Map<string, Expression | null>();

/** Parse LaTeX to a canonical expression; null when the input is too long or has a parse error. */
export function casParse(latex: string, timeMs = 1000): Expression | null {
  if (latex.length === 0 || latex.length > CAS_MAX_CHARS) return null;
  if (parseCache.has(latex)) return parseCache.get(latex)!;
  let e: Expression | null = null;
  try {
    const parsed = ce().withTimeLimit(timeMs, () => ce().parse(latex));
    e = parsed.isValid ? parsed : null;
  } catch {
    e = null;
  }
  if (parseCache.size > 5000) parseCache.clear();
  parseCache.set(latex, e);
  return e;
}

export interface Complex {
  re: number;
  im: number;
}

/** The numeric value of a constant expression, or null (free variables, not a number, timeout). */
export function casNumber(e: Expression, timeMs = 1000): Complex | null {
  try {
    if (e.unknowns.length > 0) return null;
    const n = ce().withTimeLimit(timeMs, () => e.N());
    const re = n.re;
    const im = n.im;
    if (Number.isNaN(re) || Number.isNaN(im)) return null;
    return { re, im: im ?? 0 };
  } catch {
    return null;
  }
}

function close(a: number, b: number): boolean {
  if (a === b) return true;
  if (!Number.isFinite(a) || !Number.isFinite(b)) return false;
  return Math.abs(a - b) <= Math.max(ABS_TOL, REL_TOL * Math.max(Math.abs(a), Math.abs(b)));
}

/** Numeric equality within the tolerance; exact for two integers. */
export function numbersEqual(a: Complex, b: Complex): boolean {
  const ints = Number.isInteger(a.re) && Number.isInteger(b.re) && a.im === 0 && b.im === 0;
  if (ints && Math.abs(a.re) < 2 ** 53 && Math.abs(b.re) < 2 ** 53) return a.re === b.re;
  const scale = Math.max(Math.hypot(a.re, a.im), Math.hypot(b.re, b.im));
  const tol = Math.max(ABS_TOL, REL_TOL * scale);
  return close(a.re, b.re) && Math.abs(a.im - b.im) <= tol;
}

/** Fixed evaluation points for the identity test (avoid 0, 1, integers and symmetric values). */
const POINTS = [0.5772156649, 1.3247179572, 2.6180339887, 0.3183098861];

function sameVariables(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((v) => b.includes(v));
}

/** Whether two expressions with the same free variables agree at the fixed points. */
function agreeAtPoints(a: Expression, b: Expression, vars: readonly string[], timeMs: number): boolean {
  let compared = 0;
  for (let p = 0; p < POINTS.length; p++) {
    const sub: Record<string, number> = {};
    vars.forEach((v, i) => {
      sub[v] = POINTS[(p + i) % POINTS.length] + 0.1 * i;
    });
    const va = casNumber(a.subs(sub), timeMs);
    const vb = casNumber(b.subs(sub), timeMs);
    if (va === null && vb === null) continue; // outside both domains (e.g. a pole): skip the point
    if (va === null || vb === null) return false;
    if (!numbersEqual(va, vb)) return false;
    compared++;
  }
  return compared >= 2;
}

/** Value equality of two scalar LaTeX expressions. Never throws. */
export function casEqual(a: string, b: string, timeMs = 1000): boolean {
  try {
    const ea = casParse(a, timeMs);
    const eb = casParse(b, timeMs);
    if (ea === null || eb === null) return false;
    const va = ea.unknowns;
    const vb = eb.unknowns;
    if (va.length === 0 && vb.length === 0) {
      const na = casNumber(ea, timeMs);
      const nb = casNumber(eb, timeMs);
      if (na !== null && nb !== null) return numbersEqual(na, nb);
      return ce().withTimeLimit(timeMs, () => ea.isSame(eb));
    }
    if (!sameVariables(va, vb)) return false;
    if (ce().withTimeLimit(timeMs, () => ea.is(eb))) return true;
    return agreeAtPoints(ea, eb, va, timeMs);
  } catch {
    return false;
  }
}

/** The free variables of a LaTeX expression ([] for constants or unparseable input). */
export function casUnknowns(latex: string): readonly string[] {
  try {
    return casParse(latex)?.unknowns ?? [];
  } catch {
    return [];
  }
}
