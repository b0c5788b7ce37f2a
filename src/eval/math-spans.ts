// Where the math is in a completion, found in one left-to-right pass (linear time, whatever the
// input: unclosed delimiters and unclosed \boxed{ never cause a rescan of the rest of the text).
// A span is one delimited piece of LaTeX, the kinds Math-Verify recognises:
//   $$...$$ and \[...\] (display, may span lines), $...$ and \(...\) (inline, one line),
//   " [ ... ] " (an inline bracket between spaces), and a bare \frac{n}{m} of two plain numbers.
// An inline $ is not an opener after a digit or a backslash ("1,000.99$", "\$5"). A span followed
// by a percent sign or word carries it. Spans joined by ",", "and", "or" form a chain (the
// multi-part answers "$1$, $2$ and $3$"). boxedGroups() finds every \boxed{...} / \fbox{...} with
// its content, from one precomputed table of matching braces.

export type SpanKind = "display" | "inline" | "bracket" | "frac";

export interface Span {
  /** Offset of the opening delimiter (of the space before "[" for bracket spans). */
  start: number;
  /** Offset just past the closing delimiter and any percent suffix. */
  end: number;
  content: string;
  kind: SpanKind;
  percent: boolean;
}

const PERCENT = /\s*(?:\\?%|[Pp]ercentage|[Pp]ercent|[Pp]ct)/y;
const FRAC = /-?\\frac\{-?\d+(?:[.,]\d+)?\}\{-?\d+(?:[.,]\d+)?\}/y;
const JOIN = /\s*(?:,?\s*and|,?\s*or|,)\s*/y;

function withPercent(text: string, s: Omit<Span, "percent">): Span {
  PERCENT.lastIndex = s.end;
  const m = PERCENT.exec(text);
  return m ? { ...s, end: s.end + m[0].length, percent: true } : { ...s, percent: false };
}

/** Every math span of `text`, in order, non-overlapping. */
export function mathSpans(text: string, opts: { fractions?: boolean } = {}): Span[] {
  const out: Span[] = [];
  const n = text.length;
  let noDisplayDollar = false;
  let noDisplayBracket = false;
  let lineFailDollar = -1; // an inline $ scan failed up to here: later openers before it fail too
  let lineFailParen = -1;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    const prev = i > 0 ? text[i - 1] : "";
    if (c === 36 /* $ */ && prev !== "\\") {
      if (text[i + 1] === "$" && !noDisplayDollar) {
        let close = text.indexOf("$$", i + 3);
        while (close >= 0 && text[close - 1] === "\\") close = text.indexOf("$$", close + 1);
        if (close < 0) noDisplayDollar = true;
        else {
          out.push(
            withPercent(text, {
              start: i,
              end: close + 2,
              content: text.slice(i + 2, close),
              kind: "display",
            }),
          );
          i = close + 1;
          continue;
        }
      }
      if (!/\d/.test(prev) && i > lineFailDollar && text[i + 1] !== "$") {
        let k = i + 1;
        for (; k < n; k++) {
          const ch = text[k];
          if (ch === "\\" && text[k + 1] === "$") k++;
          else if (ch === "\n" || ch === "$") break;
        }
        if (k < n && text[k] === "$") {
          out.push(
            withPercent(text, { start: i, end: k + 1, content: text.slice(i + 1, k), kind: "inline" }),
          );
          i = k;
          continue;
        }
        lineFailDollar = k;
      }
    } else if (c === 92 /* \ */ && prev !== "\\") {
      const next = text[i + 1];
      if (next === "[" && !noDisplayBracket) {
        const close = text.indexOf("\\]", i + 3);
        if (close < 0) noDisplayBracket = true;
        else {
          out.push(
            withPercent(text, {
              start: i,
              end: close + 2,
              content: text.slice(i + 2, close),
              kind: "display",
            }),
          );
          i = close + 1;
        }
      } else if (next === "(" && i > lineFailParen) {
        let k = i + 2;
        for (; k < n; k++) {
          if (text[k] === "\n") break;
          if (text[k] === "\\" && text[k + 1] === ")") break;
        }
        if (k < n && text[k] === "\\" && k > i + 2) {
          out.push(
            withPercent(text, { start: i, end: k + 2, content: text.slice(i + 2, k), kind: "inline" }),
          );
          i = k + 1;
          continue;
        }
        lineFailParen = k;
      } else if (opts.fractions !== false && next === "f") {
        FRAC.lastIndex = i;
        const m = FRAC.exec(text);
        if (m) {
          out.push(withPercent(text, { start: i, end: i + m[0].length, content: m[0], kind: "frac" }));
          i += m[0].length - 1;
        }
      }
    } else if (c === 45 /* - */ && opts.fractions !== false && text.startsWith("\\frac", i + 1)) {
      FRAC.lastIndex = i;
      const m = FRAC.exec(text);
      if (m) {
        out.push(withPercent(text, { start: i, end: i + m[0].length, content: m[0], kind: "frac" }));
        i += m[0].length - 1;
      }
    } else if (c === 91 /* [ */ && /\s/.test(prev)) {
      let k = i + 1;
      while (k < n && text[k] !== "\n" && text[k] !== "[" && text[k] !== "]") k++;
      if (k < n && text[k] === "]" && k > i + 1 && /\s/.test(text[k + 1] ?? "")) {
        out.push(
          withPercent(text, { start: i - 1, end: k + 2, content: text.slice(i + 1, k), kind: "bracket" }),
        );
        i = k + 1;
      }
    }
  }
  return out;
}

/** Runs of spans joined by ",", "and", "or" (at most `max` each), as index ranges into `spans`. */
export function chains(text: string, spans: Span[], max = 6): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < spans.length; ) {
    const run = [i];
    while (run.length < max && i + 1 < spans.length) {
      JOIN.lastIndex = spans[i].end;
      const m = JOIN.exec(text);
      if (!m || spans[i].end + m[0].length !== spans[i + 1].start) {
        // A bracket span's start is the space before it: the join may end one character later.
        if (!(m && spans[i + 1].kind === "bracket" && spans[i].end + m[0].length === spans[i + 1].start + 1))
          break;
      }
      i++;
      run.push(i);
    }
    out.push(run);
    i++;
  }
  return out;
}

/** For each "{" offset, the offset of its matching "}" (escaped \{ \} skipped); -1 when unclosed. */
export function matchBraces(text: string): Map<number, number> {
  const close = new Map<number, number>();
  const stack: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === "\\") {
      if (text[i + 1] === "{" || text[i + 1] === "}") i++;
      continue;
    }
    if (ch === "{") stack.push(i);
    else if (ch === "}" && stack.length > 0) close.set(stack.pop()!, i);
  }
  for (const open of stack) close.set(open, -1);
  return close;
}

export interface Boxed {
  /** Offset of the backslash of \boxed / \fbox. */
  start: number;
  /** Offset just past the closing brace (or the bare token). */
  end: number;
  content: string;
}

const BOXED = /\\(?:boxed|fbox)(?![a-zA-Z])\s*/g;

/** Every complete \boxed{...} / \fbox{...} (and `\boxed 5`), in order. Linear in the text. */
export function boxedGroups(text: string): Boxed[] {
  if (!text.includes("\\boxed") && !text.includes("\\fbox")) return [];
  const braces = matchBraces(text);
  const out: Boxed[] = [];
  BOXED.lastIndex = 0;
  for (let m = BOXED.exec(text); m !== null; m = BOXED.exec(text)) {
    const at = m.index + m[0].length;
    if (text[at] === "{") {
      const close = braces.get(at) ?? -1;
      if (close < 0) continue;
      out.push({ start: m.index, end: close + 1, content: text.slice(at + 1, close).trim() });
      BOXED.lastIndex = close + 1;
    } else if (at > m.index + 6) {
      const tok = /^[^\s$]+/.exec(text.slice(at, at + 200));
      if (tok) out.push({ start: m.index, end: at + tok[0].length, content: tok[0].replace(/[.,;]+$/, "") });
    }
  }
  return out;
}

/**
 * The boxed answer of a piece of text as Math-Verify reads it: the last \boxed{...}, joined by ","
 * with the boxes just before it when they sit close together ("\boxed{1}, \boxed{2}") or are
 * separated by a short text with "and", "or", "," or ";" ("\boxed{2} and \boxed{3}").
 * mode "all" joins every box. null when there is no complete box.
 */
export function boxedAnswer(text: string, mode: "last" | "all" = "last"): string | null {
  const boxes = boxedGroups(text);
  if (boxes.length === 0) return null;
  const picked = [boxes[boxes.length - 1]];
  for (let k = boxes.length - 2; k >= 0; k--) {
    const b = boxes[k];
    const after = picked[0];
    if (mode === "last") {
      const between = text.slice(b.end, after.start);
      const near = between.length < 10;
      const separated =
        between.length < 70 && b.content !== after.content && /\b(?:and|or)\b|,|;/.test(between);
      if (!near && !separated) break;
    }
    if (b.content !== after.content) picked.unshift(b);
  }
  return picked.map((b) => b.content).join(",");
}
