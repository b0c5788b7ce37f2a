import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  completionCode,
  definesFunction,
  humanevalJob,
  lastCodeBlock,
  mbppJob,
} from "../src/eval/code-program.ts";

const HE = {
  prompt:
    'from typing import List\n\n\ndef helper(x):\n    return x\n\n\ndef total(xs: List[int]) -> int:\n    """Sum of xs."""\n',
  test: "def check(candidate):\n    assert candidate([1, 2]) == 3\n    assert candidate([]) == 0\n",
  entry_point: "total",
};

const hasPython = spawnSync("python3", ["--version"]).status === 0;

/** Compile (not run) programs with one python3 call: checks that the built programs are valid Python. */
function compiles(programs: string[]): boolean {
  const dir = mkdtempSync(join(tmpdir(), "r1lab-prog-"));
  const files = programs.map((p, i) => {
    const f = join(dir, `prog${i}.py`);
    writeFileSync(f, p);
    return f;
  });
  return spawnSync("python3", ["-m", "py_compile", ...files]).status === 0;
}

/** Programs built by the tests below, compiled together at the end. */
const built: string[] = [];

describe("code blocks", () => {
  it("takes the last fenced block, any language tag, or an unclosed final one", () => {
    expect(lastCodeBlock("```python\na = 1\n```\ntext\n```py\nb = 2\n```")).toBe("b = 2\n");
    expect(lastCodeBlock("intro\n```\nc = 3\n")).toBe("c = 3\n");
    expect(lastCodeBlock("no code")).toBeNull();
  });
  it("ignores code inside the reasoning", () => {
    expect(completionCode("<think>```python\nbad()\n```</think>Here:\n```python\ngood()\n```")).toBe(
      "good()",
    );
    expect(completionCode("<think>hmm</think>    return 1\n")).toBe("    return 1");
  });
  it("finds a top-level def", () => {
    expect(definesFunction("import os\ndef total(xs):\n  pass", "total")).toBe(true);
    expect(definesFunction("async def total(xs): pass", "total")).toBe(true);
    expect(definesFunction("def totals(xs): pass", "total")).toBe(false);
    expect(definesFunction("    def total(xs): pass", "total")).toBe(false);
  });
});

describe("humanevalJob", () => {
  it("continues the prompt when the completion is a body", () => {
    const job = humanevalJob("```python\n    return sum(xs)\n```", HE);
    expect(job.solution).toBe(`${HE.prompt}    return sum(xs)\n`);
    expect(job.prelude).toBe(HE.prompt);
    expect(job.tests).toBe(`${HE.test.trim()}\n\n\ncheck(__candidate__)\n`);
    expect(job.candidate).toBe("total");
    built.push(job.solution, job.prelude, job.tests);
  });
  it("keeps the prompt (imports, helpers) before a full definition", () => {
    const { solution } = humanevalJob(
      "Sure:\n```python\ndef total(xs: List[int]) -> int:\n    return helper(sum(xs))\n```",
      HE,
    );
    expect(solution.indexOf("from typing import List")).toBe(0);
    expect(solution.indexOf("def total(xs: List[int]) -> int:\n    return helper")).toBeGreaterThan(
      solution.indexOf('"""Sum of xs."""'),
    );
    built.push(solution);
  });
});

describe("mbppJob", () => {
  it("keeps the solution apart from the setup code and the asserts", () => {
    const job = mbppJob("```python\ndef sq(x):\n    return x * x\n```", {
      test_list: ["assert sq(2) == 4", "assert sq(3) == 9"],
      test_setup_code: "import math",
    });
    expect(job).toEqual({
      solution: "def sq(x):\n    return x * x\n",
      prelude: "import math\n",
      tests: "assert sq(2) == 4\nassert sq(3) == 9\n",
    });
    built.push(job.solution, job.prelude, job.tests);
  });
});

describe("built programs", () => {
  it.runIf(hasPython)("are valid Python (py_compile, nothing executed)", () => {
    expect(built.length).toBe(7);
    expect(compiles(built)).toBe(true);
    expect(compiles(["def broken(:\n    pass\n"])).toBe(false);
  });
});
