// Math answer equivalence in the manner of Hugging Face's Math-Verify: normalise both strings
// (math-normalize.ts), parse their structure (math-parse.ts), then compare structure by structure
// with a CAS for the scalars (cas.ts). The comparison is asymmetric: the gold answer decides what
// kind of object is expected.
//   - gold scalar: a predicted equation counts only through its right-hand side ("x = 3" and
//     "2 + 1 = 3" give 3); an equation is never solved, so restating the problem ("2x + 1 = 7"
//     against gold 3) does not score; a one-element set counts as its element.
//   - gold assignment "x = 3": the prediction "3" or "x = 3" (same variable on the left).
//   - gold general equation "y = 2x + 1": sides equal pairwise, swapped, or lhs - rhs equal up to sign.
//   - sets and bare lists "1, 2": order-insensitive with the same number of items; tuples ordered;
//     intervals match endpoints and openness, and "(a, b)" counts as both a pair and an open interval.
//   - percentages: "50\%" matches 50, 50\% and 0.5 (both readings are tried).
// Numbers: relative tolerance 1e-6 (absolute 1e-12 near 0), exact for two integers. Never throws.

import { casEqual, casUnknowns } from "./cas.ts";
import { normalizeAnswer, textKey } from "./math-normalize.ts";
import { isLoneSymbol, type MathNode, parseNode } from "./math-parse.ts";

export interface VerifyOptions {
  /** Total time budget for the CAS in one call (ms); past it, remaining comparisons fail. Default 3000. */
  timeMs?: number;
}

interface Ctx {
  deadline: number;
}

function remaining(ctx: Ctx): number {
  return ctx.deadline - Date.now();
}

const INTEGER = /^[-+]?\d+$/;

function scalarLatex(n: MathNode): string | null {
  return n.kind === "scalar" ? n.latex : n.kind === "text" ? n.text : null;
}

/** Both readings of a percent: "50" and "(50)/100". */
function readings(n: MathNode & { kind: "scalar" }): string[] {
  return n.percent ? [n.latex, `\\frac{${n.latex}}{100}`] : [n.latex];
}

function scalarEqual(g: MathNode & { kind: "scalar" }, p: MathNode & { kind: "scalar" }, ctx: Ctx): boolean {
  for (const a of readings(g)) {
    for (const b of readings(p)) {
      if (textKey(a) === textKey(b)) return true;
      if (INTEGER.test(a) && INTEGER.test(b)) {
        if (BigInt(a) === BigInt(b)) return true;
        continue;
      }
      const left = remaining(ctx);
      if (left <= 0) return false;
      if (casEqual(a, b, Math.min(1000, left))) return true;
    }
  }
  return false;
}

/** Match every gold item with a distinct predicted item (same count), in order or not. */
function itemsEqual(g: MathNode[], p: MathNode[], ordered: boolean, ctx: Ctx): boolean {
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

function asScalar(latex: string): MathNode & { kind: "scalar" } {
  return { kind: "scalar", latex, percent: false };
}

function relationEqual(g: MathNode & { kind: "relation" }, p: MathNode, ctx: Ctx): boolean {
  // "x = 3": a solution value; the prediction must give the value, never an equivalent equation.
  const assignment =
    g.ops.length === 1 &&
    g.ops[0] === "=" &&
    isLoneSymbol(scalarLatex(g.sides[0]) ?? "") &&
    casUnknowns(scalarLatex(g.sides[1]) ?? "").length === 0;
  if (assignment) {
    if (p.kind !== "relation") return nodeEqual(g.sides[1], p, ctx);
    const sameVar =
      p.ops.length === 1 &&
      p.ops[0] === "=" &&
      textKey(scalarLatex(p.sides[0]) ?? "?") === textKey(scalarLatex(g.sides[0])!);
    return sameVar && nodeEqual(g.sides[1], p.sides[1], ctx);
  }
  // "y = 2x + 1": a relation; "2x + 1" alone also names its right-hand side.
  if (p.kind !== "relation")
    return isLoneSymbol(scalarLatex(g.sides[0]) ?? "") && nodeEqual(g.sides[1], p, ctx);
  if (p.ops.length !== g.ops.length) return false;
  if (g.ops.every((o, i) => o === p.ops[i]) && itemsEqual(g.sides, p.sides, true, ctx)) return true;
  const flip: Record<string, string> = {
    "<": ">",
    ">": "<",
    "\\le": "\\ge",
    "\\ge": "\\le",
    "=": "=",
    "\\ne": "\\ne",
  };
  const reversed = [...p.sides].reverse();
  if (
    g.ops.every((o, i) => flip[o] === p.ops[p.ops.length - 1 - i]) &&
    itemsEqual(g.sides, reversed, true, ctx)
  )
    return true;
  // A two-sided equation: lhs - rhs equal up to sign.
  if (g.ops.length === 1 && g.ops[0] === "=" && p.ops[0] === "=") {
    const [gl, gr] = g.sides.map(scalarLatex);
    const [pl, pr] = p.sides.map(scalarLatex);
    if (gl === null || gr === null || pl === null || pr === null) return false;
    const gd = asScalar(`(${gl})-(${gr})`);
    return (
      scalarEqual(gd, asScalar(`(${pl})-(${pr})`), ctx) || scalarEqual(gd, asScalar(`(${pr})-(${pl})`), ctx)
    );
  }
  return false;
}

function intervalEnds(n: MathNode): { lo: MathNode; hi: MathNode; loOpen: boolean; hiOpen: boolean } | null {
  if (n.kind === "interval") return n;
  if (n.kind === "list" && n.ordered && n.items.length === 2) {
    return { lo: n.items[0], hi: n.items[1], loOpen: true, hiOpen: true };
  }
  return null;
}

/** Whether the prediction `p` expresses the gold `g` (gold decides the expected kind). */
export function nodeEqual(g: MathNode, p: MathNode, ctx: Ctx): boolean {
  if (remaining(ctx) <= 0) return false;
  // A predicted chain "x = 1 + 2 = 3" counts through its last side, unless gold is a relation.
  if (p.kind === "relation" && g.kind !== "relation") {
    return p.ops.every((o) => o === "=") && nodeEqual(g, p.sides[p.sides.length - 1], ctx);
  }
  switch (g.kind) {
    case "scalar":
      if (p.kind === "scalar") return scalarEqual(g, p, ctx);
      if (p.kind === "text") return textKey(g.latex) === textKey(p.text);
      if (p.kind === "list" && !p.ordered && p.items.length === 1) return nodeEqual(g, p.items[0], ctx);
      return false;
    case "text": {
      const pl = scalarLatex(p);
      return pl !== null && textKey(g.text) === textKey(pl);
    }
    case "relation":
      return relationEqual(g, p, ctx);
    case "list":
      if (p.kind === "list" && (p.ordered === g.ordered || (!g.ordered && g.items.length === 1))) {
        return itemsEqual(g.items, p.items, g.ordered, ctx);
      }
      if (!g.ordered && g.items.length === 1) return nodeEqual(g.items[0], p, ctx);
      if (g.ordered && g.items.length === 2 && p.kind === "interval" && p.loOpen && p.hiOpen) {
        return nodeEqual(g.items[0], p.lo, ctx) && nodeEqual(g.items[1], p.hi, ctx);
      }
      return false;
    case "interval": {
      const e = intervalEnds(p);
      if (!e || e.loOpen !== g.loOpen || e.hiOpen !== g.hiOpen) return false;
      return nodeEqual(g.lo, e.lo, ctx) && nodeEqual(g.hi, e.hi, ctx);
    }
    case "union":
      return p.kind === "union" && itemsEqual(g.items, p.items, false, ctx);
  }
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
    if (textKey(g.latex) === textKey(p.latex)) return true;
    const ctx: Ctx = { deadline: Date.now() + (opts.timeMs ?? 3000) };
    return nodeEqual(parseNode(g.latex, g.percent), parseNode(p.latex, p.percent), ctx);
  } catch {
    return false;
  }
}
