// Reads the verdicts written in Math-Verify's pytest files (huggingface/Math-Verify, tests/*.py):
// every `@pytest.mark.parametrize("gold,pred,expected...", [...])` table, with the settings its test
// function passes to Math-Verify (match_types, precision, strict, allow_set_relation_comp, and
// whether it calls compare_strings, which puts \boxed first, or parse() with its defaults).
// Only Python literals are understood (strings with their prefixes and escapes, numbers, booleans,
// tuples, lists); a row this reader cannot evaluate is counted as skipped, never guessed.
// Used by scripts/mathverify-agreement.ts; nothing of Math-Verify is copied here.

export interface MvSettings {
  /** Extraction targets: "latex", "expr" (Math-Verify's LatexExtractionConfig / ExprExtractionConfig). */
  targets: ("latex" | "expr")[];
  /** Decimal places floats are rounded to (float_rounding). */
  precision: number;
  strict: boolean;
  allowSetRelationComp: boolean;
  /** compare_strings() ranks \boxed first (priority 0); parse() defaults rank it after "final answer". */
  boxedFirst: boolean;
}

export interface MvCase {
  file: string;
  test: string;
  /** 1-based line of the row in the file. */
  line: number;
  gold: string;
  pred: string;
  expected: boolean;
  settings: MvSettings;
}

type PyValue = string | number | boolean | null | PyValue[];

class Unsupported extends Error {}

const SIMPLE_ESCAPES: Record<string, string> = {
  "\\": "\\",
  "'": "'",
  '"': '"',
  a: "\x07",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
  v: "\v",
  "\n": "",
};

/** The value of a Python string body (without quotes) under the escape rules of a non-raw literal. */
function pyUnescape(body: string): string {
  let out = "";
  for (let i = 0; i < body.length; i++) {
    const ch = body[i];
    if (ch !== "\\" || i + 1 >= body.length) {
      out += ch;
      continue;
    }
    const next = body[i + 1];
    if (next in SIMPLE_ESCAPES) {
      out += SIMPLE_ESCAPES[next];
      i++;
    } else if (/[0-7]/.test(next)) {
      const m = /^[0-7]{1,3}/.exec(body.slice(i + 1))!;
      out += String.fromCharCode(Number.parseInt(m[0], 8));
      i += m[0].length;
    } else if (next === "x" && /^[0-9a-fA-F]{2}$/.test(body.slice(i + 2, i + 4))) {
      out += String.fromCharCode(Number.parseInt(body.slice(i + 2, i + 4), 16));
      i += 3;
    } else if (next === "u" && /^[0-9a-fA-F]{4}$/.test(body.slice(i + 2, i + 6))) {
      out += String.fromCharCode(Number.parseInt(body.slice(i + 2, i + 6), 16));
      i += 5;
    } else if (next === "N") {
      throw new Unsupported("\\N{...} escape");
    } else {
      out += ch; // unknown escape: Python keeps the backslash
    }
  }
  return out;
}

/** f"{math.sqrt(N):.Kf}" is the only f-string form the tests use; anything else is unsupported. */
function formatF(body: string): string {
  return body.replace(/\{\{|\}\}|\{([^{}]*)\}/g, (m, expr: string | undefined) => {
    if (m === "{{") return "{";
    if (m === "}}") return "}";
    const sq = /^math\.sqrt\((\d+(?:\.\d+)?)\):\.(\d+)f$/.exec(expr ?? "");
    if (!sq) throw new Unsupported(`f-string expression {${expr}}`);
    return Math.sqrt(Number(sq[1])).toFixed(Number(sq[2]));
  });
}

/** A cursor over Python source that reads literal values. */
class Reader {
  i = 0;
  constructor(readonly src: string) {}

  skip(): void {
    for (;;) {
      while (this.i < this.src.length && /\s/.test(this.src[this.i])) this.i++;
      if (this.src[this.i] === "#") {
        while (this.i < this.src.length && this.src[this.i] !== "\n") this.i++;
      } else return;
    }
  }

  line(at = this.i): number {
    let n = 1;
    for (let k = 0; k < at; k++) if (this.src.charCodeAt(k) === 10) n++;
    return n;
  }

  private string(): string {
    const m = /^([rRbBuUfF]{0,2})('''|"""|'|")/.exec(this.src.slice(this.i, this.i + 6));
    if (!m) throw new Unsupported(`not a string at line ${this.line()}`);
    const prefix = m[1].toLowerCase();
    const quote = m[2];
    let k = this.i + m[0].length;
    const start = k;
    for (;;) {
      if (k >= this.src.length) throw new Unsupported("unterminated string");
      if (this.src[k] === "\\") {
        k += 2;
        continue;
      }
      if (this.src.startsWith(quote, k)) break;
      k++;
    }
    const body = this.src.slice(start, k);
    this.i = k + quote.length;
    let value = prefix.includes("r") ? body : pyUnescape(body);
    if (prefix.includes("f")) value = formatF(value);
    return value;
  }

  value(): PyValue {
    this.skip();
    const c = this.src[this.i];
    if (c === "(" || c === "[") {
      const close = c === "(" ? ")" : "]";
      this.i++;
      const items: PyValue[] = [];
      for (;;) {
        this.skip();
        if (this.src[this.i] === close) {
          this.i++;
          return items;
        }
        items.push(this.value());
        this.skip();
        if (this.src[this.i] === ",") this.i++;
        else if (this.src[this.i] !== close)
          throw new Unsupported(`expected , or ${close} at line ${this.line()}`);
      }
    }
    if (/^[rRbBuUfF]{0,2}['"]/.test(this.src.slice(this.i, this.i + 3))) {
      let s = this.string();
      // Adjacent literals concatenate.
      for (;;) {
        const save = this.i;
        this.skip();
        if (/^[rRbBuUfF]{0,2}['"]/.test(this.src.slice(this.i, this.i + 3))) s += this.string();
        else {
          this.i = save;
          return s;
        }
      }
    }
    const num = /^-?\d+(?:\.\d+)?/.exec(this.src.slice(this.i));
    if (num) {
      this.i += num[0].length;
      return Number(num[0]);
    }
    const word = /^(True|False|None)\b/.exec(this.src.slice(this.i));
    if (word) {
      this.i += word[0].length;
      return word[1] === "True" ? true : word[1] === "False" ? false : null;
    }
    throw new Unsupported(
      `cannot read a literal at line ${this.line()}: ${this.src.slice(this.i, this.i + 30)}`,
    );
  }

  /** Skip one value without evaluating it (for rows that are unsupported). */
  skipValue(): void {
    let depth = 0;
    for (; this.i < this.src.length; this.i++) {
      const c = this.src[this.i];
      if (c === "#") {
        while (this.i < this.src.length && this.src[this.i] !== "\n") this.i++;
        continue;
      }
      if (/['"]/.test(c)) {
        const quote = this.src.startsWith(c.repeat(3), this.i) ? c.repeat(3) : c;
        this.i += quote.length;
        while (this.i < this.src.length && !this.src.startsWith(quote, this.i))
          this.i += this.src[this.i] === "\\" ? 2 : 1;
        this.i += quote.length - 1;
        continue;
      }
      if (c === "(" || c === "[") depth++;
      else if (c === ")" || c === "]") {
        if (depth === 0) return;
        depth--;
        if (depth === 0) {
          this.i++;
          return;
        }
      } else if (c === "," && depth === 0) return;
    }
  }
}

/** The settings a test function's body passes to Math-Verify, `params` naming per-row values. */
function settingsOf(body: string): (row: Record<string, PyValue>) => MvSettings | null {
  const usesCompare = /compare_strings\s*\(/.test(body);
  const usesVerifyParse = /verify\s*\(\s*parse\s*\(/.test(body);
  if (!usesCompare && !usesVerifyParse) return () => null;
  const mt = /match_types\s*=\s*\[([^\]]*)\]/.exec(body);
  const targets = mt
    ? ([...mt[1].matchAll(/["'](latex|expr)["']/g)].map((m) => m[1]) as ("latex" | "expr")[])
    : (["latex", "expr"] as ("latex" | "expr")[]);
  const arg = (name: string) => new RegExp(`${name}\\s*=\\s*([A-Za-z_0-9.]+)`).exec(body)?.[1];
  return (row) => {
    const pick = (name: string, dflt: PyValue): PyValue => {
      const a = arg(name);
      if (a === undefined) return dflt;
      if (a in row) return row[a];
      if (/^\d+$/.test(a)) return Number(a);
      if (a === "True" || a === "False") return a === "True";
      return dflt;
    };
    return {
      targets,
      precision: Number(pick("precision", 6)),
      strict: pick("strict", true) === true,
      allowSetRelationComp: pick("allow_set_relation_comp", false) === true,
      boxedFirst: usesCompare,
    };
  };
}

/** Every parametrized gold/pred/expected row of one pytest file, and the rows that could not be read. */
export function readCases(
  file: string,
  src: string,
): { cases: MvCase[]; skipped: { line: number; why: string }[] } {
  const cases: MvCase[] = [];
  const skipped: { line: number; why: string }[] = [];
  const deco = /@pytest\.mark\.parametrize\(\s*/g;
  for (let m = deco.exec(src); m !== null; m = deco.exec(src)) {
    const r = new Reader(src);
    r.i = m.index + m[0].length;
    let names: string[];
    try {
      const v = r.value();
      if (typeof v !== "string") continue;
      names = v.split(",").map((s) => s.trim());
    } catch {
      continue;
    }
    if (!names.includes("gold") || !names.includes("pred")) continue;
    const expectedName = names.find((n) => n === "expected" || n === "result");
    if (!expectedName) continue;
    // The test function that follows, up to the next decorator or top-level def.
    const defAt = src.indexOf("\ndef ", r.i);
    const defEnd = src.slice(defAt + 1).search(/\n(?:@|def |# )/);
    const body = src.slice(defAt + 1, defEnd < 0 ? undefined : defAt + 1 + defEnd);
    const test = /^def\s+(\w+)/.exec(body)?.[1] ?? "?";
    const settings = settingsOf(body);
    r.skip();
    if (src[r.i] !== ",") continue;
    r.i++;
    r.skip();
    if (src[r.i] !== "[") continue;
    r.i++;
    for (;;) {
      r.skip();
      if (src[r.i] === "]" || r.i >= src.length) break;
      const line = r.line();
      const start = r.i;
      try {
        const row = r.value();
        if (!Array.isArray(row) || row.length !== names.length) throw new Unsupported("row shape");
        const byName = Object.fromEntries(names.map((n, k) => [n, row[k]]));
        const s = settings(byName);
        if (s === null) throw new Unsupported(`test ${test} does not compare gold and pred`);
        const { gold, pred } = byName;
        if (typeof gold !== "string" || typeof pred !== "string")
          throw new Unsupported("gold/pred not strings");
        cases.push({ file, test, line, gold, pred, expected: Boolean(byName[expectedName]), settings: s });
      } catch (e) {
        if (!(e instanceof Unsupported)) throw e;
        skipped.push({ line, why: e.message });
        r.i = start;
        r.skipValue();
      }
      r.skip();
      if (src[r.i] === ",") r.i++;
    }
  }
  return { cases, skipped };
}
