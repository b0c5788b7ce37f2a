import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parquetWriteFile } from "hyparquet-writer";
import { beforeAll, describe, expect, it } from "vitest";
import { optionOrder } from "../src/eval/tasks/gpqa-diamond.ts";
import { gsm8kGold } from "../src/eval/tasks/gsm8k.ts";
import { EVAL_TASK_NAMES, getEvalTask } from "../src/eval/tasks/index.ts";
import { MATH_INSTRUCTION } from "../src/eval/tasks/math-common.ts";
import { getSyntheticTask } from "../src/tasks/registry.ts";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "r1lab-eval-tasks-"));
});

function jsonl(name: string, rows: unknown[]): string {
  const f = join(dir, name);
  writeFileSync(f, `${rows.map((r) => JSON.stringify(r)).join("\n")}\n`);
  return f;
}

describe("registry", () => {
  it("has every benchmark and the synthetic tasks", () => {
    for (const n of [
      "gsm8k",
      "math500",
      "aime24",
      "aime25",
      "gpqa-diamond",
      "humaneval",
      "mbpp",
      "countdown",
      "arithmetic",
    ]) {
      expect(EVAL_TASK_NAMES).toContain(n);
    }
    expect(() => getEvalTask("nope")).toThrow(/unknown eval task 'nope'/);
  });
});

describe("gsm8k", () => {
  it("takes the gold after ####, without commas", () => {
    expect(gsm8kGold("Tom buys 2 packs.\n2 * 617 = 1234\n#### 1,234")).toBe("1234");
    expect(gsm8kGold("no marker")).toBeNull();
  });
  it("loads problems with R1's math prompt and scores a boxed answer", async () => {
    const f = jsonl("gsm.jsonl", [
      { question: "A farmer has 3 pens with 4 goats each. How many goats?", answer: "3*4=12\n#### 12" },
      { question: "Lena saves 1,000 coins twice. How many coins?", answer: "2*1000=2000\n#### 2,000" },
    ]);
    const task = getEvalTask("gsm8k");
    const ps = await task.load(f);
    expect(ps.map((p) => [p.id, p.gold])).toEqual([
      ["0", "12"],
      ["1", "2000"],
    ]);
    expect(ps[0].prompt).toBe(`A farmer has 3 pens with 4 goats each. How many goats?\n${MATH_INSTRUCTION}`);
    expect(await task.score("<think>3 pens... 12</think>The total is \\boxed{12}.", ps[0])).toEqual({
      extracted: "12",
      correct: true,
      method: "boxed",
    });
    expect((await task.score("So #### 2,000", ps[1])).correct).toBe(true);
    expect((await task.score("\\boxed{13}", ps[0])).correct).toBe(false);
    expect(await task.score("I am not sure.", ps[0])).toEqual({
      extracted: null,
      correct: false,
      method: "none",
    });
  });
  it("names the line of a row without ####", async () => {
    const f = jsonl("gsm-bad.jsonl", [
      { question: "q", answer: "#### 1" },
      { question: "q", answer: "12" },
    ]);
    await expect(getEvalTask("gsm8k").load(f)).rejects.toThrow(`${f}:2: field 'answer' has no '#### n' line`);
    const g = jsonl("gsm-bad2.jsonl", [{ answer: "#### 1" }]);
    await expect(getEvalTask("gsm8k").load(g)).rejects.toThrow(`${g}:1: missing field 'question'`);
  });
});

describe("math500 and aime", () => {
  it("math500 from Parquet with unique_id", async () => {
    const f = join(dir, "math.parquet");
    parquetWriteFile({
      filename: f,
      columnData: [
        { name: "problem", data: ["Half of one?", "Solve 2x = 6."], type: "STRING" },
        { name: "answer", data: ["\\frac{1}{2}", "3"], type: "STRING" },
        { name: "unique_id", data: ["test/algebra/1.json", "test/algebra/2.json"], type: "STRING" },
      ],
    });
    const task = getEvalTask("math500");
    const ps = await task.load(f);
    expect(ps.map((p) => p.id)).toEqual(["test/algebra/1.json", "test/algebra/2.json"]);
    expect((await task.score("\\boxed{0.5}", ps[0])).correct).toBe(true);
    expect((await task.score("The answer is $x = 3$.", ps[1])).correct).toBe(true);
    expect((await task.score("\\boxed{2x+1=7}", ps[1])).correct).toBe(false);
  });
  it("aime accepts the spellings and canonicalises the integer gold", async () => {
    const f = jsonl("aime.jsonl", [
      { ID: "2024-I-1", Problem: "Find the remainder.", Answer: 33 },
      { id: 2, problem: "Find n.", answer: "007" },
    ]);
    const ps = await getEvalTask("aime24").load(f);
    expect(ps.map((p) => [p.id, p.gold])).toEqual([
      ["2024-I-1", "33"],
      ["2", "7"],
    ]);
    expect((await getEvalTask("aime25").score("\\boxed{033}", ps[0])).correct).toBe(true);
    const bad = jsonl("aime-bad.jsonl", [{ problem: "p", answer: "1/2" }]);
    await expect(getEvalTask("aime24").load(bad)).rejects.toThrow(
      `${bad}:1: field 'answer' must be an integer`,
    );
  });
});

describe("gpqa-diamond", () => {
  const row = (i: number) => ({
    Question: `Which made-up constant number ${i} is right?`,
    "Correct Answer": `right ${i}`,
    "Incorrect Answer 1": `wrong a ${i}`,
    "Incorrect Answer 2": `wrong b ${i}`,
    "Incorrect Answer 3": `wrong c ${i}`,
    "Record ID": `rec${i}`,
  });
  it("shuffles options reproducibly per seed and problem, with the gold letter spread evenly", async () => {
    const f = jsonl(
      "gpqa.jsonl",
      Array.from({ length: 400 }, (_, i) => row(i)),
    );
    const task = getEvalTask("gpqa-diamond");
    const a = await task.load(f, { seed: 1 });
    const b = await task.load(f, { seed: 1 });
    const c = await task.load(f, { seed: 2 });
    expect(a.map((p) => p.gold)).toEqual(b.map((p) => p.gold));
    expect(a.map((p) => p.gold)).not.toEqual(c.map((p) => p.gold));
    const counts = { A: 0, B: 0, C: 0, D: 0 } as Record<string, number>;
    for (const p of a) counts[p.gold]++;
    for (const k of "ABCD") expect(counts[k]).toBeGreaterThan(70);
    for (const p of a.slice(0, 20)) {
      const options = p.meta.options as string[];
      expect(options["ABCD".indexOf(p.gold)]).toMatch(/^right /);
      expect(p.prompt).toContain(`${p.gold}) ${options["ABCD".indexOf(p.gold)]}`);
    }
    expect(optionOrder(1, "rec0").slice().sort()).toEqual([0, 1, 2, 3]);
  });
  it("scores letters, boxed letters and option text", async () => {
    const f = jsonl("gpqa2.jsonl", [row(1)]);
    const task = getEvalTask("gpqa-diamond");
    const [p] = await task.load(f, { seed: 3 });
    const wrong = "ABCD".replace(p.gold, "")[0];
    expect(await task.score(`Thinking...\nAnswer: ${p.gold}`, p)).toMatchObject({
      extracted: p.gold,
      correct: true,
    });
    expect((await task.score(`\\boxed{(${p.gold})}`, p)).correct).toBe(true);
    expect((await task.score(`Answer: ${wrong}`, p)).correct).toBe(false);
    expect((await task.score("The answer is right 1.", p)).correct).toBe(true);
    expect(task.sameAnswer("(B)", "B")).toBe(true);
  });
  it("accepts lower-case field spellings and names a missing option", async () => {
    const f = jsonl("gpqa3.jsonl", [
      {
        question: "q?",
        correct_answer: "x",
        incorrect_answer_1: "y",
        incorrect_answer_2: "z",
        incorrect_answer_3: "w",
      },
    ]);
    expect(await getEvalTask("gpqa-diamond").load(f)).toHaveLength(1);
    const g = jsonl("gpqa4.jsonl", [
      { Question: "q?", "Correct Answer": "x", "Incorrect Answer 1": "y", "Incorrect Answer 2": "z" },
    ]);
    await expect(getEvalTask("gpqa-diamond").load(g)).rejects.toThrow(
      `${g}:1: missing field 'Incorrect Answer 3'`,
    );
  });
});

describe("code tasks (loading and prompts)", () => {
  it("humaneval keeps the fields and asks for a fenced block", async () => {
    const f = jsonl("he.jsonl", [
      {
        task_id: "Toy/0",
        prompt: 'def inc(x):\n    """Add one."""\n',
        canonical_solution: "    return x + 1\n",
        test: "def check(f):\n    assert f(1) == 2\n",
        entry_point: "inc",
      },
    ]);
    const [p] = await getEvalTask("humaneval").load(f);
    expect(p.id).toBe("Toy/0");
    expect(p.meta.entry_point).toBe("inc");
    expect(p.prompt).toContain("```python\ndef inc(x):");
    expect(p.prompt).toMatch(/code block/);
  });
  it("mbpp shows the tests in the prompt", async () => {
    const f = jsonl("mbpp.jsonl", [
      {
        task_id: 5,
        text: "Write a function to square a number.",
        code: "def sq(x): return x*x",
        test_list: ["assert sq(2) == 4", "assert sq(3) == 9"],
      },
    ]);
    const [p] = await getEvalTask("mbpp").load(f);
    expect(p.id).toBe("5");
    expect(p.prompt).toContain("assert sq(2) == 4\nassert sq(3) == 9");
    const g = jsonl("mbpp-bad.jsonl", [{ task_id: 5, text: "t", test_list: "assert x" }]);
    await expect(getEvalTask("mbpp").load(g)).rejects.toThrow(
      `${g}:1: field 'test_list' must be a list of strings`,
    );
  });
});

describe("synthetic tasks", () => {
  it("generates problems and scores with the task's verifier", async () => {
    const task = getEvalTask("countdown");
    const ps = await task.load("gen:test:5", { seed: 1 });
    expect(ps).toHaveLength(5);
    const p = ps[0];
    const ex = getSyntheticTask("countdown").generate("test", 5, 1)[0];
    expect(p.id).toBe(ex.id);
    expect(p.prompt).toBe(ex.prompt);
    expect(await task.score(`<think>try</think><answer>${p.gold}</answer>`, p)).toMatchObject({
      correct: true,
      method: "answer_tag",
    });
    expect(
      (await task.score("<think>try</think><answer>1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1</answer>", p))
        .correct,
    ).toBe(false);
  });
  it("loads TaskExample JSONL and scores from a bare label (arithmetic)", async () => {
    const ex = getSyntheticTask("arithmetic").generate("test", 2, 4);
    const f = jsonl("arith.jsonl", ex);
    const task = getEvalTask("arithmetic");
    const ps = await task.load(f);
    expect(ps.map((p) => p.gold)).toEqual(ex.map((e) => e.answer));
    expect((await task.scoreGold!(`<answer>${ex[0].answer}</answer>`, ex[0].answer)).correct).toBe(true);
    expect((await task.scoreGold!(`<answer>${ex[0].answer}</answer>`, JSON.stringify(ex[0]))).correct).toBe(
      true,
    );
  });
});
