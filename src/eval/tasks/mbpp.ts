// MBPP (Austin et al. 2021): short Python problems, each with three assert tests. Rows
// {task_id, text (or prompt), code, test_list, test_setup_code?}; the prompt shows the tests (as in
// the original paper) so the model knows the function's name and signature.

import { completionCode, mbppJob } from "../code-program.ts";
import { readRows, stringField, stringListField } from "../data.ts";
import { CODE_BLOCK_INSTRUCTION, runJob, sameCode } from "./code-common.ts";
import { rowId } from "./math-common.ts";
import type { EvalProblem, EvalTask } from "./types.ts";

export const mbpp: EvalTask = {
  name: "mbpp",
  kind: "code",
  defaultSplit: "test",
  async load(path, opts = {}) {
    const rows = await readRows(path, { split: opts.split ?? "test" });
    return rows.map((row): EvalProblem => {
      const text = stringField(row, ["text", "prompt"]);
      const test_list = stringListField(row, ["test_list"]);
      const test_setup_code = stringField(row, ["test_setup_code"], { optional: true });
      const code = stringField(row, ["code"], { optional: true });
      const p: EvalProblem = {
        id: rowId(row, ["task_id"]),
        prompt: "",
        gold: test_list.join("\n"),
        meta: { text, test_list, test_setup_code, code },
      };
      p.prompt = mbpp.buildPrompt(p);
      return p;
    });
  },
  buildPrompt: (p) =>
    `${String(p.meta.text).trim()}\nYour code should pass these tests:\n\n${(p.meta.test_list as string[]).join("\n")}\n\n${CODE_BLOCK_INSTRUCTION}`,
  async score(completion, p, opts) {
    const meta = p.meta as { test_list: string[]; test_setup_code?: string };
    return runJob("mbpp", completionCode(completion), mbppJob(completion, meta), opts);
  },
  sameAnswer: sameCode,
};
