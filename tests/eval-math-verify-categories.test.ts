// r1lab's own examples for each kind of answer Math-Verify handles (issue 16's list): extraction
// without \boxed, what wins when several candidates exist, equations, inequalities, sets, matrices
// and number formats. Each row: completion, gold, expected verdict.
import { describe, expect, it } from "vitest";
import { extractMath } from "../src/eval/math-extract.ts";
import { checkMath } from "../src/eval/math-verify.ts";

type Row = [completion: string, gold: string, equal: boolean];

function check(rows: Row[], opts = {}) {
  for (const [c, g, want] of rows) {
    const r = checkMath(c, g, opts);
    expect(
      r.correct,
      `checkMath(${JSON.stringify(c)}, ${JSON.stringify(g)}) extracted ${JSON.stringify(r.extracted)}`,
    ).toBe(want);
  }
}

describe("extraction without \\boxed", () => {
  it("answer words, the last math span, currency, thousands", () => {
    check([
      ["Answer $ 42 $", "42", true],
      ["Answer \\( 7-2 \\)", "5", true],
      ["So we conclude that $y \\leq 4$ holds.", "y \\le 4", true],
      ["First $a = 3$, then $b = 17$.", "17", true],
      ["The ticket costs $12.50 in total.", "12.5", true],
      ["She paid 1,250.75€ for it.", "1250.75", true],
      ["the total is 3 400 apples", "3400", true],
      ["no digits here XQ7Z", "7", false],
    ]);
  });
  it("'Final Answer: ... is N' keeps only N, and no letter is read from math text", () => {
    check([
      ["Final Answer: The smallest $k$ is 12.", "12", true],
      ["Q(B) = 3/4 so Q(B) = 3/4 in the end.", "3/4", true],
    ]);
    expect(extractMath("Thus P(A) = 5/7").answer).toBe("5/7");
  });
  it("a later final statement beats an earlier box only when it is the final answer phrase", () => {
    check([
      ["First guess \\boxed{5}. Final Answer: The final answer is $8$. I hope it is correct.", "8", true],
      ["\\boxed{5} and then more text with 8", "5", true],
      ["So \\boxed{5}.\n\nFinal Answer: The number of ways is 8.", "8", true],
      ["So \\boxed{5}.\n\nFinal Answer: The number of ways is 8.", "5", false],
    ]);
  });
  it("several boxes are one answer", () => {
    check([
      ["The roots are \\boxed{2}, \\boxed{5}", "2, 5", true],
      ["$\\boxed{(1,4)}$ and $\\boxed{(4,1)}$", "(1,4), (4,1)", true],
      ["The roots are \\boxed{2}, \\boxed{5}", "2", false],
    ]);
  });
  it("a gold that is a solution text is extracted too", () => {
    check([["so the answer is 9", "We add them up and get $\\boxed{9}$.", true]]);
    check([["so the answer is 10", "We add them up and get $\\boxed{9}$.", false]]);
  });
  it("unclosed boxes and delimiters extract nothing bogus", () => {
    expect(extractMath("\\boxed{12").answer).toBe(null);
    expect(extractMath("$$ x").answer).toBe(null);
  });
});

describe("equations", () => {
  it("chains, assignments, scaled equations, \\approx", () => {
    check([
      ["$t = 2+3+4 = 9$", "t = 9", true],
      ["$g(x)=5$", "5", true],
      ["$P:Q = 5$", "5", true],
      ["$(a,b)=(4,1)$", "(4,1)", true],
      ["$(4,1)$", "(a,b)=(4,1)", true],
      ["$m=2, n=7$", "2, 7", true],
      ["$3x+6y=9$", "x+2y=3", true],
      ["$3x+6y=9$", "x+2y=4", false],
      ["$r \\approx 6$", "6", true],
      ["$r = 2/3 \\approx 0.7$", "2/3", true],
      ["$2w + q$", "5 = 2w+q", false],
      ["$5 = 2w + q$", "2w+q", true], // a predicted equation counts through its right side
      ["$2x + 1 = 9$", "4", false],
      ["$4$", "1 = \\qqq = y = 4", true], // a chain with an unreadable side: its last side
    ]);
  });
});

describe("inequalities and intervals", () => {
  it("flips, negations, intervals, unions", () => {
    check([
      ["$-y < -2$", "y > 2", true],
      ["$2 \\ge y$", "y \\le 2", true],
      ["$y < 2$", "y > 2", false],
      ["$(2, 5)$", "2 < g(t) < 5", true],
      ["$[1, 3) \\cup (4, \\infty)$", "[1,3) \\cup (4,\\infty)", true],
      ["$(4, \\infty) \\cup [1, 3)$", "[1,3) \\cup (4,\\infty)", true],
      ["$[1, 3] \\cup (4, \\infty)$", "[1,3) \\cup (4,\\infty)", false],
    ]);
  });
});

describe("sets and tuples", () => {
  it("repeats, ';', 'or', \\pm", () => {
    check([
      ["$\\{4, 4, 9\\}$", "\\{4, 9\\}", true],
      ["$-3; 0; 3$", "\\{-3, 0, 3\\}", true],
      ["$(2,6)or(6,2)$", "(6,2),(2,6)", true],
      ["$x = 5 \\text{ or } x = -1$", "-1, 5", true],
      ["$\\pm 7$", "\\{-7, 7\\}", true],
      ["$\\pm 7$", "7", false],
      ["$(1,2,3)$", "(3,2,1)", false],
    ]);
  });
});

describe("matrices", () => {
  it("environments, symbolic entries, float tolerance, arithmetic", () => {
    check([
      [
        "$\\begin{bmatrix}2 & 1 \\\\ 0 & 3\\end{bmatrix}$",
        "\\begin{pmatrix}2 & 1 \\\\ 0 & 3\\end{pmatrix}",
        true,
      ],
      [
        "$\\left[\\begin{array}{cc}2 & 1 \\\\ 0 & 3\\end{array}\\right]$",
        "\\begin{pmatrix}2 & 1 \\\\ 0 & 3\\end{pmatrix}",
        true,
      ],
      ["$\\begin{pmatrix}2y & y^2\\end{pmatrix}$", "\\begin{pmatrix}y+y & y\\cdot y\\end{pmatrix}", true],
      [
        "$\\begin{pmatrix}0.333333 \\\\ 0.25\\end{pmatrix}$",
        "\\begin{pmatrix}\\frac13 \\\\ \\frac14\\end{pmatrix}",
        true,
      ],
      [
        "$\\begin{pmatrix}1 & 1 \\\\ 0 & 1\\end{pmatrix} + \\begin{pmatrix}1 & 0 \\\\ 0 & 2\\end{pmatrix}$",
        "\\begin{pmatrix}2 & 1 \\\\ 0 & 3\\end{pmatrix}",
        true,
      ],
      [
        "$\\begin{pmatrix}2 & 1 \\\\ 0 & 4\\end{pmatrix}$",
        "\\begin{pmatrix}2 & 1 \\\\ 0 & 3\\end{pmatrix}",
        false,
      ],
    ]);
  });
});

describe("number formats", () => {
  it("decimal commas, \\! separators, doubled backslashes, percent", () => {
    check([
      ["It weighs 2500,5", "2500.5", true],
      ["$\\boxed{27,\\!041.10}$", "27041.10", true],
      ["$\\boxed{5{,}310}$", "5310", true],
      ["$\\\\frac{3}{8}$", "0.375", true],
      ["$\\\\left( 2, \\\\frac{\\\\pi}{3} \\\\right)$", "(2, \\frac{\\pi}{3})", true],
      ["$45\\%$", "0.45", true],
      ["$45$", "45\\%", false],
      ["$\\frac{2}{3}$", "0.666667", true],
      ["$\\frac{2}{3}$", "0.67", false],
    ]);
    check([["$\\frac{2}{3}$", "0.67", true]], { precision: 2 });
  });
});
