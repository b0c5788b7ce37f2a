// HumanEval (Chen et al. 2021): 164 Python functions to complete from a signature and docstring.
// Rows {task_id, prompt, canonical_solution, test, entry_point}; a completion passes when the
// harness (code-tests.ts) confirms that the test's check(entry_point) ran without error.

import { completionCode, humanevalJob } from "../code-program.ts";
import { readRows, stringField } from "../data.ts";
import { CODE_BLOCK_INSTRUCTION, runJob, sameCode } from "./code-common.ts";
import { rowId } from "./math-common.ts";
import type { EvalProblem, EvalTask } from "./types.ts";

export const humaneval: EvalTask = {
  name: "humaneval",
  kind: "code",
  defaultSplit: "test",
  async load(path, opts = {}) {
    const rows = await readRows(path, { split: opts.split ?? "test" });
    return rows.map((row): EvalProblem => {
      const prompt = stringField(row, ["prompt"]);
      const test = stringField(row, ["test"]);
      const entry_point = stringField(row, ["entry_point"]);
      const canonical_solution = stringField(row, ["canonical_solution"], { optional: true });
      const p: EvalProblem = {
        id: rowId(row, ["task_id"]),
        prompt: "",
        gold: test,
        meta: { prompt, test, entry_point, canonical_solution },
      };
      p.prompt = humaneval.buildPrompt(p);
      return p;
    });
  },
  buildPrompt: (p) =>
    `Complete the following Python function. ${CODE_BLOCK_INSTRUCTION} Include the full function definition.\n\n\`\`\`python\n${String(p.meta.prompt).trimEnd()}\n\`\`\``,
  async score(completion, p, opts) {
    const meta = p.meta as { prompt: string; test: string; entry_point: string };
    return runJob("humaneval", completionCode(completion), humanevalJob(completion, meta), opts);
  },
  sameAnswer: sameCode,
};
