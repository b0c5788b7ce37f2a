import { describe, expect, it } from "vitest";
import { numbersEqual } from "../src/eval/cas.ts";
import { verifyMath } from "../src/eval/math-equiv.ts";
import { normalizeAnswer } from "../src/eval/math-normalize.ts";
import { parseNode } from "../src/eval/math-parse.ts";

type Case = [gold: string, prediction: string, equal: boolean];

function check(cases: Case[]) {
  for (const [g, p, want] of cases) {
    expect(verifyMath(g, p), `verifyMath(${JSON.stringify(g)}, ${JSON.stringify(p)})`).toBe(want);
  }
}

describe("normalizeAnswer", () => {
  it("strips spacing, sizing, units, dollars, degrees and marks percent", () => {
    expect(normalizeAnswer("\\left( 1,\\! 2 \\right)").latex).toBe("( 1,2 )");
    expect(normalizeAnswer("5\\text{ cm}^2").latex).toBe("5");
    expect(normalizeAnswer("\\$1,000").latex).toBe("1000");
    expect(normalizeAnswer("12 dollars").latex).toBe("12");
    expect(normalizeAnswer("45^{\\circ}").latex).toBe("45");
    expect(normalizeAnswer("50\\%")).toEqual({ latex: "50", percent: true });
    expect(normalizeAnswer("\\dfrac{3}{4}").latex).toBe("\\frac{3}{4}");
    expect(normalizeAnswer("$x \\in [0,1]$").latex).toBe("[0,1]");
  });
  it("keeps a comma list that is not a thousands-separated number", () => {
    expect(normalizeAnswer("[1,100]").latex).toBe("[1,100]");
    expect(normalizeAnswer("12,34").latex).toBe("12,34");
  });
});

describe("parseNode", () => {
  it("finds sets, tuples, intervals, relations and text", () => {
    expect(parseNode("\\{1,2\\}").kind).toBe("list");
    expect(parseNode("(1,2]")).toMatchObject({ kind: "interval", loOpen: true, hiOpen: false });
    expect(parseNode("(1,2,3)")).toMatchObject({ kind: "list", ordered: true });
    expect(parseNode("x > 2")).toMatchObject({ kind: "interval", loOpen: true, hiOpen: true });
    expect(parseNode("y = 2x+1")).toMatchObject({ kind: "relation", ops: ["="] });
    expect(parseNode("no solution").kind).toBe("text");
    expect(parseNode("xy").kind).toBe("scalar");
  });
});

describe("verifyMath", () => {
  it("numbers: commas, decimals, fractions, radicals, pi", () => {
    check([
      ["1000", "1,000", true],
      ["1000", "1{,}000", true],
      ["0.5", "\\frac{1}{2}", true],
      ["\\frac12", "\\dfrac{1}{2}", true],
      ["\\dfrac12", "0.5", true],
      ["\\frac{1}{2}", "\\tfrac12", true],
      ["\\frac{\\sqrt{2}}{2}", "\\frac{1}{\\sqrt{2}}", true],
      ["2\\sqrt{2}", "\\sqrt{8}", true],
      ["4\\sqrt{3}", "\\sqrt{48}", true],
      ["\\sqrt{3}", "1.7320508", true],
      ["\\pi", "3.14159265", true],
      ["\\pi", "3.14", false],
      ["\\pi/2", "pi/2", true],
      ["\\sqrt{2}", "sqrt(2)", true],
      ["2 \\frac{1}{2}", "2.5", true],
      ["-3", "- 3", true],
      ["3", "-3", false],
      ["2", "3", false],
      ["18", "18.", true],
      ["2+3i", "3i+2", true],
      ["\\infty", "inf", true],
    ]);
  });
  it("tolerance is relative 1e-6; integers are exact", () => {
    check([
      ["\\frac{1}{3}", "0.333333", true],
      ["\\frac{1}{3}", "0.333", false],
      ["1000000", "1000001", false],
      ["123456789012345678901", "123456789012345678901", true],
      ["123456789012345678901", "123456789012345678902", false],
      ["0", "0.0", true],
      ["0", "0.001", false],
    ]);
    expect(numbersEqual({ re: 1, im: 0 }, { re: 1 + 5e-7, im: 0 })).toBe(true);
    expect(numbersEqual({ re: 1, im: 0 }, { re: 1 + 5e-6, im: 0 })).toBe(false);
  });
  it("a gold set accepts an inequality with allowSetRelationComp", () => {
    expect(verifyMath("(3,\\infty)", "x>3", { allowSetRelationComp: true })).toBe(true);
    expect(verifyMath("[-2,7]", "-2 \\le x \\le 7", { allowSetRelationComp: true })).toBe(true);
    expect(verifyMath("[-2,7]", "-2 \\le x < 7", { allowSetRelationComp: true })).toBe(false);
  });
  it("percentages, units, text, degrees", () => {
    check([
      ["50\\%", "0.5", true],
      ["50\\%", "50", false], // Math-Verify: 50% is 0.5
      ["0.5", "50\\%", true],
      ["50", "50\\%", false],
      ["28\\%", "28 percent", true],
      ["50", "0.5", false],
      ["10\\%", "0.1", true],
      ["5", "5\\text{ cm}", true],
      ["5\\text{ cm}", "5", true],
      ["5", "\\$5", true],
      ["5", "5 dollars", true],
      ["1000", "1,000 dollars", true],
      ["18", "18 apples", true],
      ["1234", "$1,234.00", true],
      ["\\$1,000", "1000", true],
      ["5", "5 \\text{ units}^2", true],
      ["30^\\circ", "30", true],
      ["30", "30^{\\circ}", true],
      ["3", "3\\!", true],
      ["10", "10\\,", true],
    ]);
  });
  it("intervals, sets, tuples", () => {
    check([
      ["(1,2]", "(1, 2]", true],
      ["(1,2]", "[1,2]", false],
      ["\\{1,2\\}", "\\{2,1\\}", true],
      ["\\{1,2\\}", "\\{1,2,3\\}", false],
      ["1,2", "\\{2, 1\\}", true],
      ["1,2", "1", false],
      ["(1,2)", "(2,1)", false],
      ["(1,2)", "\\left( 1, 2 \\right)", true],
      ["(-\\infty, 3)", "x < 3", false], // a gold set takes an inequality only with allowSetRelationComp
      ["x < 3", "(-\\infty, 3)", true],
      ["x \\ge 2", "[2, \\infty)", true],
      ["(3,\\infty)", "x>3", false],
      ["x>3", "(3,\\infty)", true],
      ["x>3", "x \\ge 3", false],
      ["(-\\infty, 1) \\cup (2, \\infty)", "(2,\\infty) \\cup (-\\infty,1)", true],
      ["(-\\infty, 1) \\cup (2, \\infty)", "(-\\infty, 1]\\cup (2, \\infty)", false],
      ["\\emptyset", "\\varnothing", true],
      ["x \\in (1,2]", "(1,2]", true],
    ]);
  });
  it("algebraic expressions", () => {
    check([
      ["3x", "2x+x", true],
      ["\\frac{x}{2}", "0.5x", true],
      ["\\frac{x^2-1}{x-1}", "x+1", true],
      ["(x+1)^2", "x^2+2x+1", true],
      ["x^2", "y^2", false],
      ["2x", "x", false],
    ]);
  });
  it("equations: gold decides; assignments and chains", () => {
    check([
      ["3", "x = 3", true],
      ["3", "x = 1 + 2 = 3", true],
      ["x=3", "3", true],
      ["x=3", "x = 3", true],
      ["x=3", "y = 3", false],
      ["3", "2x+1=7", false], // restates the problem
      ["x=3", "x+2=5", true], // Math-Verify compares lhs - rhs: x - 3 both
      ["y = 2x+1", "y=1+2x", true],
      ["y = 2x+1", "2x + 1", true],
      ["y=2x+1", "2x - y = -1", true],
      ["1, 2", "x=1, x=2", true],
      ["1, 2", "x=1 \\text{ or } x=2", true],
    ]);
  });
  it("text answers", () => {
    check([
      ["\\text{Evelyn}", "Evelyn", true],
      ["Evelyn", "evelyn", true],
      ["Evelyn", "Bob", false],
      ["\\text{(C)}", "C", true],
      ["\\begin{pmatrix}1\\\\2\\end{pmatrix}", "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", true],
      ["\\begin{pmatrix}1\\\\2\\end{pmatrix}", "\\begin{pmatrix}2\\\\1\\end{pmatrix}", false],
    ]);
  });
  it("competition-style spellings", () => {
    check([
      ["\\left[ -\\frac{1}{2}, 3 \\right)", "[-0.5,3)", true],
      ["2, -3", "-3, 2", true],
      ["\\$18.90", "18.9", true],
      ["x^2+7x+10", "(x+2)(x+5)", true],
      ["\\sqrt{5}", "5^{1/2}", true],
      ["\\frac{1}{4}", "25\\%", true],
      ["y = -\\frac{3}{4}x + 2", "y=-0.75x+2", true],
      ["\\text{even}", "Even", true],
      ["\\text{even}", "odd", false],
      ["5", "5 \\text{ or } 6", false],
      ["\\{-1, 1\\}", "\\pm 1", true],
      ["1", "\\pm 1", false],
      ["\\cos 60^\\circ", "\\frac12", true], // degrees inside a trig function are converted
      ["\\sin 30", "0.5", false],
      ["8", "x^3", false],
    ]);
  });
  it("never throws on garbage", () => {
    const junk = [
      "",
      "\\frac{",
      "}{",
      "\\\\\\",
      "((((",
      "\\boxed{",
      "=",
      ",,,",
      "\\left(",
      "x==",
      "1/0",
      "\\sqrt{-}",
      "NaN",
      "\u0000",
    ];
    for (const a of junk) {
      for (const b of junk) expect(typeof verifyMath(a, b)).toBe("boolean");
      expect(verifyMath("1", a)).toBe(false);
    }
    expect(verifyMath(null as unknown as string, "1")).toBe(false);
    expect(verifyMath("1", "1".repeat(5000))).toBe(false);
  });
});
