// Arithmetic on written matrices, so that "A + B" or "A B" counts as the matrix it evaluates to
// (Math-Verify evaluates matrix expressions through SymPy). Only constant entries are evaluated;
// terms are matrix literals (pmatrix, bmatrix, vmatrix, array, ...) joined by +, -, \cdot, \times
// or juxtaposition. Anything else gives null and the answer is compared as written.

import { casNumber, casParse } from "./cas.ts";
import type { MathNode } from "./math-parse.ts";

type M = number[][];

const LITERAL = /\\begin\{([a-zA-Z]*matrix|array)\}(?:\{[^{}]*\})?([\s\S]*?)\\end\{\1\}/y;

function literal(body: string, deadline: number): M | null {
  const rows = body.split(/\\\\/).map((r) => r.trim());
  while (rows.length > 0 && rows[rows.length - 1] === "") rows.pop();
  const out: M = [];
  for (const r of rows) {
    const row: number[] = [];
    for (const e of r.split("&")) {
      if (Date.now() >= deadline) return null;
      const x = casParse(e.trim());
      const v = x === null ? null : casNumber(x, 200);
      if (v === null || v.im !== 0) return null;
      row.push(v.re);
    }
    out.push(row);
  }
  return out.length > 0 && out.every((r) => r.length === out[0].length) ? out : null;
}

function add(a: M, b: M, sign: number): M | null {
  if (a.length !== b.length || a[0].length !== b[0].length) return null;
  return a.map((r, i) => r.map((x, j) => x + sign * b[i][j]));
}

function mul(a: M, b: M): M | null {
  if (a[0].length !== b.length) return null;
  return a.map((r) => b[0].map((_, j) => r.reduce((s, x, k) => s + x * b[k][j], 0)));
}

/** The value of a matrix expression as rows of number nodes, or null when it is not one. */
export function evalMatrix(latex: string, deadline: number): MathNode[][] | null {
  const s = latex.trim();
  if (!s.includes("\\begin{") || s.length > 5000) return null;
  let i = 0;
  let total: M | null = null;
  let sign = 1;
  let product: M | null = null;
  for (;;) {
    while (s[i] === " ") i++;
    LITERAL.lastIndex = i;
    const m = LITERAL.exec(s);
    if (!m) return null;
    const lit = literal(m[2], deadline);
    if (lit === null) return null;
    product = product === null ? lit : mul(product, lit);
    if (product === null) return null;
    i = LITERAL.lastIndex;
    const op = /^\s*(\+|-|\\cdot|\\times)?\s*/.exec(s.slice(i))!;
    i += op[0].length;
    if (op[1] === "+" || op[1] === "-" || i >= s.length) {
      total =
        total === null
          ? sign === 1
            ? product
            : product.map((r) => r.map((x) => -x))
          : add(total, product, sign);
      if (total === null) return null;
      if (i >= s.length) break;
      sign = op[1] === "-" ? -1 : 1;
      product = null;
    }
  }
  return total.map((r) =>
    r.map((x) => ({ kind: "scalar", latex: String(Number(x.toPrecision(15))), percent: false })),
  );
}
