import { describe, expect, it } from "vitest";
import {
  ExprError,
  evaluate,
  formatExpr,
  formatRational,
  numbersUsed,
  parseExpr,
  reductionChain,
} from "../src/tasks/expr.ts";
import { TaskRng } from "../src/engine/rng.ts";

const val = (s: string) => formatRational(evaluate(s));

describe("expression evaluator", () => {
  it("follows precedence, associativity and parentheses", () => {
    expect(val("7+3*2-4")).toBe("9");
    expect(val("(7+3)*2-4")).toBe("16");
    expect(val("10-4-3")).toBe("3");
    expect(val("10-(4-3)")).toBe("9");
    expect(val("2*3+4*5")).toBe("26");
    expect(val(" 12 / 4 * 3 ")).toBe("9");
    expect(val("-3*3")).toBe("-9");
    expect(val("4-(-3)")).toBe("7");
  });

  it("is exact over the rationals", () => {
    expect(val("7/2")).toBe("7/2");
    expect(val("7/2*2")).toBe("7");
    expect(val("1/3+1/6")).toBe("1/2");
    expect(val("(1+2)/3")).toBe("1");
    expect(val("99999999999*99999999999")).toBe("9999999999800000000001");
  });

  it("rejects bad syntax with the column", () => {
    const cases: [string, number][] = [
      ["3+*4", 2],
      ["(3+4", 4],
      ["3+4)", 3],
      ["3 4", 2],
      ["3x4", 1],
      ["", 0],
    ];
    for (const [src, col] of cases) {
      let err: unknown;
      try {
        evaluate(src);
      } catch (e) {
        err = e;
      }
      expect(err, src).toBeInstanceOf(ExprError);
      expect((err as ExprError).pos, src).toBe(col);
    }
    expect(() => evaluate("3+*4")).toThrow(/column 2/);
    expect(() => evaluate("5/(2-2)")).toThrow(/division by zero/);
    expect(() => evaluate("1+".repeat(200))).toThrow(/too long/);
  });

  it("never evaluates JavaScript", () => {
    expect(() => evaluate("process.exit(1)")).toThrow(ExprError);
    expect(() => evaluate("2**3")).toThrow(ExprError);
    expect(() => evaluate("1e3")).toThrow(ExprError);
  });

  it("reports the numbers used, left to right", () => {
    expect(numbersUsed("(3+5)*2-3")).toEqual([3, 5, 2, 3]);
    expect(numbersUsed("-12/4")).toEqual([12, 4]);
  });

  it("prints with minimal parentheses that keep the value (random trees)", () => {
    const rng = new TaskRng(5);
    const ops = ["+", "-", "*", "/"];
    const rand = (depth: number): string =>
      depth === 0 || rng.chance(0.3)
        ? `${rng.int(1, 9)}`
        : `(${rand(depth - 1)}${rng.pick(ops)}${rand(depth - 1)})`;
    let checked = 0;
    for (let i = 0; i < 300; i++) {
      const src = rand(3);
      let v: string;
      try {
        v = val(src);
      } catch {
        continue; // division by zero
      }
      const printed = formatExpr(parseExpr(src));
      expect(val(printed), `${src} -> ${printed}`).toBe(v);
      expect(formatExpr(parseExpr(printed))).toBe(printed);
      expect(printed.length).toBeLessThanOrEqual(src.replace(/\s/g, "").length);
      checked++;
    }
    expect(checked).toBeGreaterThan(200);
    expect(formatExpr(parseExpr("((3+5))*2"))).toBe("(3+5)*2");
    expect(formatExpr(parseExpr("3+(5*2)"))).toBe("3+5*2");
    expect(formatExpr(parseExpr("8-(5-2)"))).toBe("8-(5-2)");
  });

  it("reduces one operation per step in evaluation order", () => {
    expect(reductionChain(parseExpr("7+3*2-4"))).toEqual(["7+3*2-4", "7+6-4", "13-4", "9"]);
    expect(reductionChain(parseExpr("(3+5)*2"))).toEqual(["(3+5)*2", "8*2", "16"]);
    expect(reductionChain(parseExpr("2-5+4"))).toEqual(["2-5+4", "-3+4", "1"]);
    expect(reductionChain(parseExpr("6"))).toEqual(["6"]);
  });

  it("writes a slip at the asked step and carries it on", () => {
    const parts = reductionChain(parseExpr("7+3*2-4"), { step: 1, delta: 1n });
    expect(parts).toEqual(["7+3*2-4", "7+7-4", "14-4", "10"]);
    expect(reductionChain(parseExpr("7+3*2-4"), { step: 3, delta: -2n })).toEqual([
      "7+3*2-4",
      "7+6-4",
      "13-4",
      "7",
    ]);
  });
});
