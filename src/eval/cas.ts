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

const NUMBER_LITERAL = /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$/;
const HAS_FLOAT = /(?:^|[^\d])\d*\.\d|\d\.(?!\d)/;

/** Equal after rounding both to `digits` decimal places (Math-Verify's rule when a float is involved). */
export function roundedEqual(a: Complex, b: Complex, digits: number): boolean {
  if (![a.re, a.im, b.re, b.im].every(Number.isFinite)) return a.re === b.re && a.im === b.im;
  const f = 10 ** digits;
  const r = (x: number) => Math.round(x * f) / f;
  return r(a.re) === r(b.re) && r(a.im) === r(b.im);
}

/**
 * Value equality of two scalar LaTeX expressions. Never throws. When one side is a bare number and
 * either is written with a decimal point, both are rounded to `precision` places (1/3 = 0.333333 at
 * 6); between a bare number and an exact value the values must agree to 1e-12 ("4" vs "4\sqrt2" is
 * not equal at any precision); other constants agree to 1e-10; expressions with the same variables
 * are proven equal or agree at fixed points.
 */
export function casEqual(a: string, b: string, timeMs = 1000, precision = 6): boolean {
  try {
    const ea = casParse(a, timeMs);
    const eb = casParse(b, timeMs);
    if (ea === null || eb === null) return false;
    const va = ea.unknowns;
    const vb = eb.unknowns;
    if (va.length === 0 && vb.length === 0) {
      const na = casNumber(ea, timeMs);
      const nb = casNumber(eb, timeMs);
      if (na !== null && nb !== null) {
        const literal = NUMBER_LITERAL.test(a.trim()) || NUMBER_LITERAL.test(b.trim());
        if (literal && (HAS_FLOAT.test(a) || HAS_FLOAT.test(b))) return roundedEqual(na, nb, precision);
        return closeTo(na, nb, literal ? 1e-12 : 1e-10);
      }
      return ce().withTimeLimit(timeMs, () => ea.isSame(eb));
    }
    if (!sameVariables(va, vb)) return false;
    if (ce().withTimeLimit(timeMs, () => ea.is(eb))) return true;
    return agreeAtPoints(ea, eb, va, timeMs);
  } catch {
    return false;
  }
}

function closeTo(a: Complex, b: Complex, rel: number): boolean {
  if (a.re === b.re && a.im === b.im) return true;
  if (![a.re, a.im, b.re, b.im].every(Number.isFinite)) return false;
  const scale = Math.max(Math.hypot(a.re, a.im), Math.hypot(b.re, b.im));
  const tol = Math.max(ABS_TOL, rel * scale);
  return Math.abs(a.re - b.re) <= tol && Math.abs(a.im - b.im) <= tol;
}

/**
 * Whether a = c * b for one constant c != 0 (with `positive`, c > 0): the same equation scaled
 * ("x^2/4 + y^2/3 - 1" and "x^2/16 + y^2/12 - 1/4"). Same variables, checked at fixed points.
 */
export function casProportional(a: string, b: string, timeMs = 1000, positive = false): boolean {
  try {
    const ea = casParse(a, timeMs);
    const eb = casParse(b, timeMs);
    if (ea === null || eb === null) return false;
    const vars = ea.unknowns;
    if (vars.length === 0 || !sameVariables(vars, eb.unknowns)) return false;
    let ratio: Complex | null = null;
    let compared = 0;
    for (let p = 0; p < POINTS.length; p++) {
      const sub: Record<string, number> = {};
      vars.forEach((v, i) => {
        sub[v] = POINTS[(p + i) % POINTS.length] + 0.1 * i;
      });
      const x = casNumber(ea.subs(sub), timeMs);
      const y = casNumber(eb.subs(sub), timeMs);
      if (x === null || y === null) continue;
      if (Math.hypot(y.re, y.im) < ABS_TOL) {
        if (Math.hypot(x.re, x.im) < ABS_TOL) continue;
        return false;
      }
      const d = y.re * y.re + y.im * y.im;
      const r = { re: (x.re * y.re + x.im * y.im) / d, im: (x.im * y.re - x.re * y.im) / d };
      if (ratio === null) ratio = r;
      else if (!closeTo(ratio, r, 1e-9)) return false;
      compared++;
    }
    if (ratio === null || compared < 3 || Math.hypot(ratio.re, ratio.im) < ABS_TOL) return false;
    return !positive || (ratio.re > 0 && Math.abs(ratio.im) < ABS_TOL);
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
