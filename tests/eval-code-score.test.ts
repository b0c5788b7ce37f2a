// Code tasks end to end through the sandbox (src/eval/sandbox.ts), where it works on this machine.
import { describe, expect, it } from "vitest";
import { sandboxAvailable } from "../src/eval/sandbox.ts";
import { getEvalTask } from "../src/eval/tasks/index.ts";
import type { EvalProblem } from "../src/eval/tasks/types.ts";

const he: EvalProblem = {
  id: "Toy/1",
  prompt: "",
  gold: "",
  meta: {
    prompt: 'def double(x):\n    """Twice x."""\n',
    test: "def check(candidate):\n    assert candidate(2) == 4\n    assert candidate(-1) == -2\n",
    entry_point: "double",
  },
};
const mb: EvalProblem = {
  id: "7",
  prompt: "",
  gold: "",
  meta: {
    text: "Cube a number.",
    test_list: ["assert cube(2) == 8", "assert cube(3) == 27"],
    test_setup_code: "",
  },
};

describe.runIf(sandboxAvailable().ok)("code tasks in the sandbox", () => {
  it("humaneval: body continuation and full definition pass, a wrong one fails", async () => {
    const task = getEvalTask("humaneval");
    const opts = { timeoutMs: 10_000 };
    expect(await task.score("```python\n    return 2 * x\n```", he, opts)).toMatchObject({
      correct: true,
      method: "passed",
    });
    expect(
      (await task.score("<think>easy</think>```python\ndef double(x):\n    return x + x\n```", he, opts))
        .correct,
    ).toBe(true);
    expect(await task.score("```python\ndef double(x):\n    return x * x\n```", he, opts)).toMatchObject({
      correct: false,
      method: "failed",
    });
  });
  it("mbpp: asserts decide; an endless loop times out", async () => {
    const task = getEvalTask("mbpp");
    expect(
      (await task.score("```python\ndef cube(n):\n    return n ** 3\n```", mb, { timeoutMs: 10_000 }))
        .correct,
    ).toBe(true);
    expect(
      await task.score("```python\ndef cube(n):\n    while True:\n        pass\n```", mb, {
        timeoutMs: 1000,
      }),
    ).toMatchObject({
      correct: false,
      method: "timeout",
    });
  });
});
