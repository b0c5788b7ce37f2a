// MATH-500 (Lightman et al. 2023, "Let's Verify Step by Step"): 500 competition problems from the
// MATH test set. Rows {problem, answer, solution?, subject?, level?, unique_id?}.

import { readRows, stringField } from "../data.ts";
import { mathPrompt, rowId, sameMathAnswer, scoreMath } from "./math-common.ts";
import type { EvalProblem, EvalTask } from "./types.ts";

export const math500: EvalTask = {
  name: "math500",
  kind: "math",
  defaultSplit: "test",
  async load(path, opts = {}) {
    const rows = await readRows(path, { split: opts.split ?? "test" });
    return rows.map((row): EvalProblem => {
      const problem = stringField(row, ["problem", "Problem", "question"]);
      const gold = stringField(row, ["answer", "Answer"]);
      const meta: Record<string, unknown> = { problem };
      for (const k of ["subject", "level"]) if (row.fields[k] !== undefined) meta[k] = row.fields[k];
      const p: EvalProblem = { id: rowId(row, ["unique_id", "id"]), prompt: "", gold, meta };
      p.prompt = math500.buildPrompt(p);
      return p;
    });
  },
  buildPrompt: (p) => mathPrompt(String(p.meta.problem)),
  score: async (completion, p) => scoreMath(completion, p.gold),
  sameAnswer: sameMathAnswer,
  scoreGold: async (completion, gold) => scoreMath(completion, gold),
};
