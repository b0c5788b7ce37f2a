// GSM8K (Cobbe et al. 2021): grade-school word problems. Rows {question, answer}, where the answer
// is a worked solution whose last line is "#### n"; the gold is n with thousands commas removed.

import { DataError, readRows, stringField } from "../data.ts";
import { mathPrompt, rowId, sameMathAnswer, scoreMath } from "./math-common.ts";
import type { EvalProblem, EvalTask } from "./types.ts";

/** The number after the last "####" of a GSM8K solution, commas removed; null when there is none. */
export function gsm8kGold(solution: string): string | null {
  const m = /####\s*([^\n]+)\s*$/.exec(solution.trim());
  if (!m) return null;
  return m[1].trim().replace(/,/g, "").replace(/\.$/, "");
}

export const gsm8k: EvalTask = {
  name: "gsm8k",
  kind: "math",
  defaultSplit: "test",
  async load(path, opts = {}) {
    const rows = await readRows(path, { split: opts.split ?? "test" });
    return rows.map((row): EvalProblem => {
      const question = stringField(row, ["question", "Question"]);
      const solution = stringField(row, ["answer", "Answer"]);
      const gold = gsm8kGold(solution);
      if (gold === null) throw new DataError(`${row.file}:${row.line}: field 'answer' has no '#### n' line`);
      const p: EvalProblem = { id: rowId(row, ["id"]), prompt: "", gold, meta: { question } };
      p.prompt = gsm8k.buildPrompt(p);
      return p;
    });
  },
  buildPrompt: (p) => mathPrompt(String(p.meta.question)),
  score: async (completion, p) => scoreMath(completion, p.gold),
  sameAnswer: sameMathAnswer,
  scoreGold: async (completion, gold) => scoreMath(completion, gsm8kGold(gold) ?? gold),
};
