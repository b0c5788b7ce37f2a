// String normalisation of a math answer before it is compared (the first half of Math-Verify's
// job): remove what does not change the value (spacing commands, \left/\right, \displaystyle,
// units, \text wrappers, degree signs, dollar signs, thousands separators), unify spellings
// (\dfrac -> \frac, \geq -> \ge, plain-text sqrt/pi/inf -> LaTeX), and note a percent sign so the
// comparison can try both readings of "50%" (50 and 0.5). The result is LaTeX that
// @cortex-js/compute-engine parses; math-equiv.ts does the structural and numeric comparison.

import { cleanAnswer, lastBoxed } from "./extract.ts";

export interface NormalizedAnswer {
  /** LaTeX with the value-irrelevant parts removed. */
  latex: string;
  /** The answer carried a percent sign (stripped from `latex`). */
  percent: boolean;
}

/** Unit words (and their plurals by -s/-es) removed after a value: "5 cm", "5\text{ dollars}". */
const UNITS = [
  "mm",
  "cm",
  "m",
  "km",
  "meter",
  "metre",
  "centimeter",
  "millimeter",
  "kilometer",
  "inch",
  "inches",
  "in",
  "ft",
  "foot",
  "feet",
  "yard",
  "yd",
  "mile",
  "mi",
  "mph",
  "kph",
  "kg",
  "g",
  "gram",
  "kilogram",
  "mg",
  "lb",
  "lbs",
  "pound",
  "ounce",
  "oz",
  "l",
  "liter",
  "litre",
  "ml",
  "milliliter",
  "gallon",
  "cup",
  "s",
  "sec",
  "second",
  "min",
  "minute",
  "h",
  "hr",
  "hour",
  "day",
  "week",
  "month",
  "year",
  "dollar",
  "cent",
  "euro",
  "unit",
  "degree",
  "deg",
  "radian",
  "rad",
  "sq",
  "square",
  "cubic",
  "point",
  "people",
  "person",
  "student",
  "time",
  "way",
  "mile per hour",
  "meter per second",
  "percent",
  "%",
];
const UNIT_RE = new RegExp(
  `(?:\\s+(?:${[...UNITS]
    .sort((a, b) => b.length - a.length)
    .map((u) => u.replace(/ /g, "\\s+"))
    .join("|")})(?:e?s)?(?:\\s*\\^\\{?[23]\\}?)?)+\\s*$`,
  "i",
);

const TRIG = /\\(?:sin|cos|tan|sec|csc|cot)(?![a-zA-Z])/;

/** Apply `f` to the content of every \cmd{...} (balanced braces), replacing the whole command. */
function replaceCommand(s: string, cmd: string, f: (content: string) => string): string {
  let out = s;
  const re = new RegExp(`\\\\${cmd}(?![a-zA-Z])\\s*\\{`);
  for (let guard = 0; guard < 200; guard++) {
    const m = re.exec(out);
    if (!m) break;
    const open = m.index + m[0].length - 1;
    let depth = 0;
    let end = -1;
    for (let i = open; i < out.length; i++) {
      if (out[i] === "\\") {
        i++;
        continue;
      }
      if (out[i] === "{") depth++;
      else if (out[i] === "}" && --depth === 0) {
        end = i;
        break;
      }
    }
    if (end < 0) {
      out = out.slice(0, m.index) + out.slice(m.index + m[0].length); // unbalanced: drop the command
      continue;
    }
    out = out.slice(0, m.index) + f(out.slice(open + 1, end)) + out.slice(end + 1);
  }
  return out;
}

/** Plain-text math people and models write: sqrt(2), pi, inf, x**2. */
function asciiToLatex(s: string): string {
  let out = s.replace(/\*\*/g, "^");
  out = out.replace(/(?<![\\a-zA-Z])sqrt\s*\(([^()]*)\)/g, "\\sqrt{$1}");
  out = out.replace(/(?<![\\a-zA-Z])sqrt\s*(?=[{\d])/g, "\\sqrt");
  out = out.replace(/(?<![\\a-zA-Z])pi(?![a-zA-Z])/g, "\\pi ");
  out = out.replace(/(?<![\\a-zA-Z])(?:infinity|inf)(?![a-zA-Z])/gi, "\\infty ");
  out = out
    .replace(/(?<![\\])∞/g, "\\infty ")
    .replace(/π/g, "\\pi ")
    .replace(/√/g, "\\sqrt");
  out = out
    .replace(/(?<=\d)\s*\*\s*(?=[\d(\\a-zA-Z])/g, "\\cdot ")
    .replace(/(?<=[)a-zA-Z])\s*\*\s*/g, "\\cdot ");
  return out.replace(/≤/g, "\\le ").replace(/≥/g, "\\ge ").replace(/≠/g, "\\ne ").replace(/−/g, "-");
}

/** Normalise one answer string (gold or prediction). Never throws. */
export function normalizeAnswer(raw: string): NormalizedAnswer {
  let s = cleanAnswer(String(raw ?? ""));
  const boxed = /^\\(?:boxed|fbox)\b/.test(s) ? lastBoxed(s) : null;
  if (boxed !== null) s = cleanAnswer(boxed);
  s = s.replace(/\n/g, " ");
  // Doubled backslashes from JSON-escaped text ("\\\\frac" for "\\frac"); matrices keep their row breaks.
  if (!s.includes("matrix") && !s.includes("{array}")) s = s.replace(/\\\\(?=[a-zA-Z])/g, "\\");
  // Written relations and joins: >=, <=, !=, "a or b", "a \text{ and } b" (a list).
  s = s.replace(/>=/g, "\\ge ").replace(/<=/g, "\\le ").replace(/!=/g, "\\ne ");
  s = s.replace(/,?\s*\\text\s*\{\s*(?:and|or)\s*\}/g, ",");
  s = s.replace(/(?<![a-zA-Z\\])(?:,?\s*(?:and|or))(?![a-zA-Z])/g, ",");
  // Negative thin space and {,} thousands separators: 16,\!386.20 and 14{,}916.
  s = s.replace(/\\!\s*/g, "").replace(/\s*\{\s*,\s*\}/g, ",");
  // Spacing and sizing commands.
  s = s.replace(/\\(?:left|right|bigl|bigr|Bigl|Bigr|biggl|biggr|big|Big|bigg|Bigg)(?![a-zA-Z])\s*/g, "");
  s = s.replace(/\\(?:displaystyle|textstyle|limits|nolimits)(?![a-zA-Z])/g, "");
  s = s
    .replace(/\\\\|\\[!,;:> ]/g, (m) => (m === "\\\\" ? m : " "))
    .replace(/\\q?quad(?![a-zA-Z])/g, " ")
    .replace(/~/g, " ");
  s = s.replace(/\\[dt]frac(?![a-zA-Z])/g, "\\frac").replace(/\\[dt]binom(?![a-zA-Z])/g, "\\binom");
  s = s.replace(/\\(?:leqslant|leq)(?![a-zA-Z])/g, "\\le").replace(/\\(?:geqslant|geq)(?![a-zA-Z])/g, "\\ge");
  s = s.replace(/\\neq(?![a-zA-Z])/g, "\\ne");
  // Degrees: 30^\circ, 30^{\circ}, 30°, 30\degree name the unit of an angle and are dropped, except
  // inside a trigonometric function, where the engine reads ^\circ as a conversion to radians.
  s = s.replace(/\^\s*\{?\s*\\circ\s*\}?|°|\\degree(?![a-zA-Z])/g, TRIG.test(s) ? "^\\circ" : "");
  // Thousands separator written as {,} in LaTeX.
  s = s.replace(/(\d)\{,\}(?=\d{3})/g, "$1");
  // Dollars: \$5, $5 left over, "5 dollars" (the unit list below).
  s = s.replace(/\\\$/g, "").replace(/\$/g, "");
  // Percent words: "28 pct", "28 percentage", "\\text{percent}".
  s = s
    .replace(/\\text\{\s*(percentage|percent|pct)\s*\}/g, "\\%")
    .replace(/\s*\b(?:percentage|percent|pct)\b/g, "\\%");
  // Percent: note it, strip it.
  let percent = false;
  if (/(?:\\%|%|\s+percent)\s*$/i.test(s)) {
    percent = true;
    s = s.replace(/(?:\\%|%|\s+percent)\s*$/i, "");
  }
  // \text{...}-like wrappers become their content, padded so units after a value are separable.
  for (const cmd of [
    "text",
    "textbf",
    "textit",
    "textrm",
    "mbox",
    "mathrm",
    "mathbf",
    "mathit",
    "textnormal",
  ]) {
    s = replaceCommand(s, cmd, (c) => ` ${c} `);
  }
  s = asciiToLatex(s).replace(/\s+/g, " ").trim();
  // "x \in (1, 2]" names the set.
  s = s.replace(/^(?:[a-zA-Z]|\\[a-zA-Z]+)\s*\\in(?![a-zA-Z])\s*/, "");
  // Units after a value (only when something remains before them).
  const unit = UNIT_RE.exec(s);
  if (unit && /[0-9a-zA-Z})\]]$/.test(s.slice(0, unit.index))) s = s.slice(0, unit.index).trim();
  // Any plain words after a number are a unit too ("18 apples", "7 more marbles").
  const counted = /^([-+]?\d[\d,]*(?:\.\d+)?)\s+[a-zA-Z][a-zA-Z\s.'-]*$/.exec(s);
  if (counted) s = counted[1];
  if (/(?:\\%|%)\s*$/.test(s)) {
    percent = true;
    s = s.replace(/(?:\\%|%)\s*$/, "").trim();
  }
  // Thousands separators in a lone number: 1,000 or -12,345.67 (not lists such as [1,100]).
  if (/^[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$/.test(s)) s = s.replace(/,/g, "");
  s = s.replace(/\.$/, "").trim();
  return { latex: s, percent };
}

/** A loose textual key: lower case, no spaces, no braces; used for text answers and as a fast path. */
export function textKey(latex: string): string {
  return latex
    .toLowerCase()
    .replace(/\\text\{([^{}]*)\}/g, "$1")
    .replace(/[\s{}]/g, "");
}
