import { describe, expect, it } from "vitest";
import {
  braceGroup,
  extractAnswer,
  extractChoiceLetter,
  lastBoxed,
  stripThink,
  toChoiceLetter,
} from "../src/eval/extract.ts";

describe("stripThink", () => {
  it("removes complete think blocks", () => {
    expect(stripThink("<think>\\boxed{1}</think>The result is \\boxed{2}.")).toBe(
      "The result is \\boxed{2}.",
    );
    expect(stripThink("a<think>x</think>b<think>y</think>c")).toBe("abc");
  });
  it("removes an unterminated leading block (template opened <think>)", () => {
    expect(stripThink("so \\boxed{7} maybe\n</think>\nFinal: \\boxed{8}")).toBe("\nFinal: \\boxed{8}");
  });
  it("drops everything after an opened but unclosed <think>", () => {
    expect(stripThink("Intro <think> reasoning \\boxed{3} and then cut")).toBe("Intro ");
  });
});

describe("lastBoxed", () => {
  it("handles nested braces and takes the last one", () => {
    expect(lastBoxed("\\boxed{1} then \\boxed{\\frac{a}{b^{2}}}")).toBe("\\frac{a}{b^{2}}");
    expect(braceGroup("{a{b}c}d", 0)).toEqual({ content: "a{b}c", end: 7 });
  });
  it("reads \\boxed 5 and \\fbox{}", () => {
    expect(lastBoxed("so it is \\boxed 5.")).toBe("5");
    expect(lastBoxed("\\fbox{12}")).toBe("12");
  });
  it("keeps escaped braces inside and skips an unclosed last box", () => {
    expect(lastBoxed("\\boxed{\\{1,2\\}}")).toBe("\\{1,2\\}");
    expect(lastBoxed("\\boxed{4} and \\boxed{5")).toBe("4");
    expect(lastBoxed("no box here")).toBeNull();
    expect(lastBoxed("\\boxedx{3}")).toBeNull();
  });
});

describe("extractAnswer order", () => {
  it("prefers boxed over everything else", () => {
    expect(extractAnswer("The answer is 4.\n#### 5\n\\boxed{6}")).toEqual({ answer: "6", method: "boxed" });
  });
  it("reads #### n", () => {
    expect(extractAnswer("Sum is 12.\n#### 1,234")).toEqual({ answer: "1,234", method: "hash" });
  });
  it("reads 'the answer is' and 'final answer:'", () => {
    expect(extractAnswer("So the answer is $\\frac{1}{2}$. Done.")).toEqual({
      answer: "\\frac{1}{2}",
      method: "answer_is",
    });
    expect(extractAnswer("Final Answer: 3.14.")).toEqual({ answer: "3.14", method: "answer_is" });
    expect(extractAnswer("The final answer is\n\n$$x = 2$$")).toEqual({
      answer: "x = 2",
      method: "answer_is",
    });
    expect(extractAnswer("the answer is 42. Let me double-check")).toEqual({
      answer: "42",
      method: "answer_is",
    });
  });
  it("reads <answer> tags", () => {
    expect(extractAnswer("<think>3+4</think><answer> 7 </answer>")).toEqual({
      answer: "7",
      method: "answer_tag",
    });
  });
  it("falls back to a choice letter", () => {
    expect(extractAnswer("I pick **C**")).toEqual({ answer: "C", method: "choice" });
    expect(extractAnswer("Option (B) fits best")).toEqual({ answer: "B", method: "choice" });
  });
  it("ignores answers inside the reasoning and reports none", () => {
    expect(extractAnswer("<think>\\boxed{9}</think>no idea")).toEqual({ answer: null, method: "none" });
    expect(extractAnswer("")).toEqual({ answer: null, method: "none" });
  });
});

describe("choice letters", () => {
  it("finds written letters", () => {
    expect(extractChoiceLetter("Answer: D")).toBe("D");
    expect(extractChoiceLetter("blah\nC\n")).toBe("C");
    expect(extractChoiceLetter("the answer is a number")).toBeNull();
    expect(extractChoiceLetter("Answer: E")).toBeNull();
  });
  it("reduces an extracted answer to a letter", () => {
    expect(toChoiceLetter("(C)")).toBe("C");
    expect(toChoiceLetter("\\text{B}")).toBe("B");
    expect(toChoiceLetter("D) 42 kg")).toBe("D");
    expect(toChoiceLetter("Option A")).toBe("A");
    expect(toChoiceLetter("42")).toBeNull();
    expect(toChoiceLetter("Because")).toBeNull();
  });
});
