// Final-answer extraction for math, following Math-Verify's order of evidence (read from its parser
// and tests; the code is r1lab's own). Candidates are ranked by priority, lowest first:
//     0  "final answer is $X$. I hope" (and \boxed{...} with `boxedFirst`, as Math-Verify's tests rank it)
//    50  "final answer ... is X" (up to 100 characters between); \boxed{...} by default, so a later
//        final statement beats an earlier box (Math-Verify's parse() default)
//   100  "answer: ... X";  200 "answer ... X" (up to 50 characters between)
//   300  any math span or plain number/expression (the one that ends last)
// Within a priority the candidate that ends last wins; a candidate that does not read as math is
// skipped for the next one. X is a chain of math spans ("$1$, $2$ and $3$", math-spans.ts) or, with
// the "expr" target, a plain number or arithmetic expression ("2,74 $", "1 000", "2/3", "28 pct").
// Boxes: \boxed{} inside a span keeps every box of it ("$\boxed{1}, \boxed{2}$" is 1,2); a bare
// \boxed{} keeps the last box and the boxes just before it (math-spans.ts boxedAnswer).
// The first candidate tried is also kept as plain text (`fallback`), compared only for identity.
// Cost: one linear pass for spans and boxes; expression regexes run on bounded windows only.

import { boxedAnswer, boxedGroups, chains, mathSpans, type Span } from "./math-spans.ts";

export type MathTarget = "latex" | "expr";

export interface MathExtractOptions {
  /** What may be extracted: LaTeX spans and/or plain numbers and expressions. Default both. */
  targets?: readonly MathTarget[];
  /** Rank \boxed{} before "final answer ... is" (priority 0 instead of 50). Default false. */
  boxedFirst?: boolean;
}

export interface MathExtraction {
  /** The answer as LaTeX (several parts joined by ", "), or null. */
  answer: string | null;
  /** The answer carried a percent sign or word outside its math. */
  percent: boolean;
  /** Which rule found it: boxed, final_answer, answer, latex, expr. */
  method: string;
  /** The first candidate's raw text, compared with the other side's only as identical text. */
  fallback: string | null;
}

interface Part {
  text: string;
  percent: boolean;
  /** How boxes in the text are read: every box, the last box(es), or not at all. */
  boxed: "all" | "last" | "none";
}

interface Candidate {
  start: number;
  end: number;
  priority: number;
  parts: Part[];
  method: string;
  expr: boolean;
}

const NUMBER =
  "(?:(?<i1>-?[1-9]\\d{0,2}(?:[ ,]\\d{3})+)(?<d1>\\.\\d+)?|(?<i2>-?\\d+)(?<d2>[.,]\\d+)|(?<d3>\\.\\d+)|(?<i3>-?\\d+))(?<pct>\\s*(?:%|[Pp]ercentage|[Pp]ercent|[Pp]ct))?";
const OPS = "+\\-*×/^()÷";
const CHARS = `[\\d.\\s${OPS}]`;
const EXPR = `(?<expr>-?\\(?-?\\d${CHARS}{0,100}?[${OPS}]${CHARS}{1,100}\\)?)`;
const PREFIX = "(?:^|(?<=[\\s=]))(?:\\*\\*)?";
const CURRENCY = "[$€£¥₹₽₪₩₫฿₡₢₣₤₥₦₧₨₭₮₯₰₱₲₳₴₵₶₷₸₺₻₼₾₿]";
const EXPR_RE = new RegExp(`${PREFIX}${EXPR}(?=(?:\\*\\*)?(?:[.,:\\s)$]|$))`, "g");
const NUMBER_RE = new RegExp(`${PREFIX}${CURRENCY}?${NUMBER}`, "g");

/** Plain numbers and expressions in `text[from, to)`, as candidates of `priority`. */
function exprCandidates(
  text: string,
  from: number,
  to: number,
  priority: number,
  method: string,
): Candidate[] {
  const out: Candidate[] = [];
  const window = text.slice(Math.max(0, from - 1), to);
  const shift = Math.max(0, from - 1);
  for (const re of [EXPR_RE, NUMBER_RE]) {
    re.lastIndex = from > 0 ? 1 : 0;
    for (let m = re.exec(window); m !== null; m = re.exec(window)) {
      if (m[0].length === 0) {
        re.lastIndex++;
        continue;
      }
      const g = m.groups ?? {};
      let value: string;
      let percent = false;
      if (g.expr !== undefined) value = g.expr.trim();
      else {
        let int = (g.i1 ?? g.i2 ?? g.i3 ?? "").replace(/[ ,]/g, "");
        const neg = int.startsWith("-");
        int = int.replace(/^-/, "").replace(/^0+(?=\d)/, "");
        const dec = (g.d1 ?? g.d2 ?? g.d3 ?? "").replace(",", ".");
        value = `${neg ? "-" : ""}${int === "" ? "0" : int}${dec}`;
        percent = g.pct !== undefined;
      }
      out.push({
        start: shift + m.index,
        end: shift + m.index + m[0].length,
        priority,
        parts: [{ text: value, percent, boxed: "none" }],
        method,
        expr: true,
      });
    }
  }
  return out;
}

/** Every occurrence of a case-insensitive phrase, with its end offset. */
function phrases(text: string, re: RegExp): { at: number; end: number }[] {
  const out: { at: number; end: number }[] = [];
  for (const m of text.matchAll(re)) out.push({ at: m.index, end: m.index + m[0].length });
  return out;
}

/** The first span starting in [from, to] (spans are sorted by start). */
function firstSpanFrom(spans: Span[], from: number, to: number): Span | undefined {
  let lo = 0;
  let hi = spans.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (spans[mid].start < from) lo = mid + 1;
    else hi = mid;
  }
  return lo < spans.length && spans[lo].start <= to ? spans[lo] : undefined;
}

function spanPart(s: Span, boxed: Part["boxed"]): Part {
  return { text: s.content, percent: s.percent, boxed };
}

/** All candidates of a text for the given targets. */
function candidates(text: string, o: Required<MathExtractOptions>): Candidate[] {
  const latex = o.targets.includes("latex");
  const expr = o.targets.includes("expr");
  const out: Candidate[] = [];
  const spans = latex ? mathSpans(text) : [];
  const runs = latex ? chains(text, spans) : [];
  const runAt = new Map<number, number[]>();
  for (const r of runs) for (let k = 0; k < r.length; k++) runAt.set(spans[r[k]].start, r.slice(k));
  const chainFrom = (pos: number, priority: number, method: string, at: number): Candidate | null => {
    const r = runAt.get(pos) ?? runAt.get(pos - 1);
    if (!r) return null;
    return {
      start: at,
      end: spans[r[r.length - 1]].end,
      priority,
      parts: r.map((k) => spanPart(spans[k], "all")),
      method,
      expr: false,
    };
  };
  const ws = /\s*/y;
  const skipWs = (p: number) => {
    ws.lastIndex = p;
    ws.exec(text);
    return ws.lastIndex;
  };
  // 0: "final answer is X. I hope"
  for (const f of phrases(text, /final answer is/gi)) {
    let p = f.end;
    if (text[p] === ":") p++;
    const c = latex ? chainFrom(skipWs(p), 0, "final_answer", f.at) : null;
    if (c && /^\.?\s?I hope/.test(text.slice(c.end, c.end + 9))) out.push(c);
    if (expr) {
      for (const e of exprCandidates(text, p, Math.min(text.length, p + 260), 0, "final_answer")) {
        if (e.start <= skipWs(p) && /^\.?\s?I hope/.test(text.slice(e.end, e.end + 9)))
          out.push({ ...e, start: f.at });
      }
    }
  }
  // Boxes: inside a span (all boxes of the span), or anywhere (the last boxes).
  const boxPriority = o.boxedFirst ? 0 : 50;
  if (latex && text.includes("\\boxed")) {
    for (const r of runs) {
      const withBox = r.filter((k) => spans[k].content.includes("\\boxed"));
      if (withBox.length === 0) continue;
      const first = withBox[0];
      const sub = r.slice(r.indexOf(first));
      out.push({
        start: spans[first].start,
        end: spans[sub[sub.length - 1]].end,
        priority: boxPriority,
        parts: sub.map((k) => spanPart(spans[k], "all")),
        method: "boxed",
        expr: false,
      });
    }
    const boxes = boxedGroups(text);
    if (boxes.length > 0) {
      const lastBrace = text.lastIndexOf("}");
      out.push({
        start: boxes[0].start,
        end: Math.max(lastBrace + 1, boxes[boxes.length - 1].end),
        priority: boxPriority,
        parts: [{ text: text.slice(boxes[0].start, lastBrace + 1), percent: false, boxed: "last" }],
        method: "boxed",
        expr: false,
      });
    }
  }
  // 50: "final answer ... is X"
  for (const f of phrases(text, /final answer/gi)) {
    const window = text.slice(f.end, f.end + 104);
    const is = /\s+is:?/g;
    for (let m = is.exec(window); m !== null; m = is.exec(window)) {
      if (m.index > 100) break;
      const p = f.end + m.index + m[0].length;
      const c = latex ? chainFrom(skipWs(p), 50, "final_answer", f.at) : null;
      if (c) {
        out.push(c);
        break;
      }
      if (expr && !window.slice(0, m.index).includes("\n")) {
        const e = exprCandidates(text, p, Math.min(text.length, p + 260), 50, "final_answer").find((x) =>
          /^(?:[\s=](?:\*\*)?)?$/.test(text.slice(p, x.start)),
        );
        if (e) {
          out.push({ ...e, start: f.at });
          break;
        }
      }
    }
  }
  // 100 / 200: "answer: ... X", "answer ... X"
  for (const f of phrases(text, /answer/gi)) {
    const colon = text[f.end] === ":";
    const priority = colon ? 100 : 200;
    const from = colon ? f.end + 1 : f.end;
    if (latex) {
      const next = firstSpanFrom(spans, from - 1, from + 50);
      const c = next ? chainFrom(next.start, priority, "answer", f.at) : null;
      if (c) out.push(c);
      else if (colon) {
        const any = firstSpanFrom(spans, f.end, f.end + 50);
        const c2 = any ? chainFrom(any.start, 200, "answer", f.at) : null;
        if (c2) out.push(c2);
      }
    }
    if (expr) {
      const line = text.indexOf("\n", f.end);
      const stop = Math.min(line < 0 ? text.length : line, f.end + 150);
      const es = exprCandidates(text, from, stop, priority, "answer").filter(
        (e) => !/^\s*=/.test(text.slice(e.end, e.end + 20)),
      );
      // After the last "=" within 100 characters, else the first within 50.
      const eq = text.slice(from, Math.min(stop, from + 101)).lastIndexOf("=");
      const pick =
        (eq >= 0 ? es.find((e) => e.start >= from + eq && e.start <= from + eq + 1 + 20) : undefined) ??
        es.filter((e) => e.start <= from + 51).sort((a, b) => a.start - b.start || b.end - a.end)[0];
      if (pick) out.push({ ...pick, start: f.at });
    }
  }
  // 300: any span chain, any number or expression (expressions only near the end: the last wins).
  if (latex)
    for (const r of runs) {
      const c = chainFrom(spans[r[0]].start, 300, "latex", spans[r[0]].start);
      if (c) out.push(c);
    }
  if (expr) {
    const tail = 4096;
    for (let end = text.length; end > 0; end -= tail) {
      const found = exprCandidates(text, Math.max(0, end - tail - 256), end, 300, "expr");
      out.push(...found);
      if (found.length > 0) break;
    }
  }
  return out;
}

/** Whether an extracted part reads as math (Math-Verify skips a candidate its parser rejects). */
function readsAsMath(s: string, expr: boolean): boolean {
  const t = s.trim();
  if (t.length === 0) return false;
  // Braces must balance; brackets may pair across kinds, as intervals do ("[0, 1)").
  let braces = 0;
  let brackets = 0;
  for (let i = 0; i < t.length; i++) {
    const ch = t[i];
    if (ch === "\\") {
      i++;
      continue;
    }
    if (ch === "{") braces++;
    else if (ch === "}") braces--;
    else if (ch === "(" || ch === "[") brackets++;
    else if (ch === ")" || ch === "]") brackets--;
    if (braces < 0 || brackets < 0) return false;
  }
  if (braces !== 0 || brackets !== 0) return false;
  if (/[+\-*/^=,]$/.test(t) && !t.endsWith("\\,")) return false;
  if (expr && /\d\s+\d/.test(t)) return false;
  return true;
}

/** The content of a part with its boxes read as the part says. */
function unbox(p: Part): string {
  if (p.boxed === "none") return p.text;
  const b = boxedAnswer(p.text, p.boxed);
  return b ?? p.text;
}

/** Math-Verify-style extraction of the final answer of `text`. Never throws. */
export function extractMath(text: string, opts: MathExtractOptions = {}): MathExtraction {
  const o: Required<MathExtractOptions> = {
    targets: opts.targets ?? ["latex", "expr"],
    boxedFirst: opts.boxedFirst ?? false,
  };
  const all = candidates(text, o);
  const byPriority = new Map<number, Candidate[]>();
  for (const c of all) {
    const list = byPriority.get(c.priority);
    if (list) list.push(c);
    else byPriority.set(c.priority, [c]);
  }
  let fallback: string | null = null;
  for (const p of [...byPriority.keys()].sort((a, b) => a - b)) {
    const group = byPriority.get(p)!.sort((a, b) => b.end - a.end || a.start - b.start);
    for (const c of group) {
      const parts = c.parts.map((x) => ({ text: unbox(x).trim(), percent: x.percent }));
      if (fallback === null) fallback = parts.map((x) => x.text).join(" and ");
      const ok = parts.map((x) => readsAsMath(x.text, c.expr));
      if (parts.length > 1 && ok.every(Boolean)) {
        const items = parts.map((x) => x.text.replace(/^\\\{([\s\S]*)\\\}$/, "$1"));
        return { answer: items.join(", "), percent: false, method: c.method, fallback };
      }
      if (ok[0]) return { answer: parts[0].text, percent: parts[0].percent, method: c.method, fallback };
    }
  }
  return { answer: null, percent: false, method: "none", fallback };
}
