// The shape of a normalised math answer: a scalar expression, a set or list, a tuple, an interval,
// a union of intervals, a relation (x = 3, y = 2x + 1, x > 2), or plain text. Splitting happens only
// at the top level (outside brackets), so "\{1, (2, 3)\}" is a set whose second item is a tuple.
// Single-variable inequalities become intervals ("x > 2" is (2, \infty)), as in Math-Verify.

import { casUnknowns } from "./cas.ts";

export type MathNode =
  | { kind: "scalar"; latex: string; percent: boolean }
  | { kind: "text"; text: string }
  /** ordered: a tuple (a, b, c) or vector; unordered: a set \{a, b\} or a bare list "a, b". */
  | { kind: "list"; items: MathNode[]; ordered: boolean }
  | { kind: "interval"; lo: MathNode; hi: MathNode; loOpen: boolean; hiOpen: boolean }
  | { kind: "union"; items: MathNode[] }
  /** sides[i] ops[i] sides[i+1]; ops are "=", "<", "\\le", ">", "\\ge", "\\ne". */
  | { kind: "relation"; ops: string[]; sides: MathNode[] };

const OPENERS = new Set(["(", "[", "{", "\\{", "\\langle", "\\lbrace", "\\lbrack"]);
const CLOSERS = new Set([")", "]", "}", "\\}", "\\rangle", "\\rbrace", "\\rbrack"]);
const RELATIONS: Record<string, string> = {
  "=": "=",
  "<": "<",
  ">": ">",
  "\\le": "\\le",
  "\\ge": "\\ge",
  "\\lt": "<",
  "\\gt": ">",
  "\\ne": "\\ne",
  "\\approx": "=",
};

interface Token {
  text: string;
  start: number;
  depth: number; // depth before the token
}

/** Tokens with their bracket depth: commands (\frac), escaped braces, single characters. */
function tokenize(s: string): Token[] {
  const out: Token[] = [];
  let depth = 0;
  for (let i = 0; i < s.length; ) {
    let text = s[i];
    if (s[i] === "\\") {
      const m = /^\\(?:[a-zA-Z]+|.)/.exec(s.slice(i));
      text = m ? m[0] : "\\";
    }
    out.push({ text, start: i, depth });
    if (OPENERS.has(text)) depth++;
    else if (CLOSERS.has(text)) depth = Math.max(0, depth - 1);
    i += text.length;
  }
  return out;
}

/** Split at top-level tokens for which `isSep` holds; returns the parts and the separators. */
function splitTop(s: string, isSep: (t: string) => boolean): { parts: string[]; seps: string[] } {
  const parts: string[] = [];
  const seps: string[] = [];
  let from = 0;
  for (const t of tokenize(s)) {
    if (t.depth === 0 && isSep(t.text)) {
      parts.push(s.slice(from, t.start).trim());
      seps.push(t.text);
      from = t.start + t.text.length;
    }
  }
  parts.push(s.slice(from).trim());
  return { parts, seps };
}

/** When the whole string is one bracketed group, its opener, closer and content. */
function wrapped(s: string): { open: string; close: string; inner: string } | null {
  const toks = tokenize(s);
  if (toks.length < 2 || !OPENERS.has(toks[0].text)) return null;
  const last = toks[toks.length - 1];
  if (!CLOSERS.has(last.text)) return null;
  // The opener must close at the last token: no other token returns to depth 0 before it.
  for (let i = 1; i < toks.length - 1; i++) if (toks[i].depth === 0) return null;
  if (last.depth !== 1) return null;
  return { open: toks[0].text, close: last.text, inner: s.slice(toks[0].text.length, last.start).trim() };
}

const LONE_SYMBOL = /^(?:[a-zA-Z]|\\[a-zA-Z]+)(?:_\{?[a-zA-Z0-9]+\}?)?$/;

/** A plain letter or Greek-letter symbol (with an optional subscript), e.g. x, y_1, \theta. */
export function isLoneSymbol(latex: string): boolean {
  return LONE_SYMBOL.test(latex.trim()) && !/^\\(?:pi|infty|emptyset|varnothing)$/.test(latex.trim());
}

/** Plain words ("Evelyn", "no solution"), not a product of variables like "xy". */
function isText(s: string): boolean {
  return /^[A-Za-z][A-Za-z\s'.-]*$/.test(s) && (/[A-Za-z]{3,}/.test(s) || /\s/.test(s));
}

const INF = { kind: "scalar", latex: "\\infty", percent: false } as const;
const NEG_INF = { kind: "scalar", latex: "-\\infty", percent: false } as const;

/** x > 2, 2 < x \le 5, 3 \ge x: an interval when one side is a lone variable and the rest constants. */
function inequalityInterval(sides: string[], ops: string[]): MathNode | null {
  if (ops.some((o) => o === "=" || o === "\\ne")) return null;
  const varIdx = sides.findIndex(isLoneSymbol);
  if (varIdx < 0 || sides.some((s, i) => i !== varIdx && (isLoneSymbol(s) || casUnknowns(s).length > 0)))
    return null;
  // Normalise to "<"-direction: lo (<|\le) x (<|\le) hi.
  const lessish = ops.every((o) => o === "<" || o === "\\le");
  const greaterish = ops.every((o) => o === ">" || o === "\\ge");
  if (!lessish && !greaterish) return null;
  const s = greaterish ? [...sides].reverse() : sides;
  const o = greaterish ? [...ops].reverse() : ops;
  const i = greaterish ? sides.length - 1 - varIdx : varIdx;
  const strict = (op: string) => op === "<" || op === ">";
  if (s.length === 2) {
    if (i === 0)
      return { kind: "interval", lo: NEG_INF, hi: parseNode(s[1]), loOpen: true, hiOpen: strict(o[0]) };
    return { kind: "interval", lo: parseNode(s[0]), hi: INF, loOpen: strict(o[0]), hiOpen: true };
  }
  if (s.length === 3 && i === 1) {
    return {
      kind: "interval",
      lo: parseNode(s[0]),
      hi: parseNode(s[2]),
      loOpen: strict(o[0]),
      hiOpen: strict(o[1]),
    };
  }
  return null;
}

/** Parse a normalised answer (normalizeAnswer's latex) into its structure. Never throws. */
export function parseNode(latex: string, percent = false): MathNode {
  const s = latex.trim();
  const union = splitTop(s, (t) => t === "\\cup");
  if (union.parts.length > 1) return { kind: "union", items: union.parts.map((p) => parseNode(p)) };
  // A bare list "1, 2" or "x = 1 or x = 2" (top-level separators only).
  const commas = splitTop(s, (t) => t === "," || t === ";");
  if (commas.parts.length > 1 && commas.parts.every((p) => p.length > 0)) {
    return { kind: "list", items: commas.parts.map((p) => parseNode(p)), ordered: false };
  }
  const orList = s.split(/\s+(?:or|and)\s+/);
  if (orList.length > 1 && orList.every((p) => p.length > 0 && !isText(p))) {
    return { kind: "list", items: orList.map((p) => parseNode(p)), ordered: false };
  }
  const rel = splitTop(s, (t) => t in RELATIONS);
  if (rel.parts.length > 1 && rel.parts.every((p) => p.length > 0)) {
    const ops = rel.seps.map((t) => RELATIONS[t]);
    return (
      inequalityInterval(rel.parts, ops) ?? {
        kind: "relation",
        ops,
        sides: rel.parts.map((p) => parseNode(p)),
      }
    );
  }
  const w = wrapped(s);
  if (w) {
    const items = w.inner.length > 0 ? splitTop(w.inner, (t) => t === ",").parts : [];
    const isSetBrace = w.open === "\\{" || w.open === "\\lbrace";
    if (isSetBrace) return { kind: "list", items: items.map((p) => parseNode(p)), ordered: false };
    if (w.open === "\\langle") return { kind: "list", items: items.map((p) => parseNode(p)), ordered: true };
    if (items.length === 1 && (w.open === "(" || w.open === "{")) return parseNode(w.inner, percent);
    const roundOrSquare = (w.open === "(" || w.open === "[") && (w.close === ")" || w.close === "]");
    if (items.length === 2 && roundOrSquare && !(w.open === "(" && w.close === ")")) {
      return {
        kind: "interval",
        lo: parseNode(items[0]),
        hi: parseNode(items[1]),
        loOpen: w.open === "(",
        hiOpen: w.close === ")",
      };
    }
    if (items.length >= 2 && w.open === "(" && w.close === ")") {
      return { kind: "list", items: items.map((p) => parseNode(p)), ordered: true };
    }
  }
  if (isText(s)) return { kind: "text", text: s };
  return { kind: "scalar", latex: s, percent };
}
