// Integer arithmetic expressions for the synthetic tasks: tokenizer, recursive-descent parser,
// exact evaluator, printer and one-step reducer. Never eval(): model output is untrusted text.
//
// Grammar (usual precedence, left-associative, unary minus binds tightest):
//   expr   := term (("+" | "-") term)*
//   term   := unary (("*" | "/") unary)*
//   unary  := "-" unary | atom
//   atom   := INT | "(" expr ")"
// Arithmetic is exact over the rationals (BigInt numerator/denominator): "/" never rounds, so
// 7/2*2 is 7 and (1+2)/3 is 1. Division by zero is an ExprError. Callers decide whether a
// non-integer value is acceptable (Countdown compares the exact value with the target).

export type BinOp = "+" | "-" | "*" | "/";

export type Expr =
  | { kind: "num"; value: bigint; pos: number }
  | { kind: "neg"; arg: Expr }
  | { kind: "bin"; op: BinOp; left: Expr; right: Expr };

/** An exact rational num/den with den > 0 and gcd(num, den) = 1. */
export interface Rational {
  num: bigint;
  den: bigint;
}

/** Bad syntax or an undefined value; `pos` is the 0-based column in the source (or -1). */
export class ExprError extends Error {
  override name = "ExprError";
  constructor(
    message: string,
    readonly pos: number,
  ) {
    super(message);
  }
}

/** Longest source the parser accepts: bounds the recursion depth and BigInt sizes. */
export const MAX_EXPR_CHARS = 256;

type Token = { kind: "int"; text: string; pos: number } | { kind: "sym"; text: string; pos: number };

export function tokenize(src: string): Token[] {
  if (src.length > MAX_EXPR_CHARS) {
    throw new ExprError(`expression too long (${src.length} > ${MAX_EXPR_CHARS} chars)`, -1);
  }
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (c === " " || c === "\t" || c === "\n") {
      i++;
    } else if (c >= "0" && c <= "9") {
      let j = i;
      while (j < src.length && src[j] >= "0" && src[j] <= "9") j++;
      out.push({ kind: "int", text: src.slice(i, j), pos: i });
      i = j;
    } else if ("+-*/()".includes(c)) {
      out.push({ kind: "sym", text: c, pos: i });
      i++;
    } else {
      throw new ExprError(`unexpected character '${c}' at column ${i} in "${src}"`, i);
    }
  }
  return out;
}

/** Parse `src` into an expression tree; throws ExprError naming the column on bad syntax. */
export function parseExpr(src: string): Expr {
  const toks = tokenize(src);
  let k = 0;
  const where = () => (k < toks.length ? `'${toks[k].text}' at column ${toks[k].pos}` : "end of input");
  const fail = (what: string): never => {
    throw new ExprError(`${what}, found ${where()} in "${src}"`, k < toks.length ? toks[k].pos : src.length);
  };
  const peek = (text: string) => k < toks.length && toks[k].kind === "sym" && toks[k].text === text;

  function expr(): Expr {
    let left = term();
    while (peek("+") || peek("-")) {
      const op = toks[k++].text as BinOp;
      left = { kind: "bin", op, left, right: term() };
    }
    return left;
  }
  function term(): Expr {
    let left = unary();
    while (peek("*") || peek("/")) {
      const op = toks[k++].text as BinOp;
      left = { kind: "bin", op, left, right: unary() };
    }
    return left;
  }
  function unary(): Expr {
    if (peek("-")) {
      k++;
      return { kind: "neg", arg: unary() };
    }
    return atom();
  }
  function atom(): Expr {
    if (k >= toks.length) return fail("expected a number or '('");
    const t = toks[k];
    if (t.kind === "int") {
      k++;
      return { kind: "num", value: BigInt(t.text), pos: t.pos };
    }
    if (t.text === "(") {
      k++;
      const inner = expr();
      if (!peek(")")) fail("expected ')'");
      k++;
      return inner;
    }
    return fail("expected a number or '('");
  }

  if (toks.length === 0) throw new ExprError(`empty expression`, 0);
  const tree = expr();
  if (k < toks.length) fail("expected an operator or end of input");
  return tree;
}

function gcd(a: bigint, b: bigint): bigint {
  a = a < 0n ? -a : a;
  b = b < 0n ? -b : b;
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

export function rational(num: bigint, den = 1n): Rational {
  if (den === 0n) throw new ExprError("division by zero", -1);
  if (den < 0n) [num, den] = [-num, -den];
  const g = gcd(num, den);
  return g > 1n ? { num: num / g, den: den / g } : { num, den };
}

export function applyOp(op: BinOp, a: Rational, b: Rational): Rational {
  switch (op) {
    case "+":
      return rational(a.num * b.den + b.num * a.den, a.den * b.den);
    case "-":
      return rational(a.num * b.den - b.num * a.den, a.den * b.den);
    case "*":
      return rational(a.num * b.num, a.den * b.den);
    case "/":
      if (b.num === 0n) throw new ExprError("division by zero", -1);
      return rational(a.num * b.den, a.den * b.num);
  }
}

/** Exact value of an expression (tree or source text). */
export function evaluate(e: Expr | string): Rational {
  const tree = typeof e === "string" ? parseExpr(e) : e;
  switch (tree.kind) {
    case "num":
      return rational(tree.value);
    case "neg": {
      const v = evaluate(tree.arg);
      return { num: -v.num, den: v.den };
    }
    case "bin":
      return applyOp(tree.op, evaluate(tree.left), evaluate(tree.right));
  }
}

export function ratEquals(a: Rational, b: Rational): boolean {
  return a.num === b.num && a.den === b.den;
}

/** The value as a JS integer, or null when it is not an integer or not a safe integer. */
export function ratToInt(r: Rational): number | null {
  if (r.den !== 1n) return null;
  const n = Number(r.num);
  return Number.isSafeInteger(n) ? n : null;
}

export function formatRational(r: Rational): string {
  return r.den === 1n ? `${r.num}` : `${r.num}/${r.den}`;
}

/** The integer literals an expression uses, left to right (Countdown checks them against the given numbers). */
export function numbersUsed(e: Expr | string): number[] {
  const tree = typeof e === "string" ? parseExpr(e) : e;
  if (tree.kind === "num") return [Number(tree.value)];
  if (tree.kind === "neg") return numbersUsed(tree.arg);
  return [...numbersUsed(tree.left), ...numbersUsed(tree.right)];
}

const PREC: Record<BinOp, number> = { "+": 1, "-": 1, "*": 2, "/": 2 };

function prec(e: Expr): number {
  return e.kind === "bin" ? PREC[e.op] : 3;
}

/**
 * Print with the fewest parentheses that keep the tree's structure: a left operand is wrapped when it
 * binds looser than the operator, a right operand when it binds looser or equally (a-(b-c)), and a
 * negative right operand always (4-(-3), not 4--3).
 */
export function formatExpr(e: Expr): string {
  if (e.kind === "num") return e.value < 0n ? `(${e.value})` : `${e.value}`;
  if (e.kind === "neg") return e.arg.kind === "bin" ? `-(${formatExpr(e.arg)})` : `-${formatExpr(e.arg)}`;
  const l = formatExpr(e.left);
  const r = formatExpr(e.right);
  const lw = prec(e.left) < PREC[e.op] ? `(${l})` : l;
  const rw = prec(e.right) <= PREC[e.op] || e.right.kind === "neg" ? `(${r})` : r;
  return `${lw}${e.op}${rw}`;
}

/** A literal for an integer-valued rational: a num node, or neg(num) when negative. */
function literal(r: Rational): Expr {
  if (r.den !== 1n) throw new ExprError(`reduce: ${formatRational(r)} is not an integer`, -1);
  return r.num < 0n
    ? { kind: "neg", arg: { kind: "num", value: -r.num, pos: -1 } }
    : { kind: "num", value: r.num, pos: -1 };
}

function isLiteral(e: Expr): boolean {
  return e.kind === "num" || (e.kind === "neg" && e.arg.kind === "num");
}

/**
 * One evaluation step: replace the first operation (in evaluation order: left to right, deepest
 * first) whose operands are both literals by its value. Returns null when `e` is already a literal.
 * Throws ExprError when that step's value is not an integer (the traces only show integer steps).
 */
export function reduceStep(e: Expr, adjust: (v: Rational) => Rational = (v) => v): Expr | null {
  if (isLiteral(e)) return null;
  if (e.kind === "neg") {
    const inner = reduceStep(e.arg, adjust);
    return inner ? { kind: "neg", arg: inner } : literal(adjust(evaluate(e)));
  }
  if (e.kind !== "bin") return null;
  const l = reduceStep(e.left, adjust);
  if (l) return { ...e, left: l };
  const r = reduceStep(e.right, adjust);
  if (r) return { ...e, right: r };
  return literal(adjust(evaluate(e)));
}

/**
 * The printed forms from `e` down to its value, e.g. ["7+3*2-4", "7+6-4", "13-4", "9"].
 * With `slip`, step number `slip.step` (1 = the first reduction) computes a value off by `slip.delta`
 * and later steps carry the error on: how the corpus writes an arithmetic slip.
 */
export function reductionChain(e: Expr, slip?: { step: number; delta: bigint }): string[] {
  const out = [formatExpr(e)];
  let cur: Expr | null = e;
  for (let step = 1; ; step++) {
    const off = slip && slip.step === step ? slip.delta : 0n;
    cur = reduceStep(cur, (v) => (off === 0n ? v : rational(v.num + off * v.den, v.den)));
    if (!cur) return out;
    out.push(formatExpr(cur));
  }
}
