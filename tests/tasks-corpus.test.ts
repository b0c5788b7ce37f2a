import { describe, expect, it } from "vitest";
import { ArithmeticTask } from "../src/tasks/arithmetic.ts";
import {
  buildCorpus,
  corpusStats,
  countRechecks,
  DEFAULT_MIX,
  faithfulness,
  sampleStyle,
} from "../src/tasks/corpus.ts";
import { CountdownTask } from "../src/tasks/countdown.ts";
import { getSyntheticTask, SYNTHETIC_TASK_NAMES, taskForExample } from "../src/tasks/registry.ts";
import { TaskRng } from "../src/engine/rng.ts";
import { TRACE_STYLES } from "../src/tasks/types.ts";

describe("corpus", () => {
  it("follows the mix and its accuracy is the share of right-ending styles", () => {
    const items = buildCorpus({ task: new CountdownTask(), problems: 300, tracesPerProblem: 4, seed: 1 });
    expect(items).toHaveLength(1200);
    const s = corpusStats(items);
    const total = Object.values(DEFAULT_MIX).reduce((a, b) => a + b, 0);
    for (const style of TRACE_STYLES) {
      expect(Math.abs(s.byStyle[style] / 1200 - DEFAULT_MIX[style] / total), style).toBeLessThan(0.04);
    }
    const rightShare = (s.byStyle.correct + s.byStyle.recheck + s.byStyle.wait) / 1200;
    const rightGuesses = items.filter((it) => it.style === "guess" && it.correct).length;
    expect(rightGuesses / s.byStyle.guess).toBeLessThan(0.3);
    expect(s.accuracy).toBeCloseTo(rightShare + rightGuesses / 1200, 10);
    expect(s.faithful).toBeCloseTo(rightShare, 10);
    expect(Math.abs(rightShare - 0.33)).toBeLessThan(0.04);
    expect(s.wellFormed).toBeCloseTo(1 - s.byStyle.unfinished / 1200, 10);
    expect(s.maxCompletionChars).toBeLessThanOrEqual(64 + 32 + 12);
    for (const it of items)
      if (it.style !== "guess") expect(it.correct).toBe(["correct", "recheck", "wait"].includes(it.style));
  });

  it("is reproducible and takes mix overrides", () => {
    const task = new ArithmeticTask();
    const a = buildCorpus({ task, problems: 50, seed: 3 });
    expect(a).toEqual(buildCorpus({ task, problems: 50, seed: 3 }));
    const onlyRight = buildCorpus({ task, problems: 100, seed: 3, mix: { ...zeroMix(), correct: 1 } });
    expect(onlyRight.every((x) => x.style === "correct" && x.correct)).toBe(true);
    expect(() => buildCorpus({ task, problems: 5, seed: 3, mix: { slip: -1 } })).toThrow(
      /'slip' must be a number >= 0/,
    );
    expect(() => buildCorpus({ task, problems: 5, seed: 3, tracesPerProblem: 0 })).toThrow(
      /tracesPerProblem/,
    );
  });

  it("draws styles in proportion to their weights", () => {
    const rng = new TaskRng(1);
    const mix = { ...zeroMix(), slip: 1, giveUp: 3 };
    const counts = { slip: 0, giveUp: 0 } as Record<string, number>;
    for (let i = 0; i < 4000; i++) counts[sampleStyle(rng, mix)]++;
    expect(counts.slip + counts.giveUp).toBe(4000);
    expect(counts.giveUp / 4000).toBeGreaterThan(0.72);
    expect(counts.giveUp / 4000).toBeLessThan(0.78);
  });

  it("counts re-checks in the think text only", () => {
    expect(countRechecks("<think>1+2=3 wait 1+2=3 yes chk 3-2=1 ok</think><answer>1+2</answer>")).toBe(2);
    expect(countRechecks("<think>1+2=3 yes</think><answer>chk wait</answer>")).toBe(0);
    expect(countRechecks("no tags at all chk")).toBe(0);
    expect(countRechecks("<think>checking waits")).toBe(0);
  });

  it("dispatches faithfulness by the example's task", () => {
    const [e] = getSyntheticTask("arithmetic").generate("test", 1, 0);
    const good = getSyntheticTask("arithmetic").trace(e, new TaskRng(0), "correct");
    expect(faithfulness(good, e).faithful).toBe(true);
    expect(() => faithfulness(good, { ...e, meta: {} })).toThrow(/no known meta.task/);
  });
});

describe("registry", () => {
  it("knows countdown and arithmetic and names the known ones on a typo", () => {
    expect([...SYNTHETIC_TASK_NAMES].sort()).toEqual(["arithmetic", "countdown"]);
    expect(getSyntheticTask("countdown").name).toBe("countdown");
    expect(() => getSyntheticTask("countdwn")).toThrow(
      /unknown synthetic task 'countdwn'; known: countdown, arithmetic/,
    );
    const [e] = getSyntheticTask("countdown").generate("train", 1, 0);
    expect(taskForExample(e)?.name).toBe("countdown");
    expect(taskForExample({ ...e, meta: { task: "toString" } })).toBeNull();
  });
});

function zeroMix() {
  return Object.fromEntries(TRACE_STYLES.map((s) => [s, 0])) as Record<(typeof TRACE_STYLES)[number], number>;
}
