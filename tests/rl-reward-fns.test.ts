// The reward functions of `r1lab grpo` on hand-made completions: accuracy from the task's scorer,
// R1's think format, language consistency, DAPO's overlong shaping (TRL's worked example), a remote
// reward over `r1lab serve rewards`' /get_reward, the weighted per-function scoring, and the errors.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listenRewardServer } from "../src/eval/reward-server.ts";
import { getEvalTask } from "../src/eval/tasks/index.ts";
import type { EvalProblem } from "../src/eval/tasks/types.ts";
import {
  formatScore,
  languageShare,
  overlongPenalty,
  rewardFunction,
  type Scored,
  scoreBatch,
} from "../src/rl/reward-fns.ts";

const gsm8k = getEvalTask("gsm8k");
const problem: EvalProblem = {
  id: "0",
  prompt: "What is 6 * 7?",
  gold: "42",
  meta: { question: "What is 6 * 7?" },
};
const item = (completion: string, extra: Partial<Scored> = {}): Scored => ({
  prompt: "User: What is 6 * 7?\nAssistant: ",
  completion,
  completionTokens: 10,
  finishReason: "stop",
  problem,
  ...extra,
});
const ctx = { task: gsm8k, maxCompletionLength: 100 };

let url: string;
let close: () => Promise<void>;
beforeAll(async () => {
  ({ url, close } = await listenRewardServer({ port: 0, host: "127.0.0.1" }));
});
afterAll(async () => close());

describe("reward functions", () => {
  it("accuracy is the task's own scorer", async () => {
    const r = await rewardFunction(
      "accuracy",
      ctx,
    )([
      item("<think>6*7 is 42</think> The answer is \\boxed{42}."),
      item("<think>hmm</think> \\boxed{41}"),
      item("no box at all"),
    ]);
    expect(r).toEqual([1, 0, 0]);
  });

  it("format: reasoning in <think></think>, then an answer; the prompt may open the think", () => {
    const p = "User: q\nAssistant: ";
    expect(formatScore(p, "<think>\nsteps\n</think>\nThe answer is 4.")).toBe(1);
    expect(formatScore(`${p}<think>\n`, "steps\n</think>\n\\boxed{4}")).toBe(1);
    expect(formatScore(p, "steps\n</think>\n4")).toBe(0); // no opening tag anywhere
    expect(formatScore(p, "<think>steps</think>")).toBe(0); // no answer after it
    expect(formatScore(p, "<think>a</think><think>b</think> 4")).toBe(0);
    expect(formatScore(p, "<think> </think> 4")).toBe(0); // empty reasoning
    expect(formatScore(p, "<think>x</think> <answer>4</answer>")).toBe(1);
    expect(formatScore(p, "<think>x</think> <answer>4")).toBe(0);
  });

  it("language_consistency: share of the reasoning's words in the target script", async () => {
    expect(languageShare("first add the numbers", "en")).toBe(1);
    expect(languageShare("first 加 the 数字", "en")).toBeCloseTo(2 / 5, 6); // 加, 数, 字 count one each
    expect(languageShare("先加 numbers", "zh")).toBeCloseTo(2 / 3, 6);
    expect(languageShare("12 + 30 = 42", "en")).toBe(0);
    const r = await rewardFunction("language_consistency", ctx)([item("<think>add 6 und 7 mal</think> 42")]);
    expect(r[0]).toBe(1); // German words are Latin script: R1's reward is about scripts mixing
    expect(() => rewardFunction("language_consistency", { ...ctx, language: "xx" })).toThrow(
      /unknown language 'xx'/,
    );
  });

  it("length: DAPO's soft overlong punishment (TRL's example: 90 of 100 tokens, cache 20 -> -0.5)", async () => {
    expect(overlongPenalty(90, 100, 20)).toBe(-0.5);
    expect(overlongPenalty(80, 100, 20)).toBe(0);
    expect(overlongPenalty(100, 100, 20)).toBe(-1);
    expect(overlongPenalty(101, 100, 20)).toBe(-1);
    const r = await rewardFunction("length", { ...ctx, overlongBuffer: 20 })([
      item("x", { completionTokens: 95 }),
      item("y", { completionTokens: 3 }),
    ]);
    expect(r).toEqual([-0.75, 0]);
    expect(() => rewardFunction("length", { ...ctx, overlongBuffer: 0 })).toThrow(
      /overlong_buffer_length must be an integer from 1/,
    );
  });

  it("remote: /get_reward of r1lab serve rewards scores like the local accuracy", async () => {
    const items = [item("<think>.</think> \\boxed{42}"), item("<think>.</think> \\boxed{7}")];
    const remote = await rewardFunction(`remote:${url}/get_reward`, ctx)(items);
    expect(remote).toEqual(await rewardFunction("accuracy", ctx)(items));
    expect(remote).toEqual([1, 0]);
    await expect(rewardFunction(`remote:${url}/nope`, ctx)(items)).rejects.toThrow(
      /remote reward .*\/nope: HTTP 404/,
    );
    expect(() => rewardFunction("remote:ftp://x", ctx)).toThrow(/expected remote:http/);
  });

  it("scoreBatch weights each function and keeps the per-function values", async () => {
    const fns = [
      { name: "accuracy", weight: 1, fn: rewardFunction("accuracy", ctx) },
      { name: "format", weight: 0.5, fn: rewardFunction("format", ctx) },
    ];
    const r = await scoreBatch(fns, [
      item("<think>x</think> \\boxed{42}"),
      item("\\boxed{42}"),
      item("<think>x</think> 5"),
    ]);
    expect(r.perFn).toEqual({ accuracy: [1, 1, 0], format: [1, 0, 1] });
    expect(r.total).toEqual([1.5, 1, 0.5]);
    expect(() => rewardFunction("accuracyy", ctx)).toThrow(
      /unknown reward function 'accuracyy' \(known: accuracy, format/,
    );
  });
});
