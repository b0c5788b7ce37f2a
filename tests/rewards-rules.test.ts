import { describe, expect, it } from "vitest";
import {
  accuracyReward,
  combineRewards,
  consistencyReward,
  formatReward,
  REWARD_FUNCTIONS,
} from "../src/rl/rewards.ts";
import type { TaskExample } from "../src/tasks/types.ts";

const cd: TaskExample = {
  id: "cd",
  prompt: "reach 13 with 3 5 2",
  answer: "3*5-2",
  meta: { task: "countdown", numbers: [3, 5, 2], target: 13 },
};
const ar: TaskExample = {
  id: "ar",
  prompt: "calc 7+3*2-4",
  answer: "9",
  meta: { task: "arithmetic", expression: "7+3*2-4" },
};
const other: TaskExample = { id: "x", prompt: "?", answer: "1", meta: {} };

describe("accuracy reward", () => {
  it("verifies the last <answer> with the example's task", () => {
    expect(accuracyReward("<think>x</think><answer>3*5-2</answer>", cd)).toBe(1);
    expect(accuracyReward("<think>x</think><answer> (5*3)-2 </answer>", cd)).toBe(1);
    expect(accuracyReward("<think>x</think><answer>3*5+2</answer>", cd)).toBe(0);
    expect(accuracyReward("<think>x</think><answer>5+5+3</answer>", cd)).toBe(0);
    expect(accuracyReward("<answer>1</answer><answer>3*5-2</answer>", cd)).toBe(1);
    expect(accuracyReward("<think>3*5-2</think>", cd)).toBe(0);
    expect(accuracyReward("<think>7+6-4=9</think><answer>9</answer>", ar)).toBe(1);
    expect(accuracyReward("<think>7+6-4=9</think><answer>16</answer>", ar)).toBe(0);
    expect(accuracyReward("<answer>1</answer>", other)).toBeNull();
  });
});

describe("format reward", () => {
  it("is 1 only for <think>...</think><answer>...</answer> with optional whitespace", () => {
    expect(formatReward("<think>1+2=3</think><answer>3</answer>", ar)).toBe(1);
    expect(formatReward(" <think>\n1+2=3\n</think>\n<answer>\n3\n</answer>\n", ar)).toBe(1);
    expect(formatReward("<think>a</think><answer>b</answer> trailing", ar)).toBe(0);
    expect(formatReward("<answer>3</answer>", ar)).toBe(0);
    expect(formatReward("<think>1+2=3", ar)).toBe(0);
    expect(formatReward("<think>a<think>b</think><answer>3</answer>", ar)).toBe(0);
    expect(formatReward("<think>a</think><answer>3</answer><answer>4</answer>", ar)).toBe(0);
    expect(formatReward("<answer>3</answer><think>a</think>", ar)).toBe(0);
  });
});

describe("consistency reward", () => {
  it("is the share of the think text written in the trace language", () => {
    expect(
      consistencyReward("<think>(3+5)*2=8*2=16 no;3*5-2=15-2=13 yes</think><answer>3*5-2</answer>", cd),
    ).toBe(1);
    expect(consistencyReward("<think>5*4=17 wait chk ok none</think><answer>1</answer>", cd)).toBe(1);
    // "hmm" is 3 of 9 characters off-language (not a trace word; the space after it is on-language).
    expect(consistencyReward("<think>hmm 1+2=3</think><answer>3</answer>", ar)).toBeCloseTo(6 / 9, 10);
    expect(consistencyReward("<think>yesno</think><answer>3</answer>", ar)).toBe(0); // not whole words
    expect(consistencyReward("<think>1?2</think>", ar)).toBeCloseTo(2 / 3, 10);
    expect(consistencyReward("<think></think><answer>3</answer>", ar)).toBe(0);
    expect(consistencyReward("<answer>3</answer>", ar)).toBe(0);
    expect(consistencyReward("<think>1</think>", other)).toBeNull();
  });
});

describe("combineRewards", () => {
  it("sums weighted rewards, skipping nulls", () => {
    const r = combineRewards([
      { fn: accuracyReward, weight: 1 },
      { fn: formatReward, weight: 0.5 },
    ]);
    expect(r("<think>x</think><answer>3*5-2</answer>", cd)).toBe(1.5);
    expect(r("<think>x</think><answer>3*5+2</answer>", cd)).toBe(0.5);
    expect(r("<answer>3*5-2</answer>", cd)).toBe(1);
    expect(r("<think>x</think><answer>1</answer>", other)).toBe(0.5); // accuracy n/a, format applies
    expect(combineRewards([{ fn: accuracyReward, weight: 1 }])("<answer>1</answer>", other)).toBeNull();
    expect(() => combineRewards([{ fn: formatReward, weight: Number.NaN }])).toThrow(/finite/);
    expect(Object.keys(REWARD_FUNCTIONS).sort()).toEqual(["accuracy", "consistency", "format"]);
  });
});
