// The shape of a normalised math answer: a scalar expression, a set or list, a tuple, an interval,
// a union of intervals, a relation (x = 3, y = 2x + 1, x > 2), or plain text. Splitting happens only
// at the top level (outside brackets), so "\{1, (2, 3)\}" is a set whose second item is a tuple.
// Single-variable inequalities become intervals ("x > 2" is (2, \infty)), as in Math-Verify.

import { casParse, casUnknowns } from "./cas.ts";

export type MathNode =
  | { kind: "scalar"; latex: string; percent: boolean }
  | { kind: "text"; text: string }
  /** ordered: a tuple (a, b, c) or vector; unordered: a set \{a, b\} or a bare list "a, b". */
  | { kind: "list"; items: MathNode[]; ordered: boolean }
  /** fromRelation: written as an inequality ("x > 2"), kept for relation-to-relation comparison. */
  | {
      kind: "interval";
      lo: MathNode;
      hi: MathNode;
      loOpen: boolean;
      hiOpen: boolean;
      fromRelation?: MathNode & { kind: "relation" };
    }
  /** A matrix or column vector: rows of entries (pmatrix, bmatrix, array, ...). */
  | { kind: "matrix"; rows: MathNode[][] }
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

/** Only letters, subscripts, and function or ratio notation, no digits outside subscripts: "x", "AB", "f(x)", "|AB|", "A:B", "(p,q)", "\\frac{NO}{BO}". */
export function onlySymbols(latex: string): boolean {
  const t = latex
    .replace(/_\{?[a-zA-Z0-9]+\}?/g, "")
    .replace(/\\(?:frac|left|right|cdot|mathrm|text)(?![a-zA-Z])/g, "");
  if (/\d/.test(t) || !/[a-zA-Z]/.test(t)) return false;
  if (/\\(?:pi|infty|emptyset|varnothing)(?![a-zA-Z])/.test(t)) return false;
  return /^[a-zA-Z\\\s{}()|:,']*$/.test(t);
}

/** A variable for an inequality: a lone symbol or a function of one, "f(x)". */
function isVariable(s: string): boolean {
  return isLoneSymbol(s) || /^[a-zA-Z]\s*\(\s*[a-zA-Z]\s*\)$/.test(s.trim());
}

/** x > 2, 2 < x \le 5, 3 \ge x: an interval when one side is a lone variable and the rest constants. */
function inequalityInterval(sides: string[], ops: string[]): MathNode | null {
  if (ops.some((o) => o === "=" || o === "\\ne")) return null;
  const varIdx = sides.findIndex(isVariable);
  if (varIdx < 0 || sides.some((s, i) => i !== varIdx && (isVariable(s) || casUnknowns(s).length > 0)))
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

const MATRIX =
  /^\\begin\{(p|b|B|v|V|small)?matrix\}([\s\S]*)\\end\{\1matrix\}$|^\\begin\{array\}\{[^{}]*\}([\s\S]*)\\end\{array\}$/;

/** Rows of a matrix body "a & b \\ c & d" (a trailing row break ignored). */
function matrixRows(body: string): MathNode[][] {
  const rows = body.split(/\\\\/).map((r) => r.trim());
  while (rows.length > 0 && rows[rows.length - 1] === "") rows.pop();
  return rows.map((r) => r.split("&").map((e) => parseNode(e.trim())));
}

/** "a \pm b" as the two values a + b and a - b (one top-level or nested \pm, the first one). */
function expandPm(s: string): string[] | null {
  const at = s.indexOf("\\pm");
  if (at < 0 || /[a-zA-Z]/.test(s[at + 3] ?? "")) return null;
  const before = s.slice(0, at);
  const after = s.slice(at + 3);
  const lead = before.trim() === "" || /[({,=]\s*$/.test(before);
  return lead ? [`${before}${after}`, `${before}-${after}`] : [`${before}+${after}`, `${before}-${after}`];
}

function relationNode(parts: string[], seps: string[]): MathNode {
  const ops = seps.map((t) => RELATIONS[t]);
  const rel = { kind: "relation", ops, sides: parts.map((p) => parseNode(p)) } as MathNode & {
    kind: "relation";
  };
  const iv = inequalityInterval(parts, ops);
  return iv && iv.kind === "interval" ? { ...iv, fromRelation: rel } : rel;
}

/** Parse a normalised answer (normalizeAnswer's latex) into its structure. Never throws. */
export function parseNode(latex: string, percent = false): MathNode {
  let s = latex.trim();
  // "a \approx b": the exact value before it; "x \approx 3" alone reads as x = 3.
  if (s.includes("\\approx")) {
    const before = s.slice(0, s.indexOf("\\approx")).trim();
    const rel = splitTop(before, (t) => t in RELATIONS);
    s = rel.parts.length > 1 ? before : s.replace(/\\approx/g, "=");
  }
  const union = splitTop(s, (t) => t === "\\cup");
  if (union.parts.length > 1) return { kind: "union", items: union.parts.map((p) => parseNode(p)) };
  // "p=5,q=2; p=7,q=2": groups separated by ";" of items separated by ",".
  const semis = splitTop(s, (t) => t === ";");
  if (semis.parts.length > 1 && semis.parts.every((p) => p.length > 0)) {
    const groups = semis.parts.map((p) => {
      const items = splitTop(p, (t) => t === ",").parts;
      return items.length > 1
        ? ({ kind: "list", items: items.map((x) => parseNode(x)), ordered: true } as MathNode)
        : parseNode(p);
    });
    return { kind: "list", items: groups, ordered: false };
  }
  // A bare list "1, 2" or "x = 1 or x = 2" (top-level separators only).
  const commas = splitTop(s, (t) => t === ",");
  if (commas.parts.length > 1 && commas.parts.every((p) => p.length > 0)) {
    return { kind: "list", items: commas.parts.map((p) => parseNode(p)), ordered: false };
  }
  const orList = s.split(/\s+(?:or|and)\s+/);
  if (orList.length > 1 && orList.every((p) => p.length > 0 && !isText(p))) {
    return { kind: "list", items: orList.map((p) => parseNode(p)), ordered: false };
  }
  const rel = splitTop(s, (t) => t in RELATIONS);
  if (rel.parts.length > 1 && rel.parts.every((p) => p.length > 0)) {
    // A chain a = b = c with a side the CAS cannot read: its last side (as Math-Verify falls back).
    const chain = rel.parts.length > 2 && rel.seps.every((t) => t === "=");
    if (chain && rel.parts.some((p) => casParse(p) === null))
      return parseNode(rel.parts[rel.parts.length - 1]);
    return relationNode(rel.parts, rel.seps);
  }
  const pm = expandPm(s);
  if (pm) return { kind: "list", items: pm.map((p) => parseNode(p)), ordered: false };
  const mat = MATRIX.exec(s);
  if (mat && !/\\(?:begin|end)\{/.test(mat[2] ?? mat[3]))
    return { kind: "matrix", rows: matrixRows(mat[2] ?? mat[3]) };
  const w = wrapped(s);
  if (w) {
    const items = w.inner.length > 0 ? splitTop(w.inner, (t) => t === "," || t === ";").parts : [];
    const isSetBrace = w.open === "\\{" || w.open === "\\lbrace";
    if (isSetBrace) return { kind: "list", items: items.map((p) => parseNode(p)), ordered: false };
    if (w.open === "\\langle") return { kind: "list", items: items.map((p) => parseNode(p)), ordered: true };
    if (items.length === 1 && (w.open === "(" || w.open === "{" || (w.open === "[" && MATRIX.test(w.inner))))
      return parseNode(w.inner, percent);
    if (items.length >= 2 && w.open === "{" && w.close === "}")
      return { kind: "list", items: items.map((p) => parseNode(p)), ordered: false };
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
