// The reader of Math-Verify-style pytest tables used by scripts/mathverify-agreement.ts, on a small
// file written here in that layout (no Math-Verify code or data): literals, escapes, settings.
import { describe, expect, it } from "vitest";
import { readCases } from "../scripts/mathverify-cases.ts";
import { checkAnswer } from "../src/eval/math-verify.ts";

const PY = String.raw`
import pytest
from tests.helpers import compare_strings

@pytest.mark.parametrize(
    "gold,pred,expected",
    [
        # a comment
        ("$4$", "so it is $4$", 1),
        (r"$\frac{1}{2}$", "half: \\frac{1}{2}", 1),
        ("$\text{ab}$", 'x', 0),
        (
            "$5$",
            "first" " second $6$",
            0,
        ),
    ],
)
def test_first(gold, pred, expected):
    assert compare_strings(gold, pred, match_types=["latex"]) == expected


@pytest.mark.parametrize(
    "gold, pred, expected, precision",
    [
        ("$\\frac{1}{3}$", "$0.33$", 1, 2),
        (f"{math.sqrt(4):.3f}", "$2$", 1, 6),
    ],
)
def test_second(gold, pred, expected, precision):
    assert compare_strings(gold, pred, match_types=["latex", "expr"], precision=precision) == expected
`;

describe("readCases", () => {
  const { cases, skipped } = readCases("t.py", PY);
  it("reads every row with Python's string rules", () => {
    expect(skipped).toEqual([]);
    expect(cases.map((c) => [c.gold, c.pred, c.expected])).toEqual([
      ["$4$", "so it is $4$", true],
      ["$\\frac{1}{2}$", "half: \\frac{1}{2}", true],
      ["$\text{ab}$", "x", false],
      ["$5$", "first second $6$", false],
      ["$\\frac{1}{3}$", "$0.33$", true],
      ["2.000", "$2$", true],
    ]);
    expect(cases[0].line).toBe(9);
  });
  it("takes the settings from the test function", () => {
    expect(cases[0].settings).toMatchObject({ targets: ["latex"], precision: 6, boxedFirst: true });
    expect(cases[4].settings).toMatchObject({ targets: ["latex", "expr"], precision: 2 });
    expect(cases[5].settings.precision).toBe(6);
  });
  it("r1lab's checker agrees on these rows", () => {
    for (const c of cases)
      expect(checkAnswer(c.gold, c.pred, c.settings), `${c.gold} / ${c.pred}`).toBe(c.expected);
  });
});
