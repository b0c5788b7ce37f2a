// Math answer equivalence with Math-Verify's rules (learned from its grader and tests): normalise
// both strings (math-normalize.ts), parse their structure (math-parse.ts), compare structure by
// structure with a CAS for the scalars (cas.ts). Asymmetric: the gold decides what is expected.
//   - assignments (left side only symbols: "x", "(p,q)", "f(x)", "A:B", "|AB|"): a chain
//     "x = 5+5+1 = 11" keeps its first and last side; against a non-equation the right side counts.
//   - a predicted equation against a gold that is not one counts through its last right side
//     ("k = 1/3" and "2x+1 = 7 = 1/3" give 1/3).
//   - equations: the same sides, swapped, lhs - rhs equal up to sign, or one a multiple of the
//     other ("x^2/4 + y^2/3 = 1" = "x^2/16 + y^2/12 = 1/4"). Inequalities: lhs - rhs equal, or
//     flipped ("x < 1" = "-x > -1"); a one-variable inequality is also an interval ("0 < f(x) < 1" =
//     "(0,1)"); a gold interval accepts an inequality only with allowSetRelationComp.
//   - sets ignore order and repeats; tuples keep order; "(a, b)" is both a pair and an open
//     interval; a gold tuple against a written list compares in the written order.
//   - matrices entry by entry (pmatrix = bmatrix = array); sums and products of constant matrices
//     are evaluated first.
//   - numbers: a bare number against a value with a decimal point compares rounded to `precision`
//     places (default 6); "28\%" is 0.28.
// Never throws; a time budget bounds the CAS work of one call.

import { casEqual, casProportional } from "./cas.ts";
import { evalMatrix } from "./math-matrix.ts";
import { normalizeAnswer, textKey } from "./math-normalize.ts";
import { type MathNode, onlySymbols, parseNode } from "./math-parse.ts";

export interface VerifyOptions {
  /** Total time budget for the CAS in one call (ms); past it, remaining comparisons fail. Default 3000. */
  timeMs?: number;
  /** Decimal places a float is rounded to before comparing with a number (Math-Verify's float_rounding). Default 6. */
  precision?: number;
  /** Variables matter ("f(x)" != "f(y)"). Default true. */
  strict?: boolean;
  /** A gold set (interval) accepts an equivalent inequality. Default false, as in Math-Verify. */
  allowSetRelationComp?: boolean;
}

interface Ctx {
  deadline: number;
  precision: number;
  allowSetRelationComp: boolean;
}

type Rel = MathNode & { kind: "relation" };
const INTEGER = /^[-+]?\d+$/;

function scalarLatex(n: MathNode): string | null {
  return n.kind === "scalar" ? n.latex : n.kind === "text" ? n.text : null;
}

function value(n: MathNode & { kind: "scalar" }): string {
  return n.percent ? `\\frac{${n.latex}}{100}` : n.latex;
}

function scalarEqual(g: MathNode & { kind: "scalar" }, p: MathNode & { kind: "scalar" }, ctx: Ctx): boolean {
  const a = value(g);
  const b = value(p);
  if (textKey(a) === textKey(b)) return true;
  if (INTEGER.test(a) && INTEGER.test(b)) return BigInt(a) === BigInt(b);
  const left = ctx.deadline - Date.now();
  if (left <= 0) return false;
  return casEqual(a, b, Math.min(1000, left), ctx.precision);
}

/** Items with the same text counted once (a set has no repeats). */
function distinct(items: MathNode[]): MathNode[] {
  const seen = new Set<string>();
  return items.filter((n) => {
    const k = JSON.stringify(n).replace(/\s+/g, "");
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** Match every gold item with a distinct predicted item (same count), in order or not. */
function itemsEqual(g: MathNode[], p: MathNode[], ordered: boolean, ctx: Ctx): boolean {
  if (!ordered) {
    g = distinct(g);
    p = distinct(p);
  }
  if (g.length !== p.length) return false;
  if (ordered) return g.every((gi, i) => nodeEqual(gi, p[i], ctx));
  const used = new Array(p.length).fill(false);
  for (const gi of g) {
    const j = p.findIndex((pj, k) => !used[k] && nodeEqual(gi, pj, ctx));
    if (j < 0) return false;
    used[j] = true;
  }
  return true;
}

/** The relation a node was written as: a relation, or an interval read from an inequality. */
function relationOf(n: MathNode): Rel | null {
  if (n.kind === "relation") return n;
  if (n.kind === "interval" && n.fromRelation) return n.fromRelation;
  return null;
}

const isEquation = (r: Rel) => r.ops.every((o) => o === "=");
function isAssignment(r: Rel): boolean {
  const lhs = scalarLatex(r.sides[0]) ?? (r.sides[0].kind === "list" ? JSON.stringify(r.sides[0]) : null);
  if (!isEquation(r)) return false;
  if (r.sides[0].kind === "list")
    return r.sides[0].items.every((x) => x.kind === "scalar" && onlySymbols(x.latex));
  return lhs !== null && onlySymbols(lhs);
}
/** "x = 5+5+1 = 11" -> "x = 11". */
function truncate(r: Rel): Rel {
  return r.ops.length > 1
    ? { kind: "relation", ops: ["="], sides: [r.sides[0], r.sides[r.sides.length - 1]] }
    : r;
}

const FLIP: Record<string, string> = {
  "<": ">",
  ">": "<",
  "\\le": "\\ge",
  "\\ge": "\\le",
  "=": "=",
  "\\ne": "\\ne",
};

function diff(r: Rel, i: number, swap = false): MathNode & { kind: "scalar" } {
  const l = scalarLatex(r.sides[i]) ?? "";
  const h = scalarLatex(r.sides[i + 1]) ?? "";
  return { kind: "scalar", latex: swap ? `(${h})-(${l})` : `(${l})-(${h})`, percent: false };
}

/** Two relations (after assignment truncation): link by link, flipped, or scaled. */
function relationsEqual(g: Rel, p: Rel, ctx: Ctx): boolean {
  if (
    g.ops.length === p.ops.length &&
    g.ops.every((o, i) => o === p.ops[i]) &&
    itemsEqual(g.sides, p.sides, true, ctx)
  )
    return true;
  if (g.ops.length !== p.ops.length) return false;
  const n = g.ops.length;
  const flipped = g.ops.every((o, i) => FLIP[o] === p.ops[n - 1 - i]);
  if (flipped && itemsEqual(g.sides, [...p.sides].reverse(), true, ctx)) return true;
  if (n !== 1 || [g, p].some((r) => r.sides.some((s) => scalarLatex(s) === null))) return false;
  if (g.ops[0] === p.ops[0] && scalarEqual(diff(g, 0), diff(p, 0), ctx)) return true;
  if (FLIP[g.ops[0]] === p.ops[0] && scalarEqual(diff(g, 0), diff(p, 0, true), ctx)) return true;
  if (g.ops[0] === "=" && p.ops[0] === "=") {
    const left = ctx.deadline - Date.now();
    return left > 0 && casProportional(diff(g, 0).latex, diff(p, 0).latex, Math.min(1000, left));
  }
  return false;
}

function intervalEnds(n: MathNode): { lo: MathNode; hi: MathNode; loOpen: boolean; hiOpen: boolean } | null {
  if (n.kind === "interval") return n;
  if (n.kind === "list" && n.items.length === 2)
    return { lo: n.items[0], hi: n.items[1], loOpen: true, hiOpen: true };
  return null;
}

/** Whether the prediction `p` expresses the gold `g` (gold decides the expected kind). */
export function nodeEqual(g: MathNode, p: MathNode, ctx: Ctx): boolean {
  if (Date.now() >= ctx.deadline) return false;
  let gr = relationOf(g);
  let pr = relationOf(p);
  if (gr && isAssignment(gr)) gr = truncate(gr);
  if (pr && isAssignment(pr)) pr = truncate(pr);
  // A predicted equation against a gold that is not one: its last right side.
  if (pr && isEquation(pr) && !(gr && isEquation(gr)))
    return nodeEqual(g.kind === "relation" && gr ? gr : g, pr.sides[pr.sides.length - 1], ctx);
  // A gold assignment against a prediction that is not an equation: the gold's right side.
  if (gr && isAssignment(gr) && !(pr && isEquation(pr))) return nodeEqual(gr.sides[1], p, ctx);
  if (gr && pr) {
    if (relationsEqual(gr, pr, ctx)) return true;
    if (g.kind === "interval" && p.kind === "interval") return intervalEqual(g, p, ctx);
    return false;
  }
  if (pr && !gr) {
    // An inequality against a gold set counts only when allowed.
    if (!ctx.allowSetRelationComp || p.kind !== "interval") return false;
  }
  switch (g.kind) {
    case "scalar":
      if (p.kind === "scalar") return scalarEqual(g, p, ctx);
      if (p.kind === "text") return textKey(g.latex) === textKey(p.text);
      if (p.kind === "list" && !p.ordered && distinct(p.items).length === 1)
        return nodeEqual(g, p.items[0], ctx);
      return false;
    case "text": {
      const pl = scalarLatex(p);
      return pl !== null && textKey(g.text) === textKey(pl);
    }
    case "relation":
      return false;
    case "matrix":
      return matrixEqual(g, p, ctx);
    case "list":
      if (p.kind === "list") {
        // A gold tuple against a written list compares in the written order; a gold set ignores order.
        return itemsEqual(g.items, p.items, g.ordered, ctx);
      }
      if (!g.ordered && distinct(g.items).length === 1) return nodeEqual(g.items[0], p, ctx);
      if (g.items.length === 2 && p.kind === "interval" && p.loOpen && p.hiOpen) {
        return nodeEqual(g.items[0], p.lo, ctx) && nodeEqual(g.items[1], p.hi, ctx);
      }
      return false;
    case "interval":
      return intervalEqual(g, p, ctx);
    case "union":
      return p.kind === "union" && itemsEqual(g.items, p.items, false, ctx);
  }
}

function intervalEqual(g: MathNode & { kind: "interval" }, p: MathNode, ctx: Ctx): boolean {
  const e = intervalEnds(p);
  if (!e || e.loOpen !== g.loOpen || e.hiOpen !== g.hiOpen) return false;
  return nodeEqual(g.lo, e.lo, ctx) && nodeEqual(g.hi, e.hi, ctx);
}

function matrixEqual(g: MathNode & { kind: "matrix" }, p: MathNode, ctx: Ctx): boolean {
  let rows: MathNode[][] | null = p.kind === "matrix" ? p.rows : null;
  if (rows === null && p.kind === "scalar") rows = evalMatrix(p.latex, ctx.deadline);
  if (rows === null || rows.length !== g.rows.length) return false;
  return g.rows.every(
    (r, i) => r.length === rows![i].length && r.every((x, j) => nodeEqual(x, rows![i][j], ctx)),
  );
}

/** Non-strict mode: the prediction's variables renamed to the gold's, in order of appearance. */
function renameVariables(gold: string, pred: string): string | null {
  const vars = (s: string) => [...new Set(s.replace(/\\[a-zA-Z]+/g, " ").match(/[a-zA-Z]/g) ?? [])];
  const gv = vars(gold);
  const pv = vars(pred);
  if (gv.length !== pv.length || gv.length === 0) return null;
  const map = new Map(pv.map((v, i) => [v, gv[i]]));
  return pred.replace(/\\[a-zA-Z]+|[a-zA-Z]/g, (m) => (m.length === 1 ? (map.get(m) ?? m) : m));
}

/**
 * Whether `prediction` is mathematically equivalent to `gold` (the reference answer decides the
 * expected kind). Both are answer strings (e.g. the content of \boxed{}), LaTeX or plain text.
 * Never throws: garbage, empty input or a CAS timeout give false.
 */
export function verifyMath(gold: string, prediction: string, opts: VerifyOptions = {}): boolean {
  try {
    if (typeof gold !== "string" || typeof prediction !== "string") return false;
    const g = normalizeAnswer(gold);
    const p = normalizeAnswer(prediction);
    if (g.latex.length === 0 || p.latex.length === 0) return false;
    if (textKey(g.latex) === textKey(p.latex) && g.percent === p.percent) return true;
    const ctx: Ctx = {
      deadline: Date.now() + (opts.timeMs ?? 3000),
      precision: opts.precision ?? 6,
      allowSetRelationComp: opts.allowSetRelationComp ?? false,
    };
    if (nodeEqual(parseNode(g.latex, g.percent), parseNode(p.latex, p.percent), ctx)) return true;
    if (opts.strict === false) {
      const renamed = renameVariables(g.latex, p.latex);
      if (renamed !== null && textKey(renamed) === textKey(g.latex)) return true;
    }
    return false;
  } catch {
    return false;
  }
}
