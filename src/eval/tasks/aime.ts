// AIME 2024 / 2025: 30 problems each (AIME I + II), integer answers 0-999. Releases spell the fields
// differently (problem/Problem/question, answer/Answer, id/ID), so all are accepted. The gold is the
// integer without leading zeros.

import { DataError, readRows, stringField } from "../data.ts";
import { canonicalInteger, mathPrompt, rowId, sameMathAnswer, scoreMath } from "./math-common.ts";
import type { EvalProblem, EvalTask } from "./types.ts";

async function loadAime(task: EvalTask, path: string, split: string | string[]): Promise<EvalProblem[]> {
  const rows = await readRows(path, { split });
  return rows.map((row): EvalProblem => {
    const problem = stringField(row, ["problem", "Problem", "question", "Question"]);
    const gold = canonicalInteger(stringField(row, ["answer", "Answer", "solution_answer"]));
    if (!/^-?\d+$/.test(gold))
      throw new DataError(`${row.file}:${row.line}: field 'answer' must be an integer, got '${gold}'`);
    const p: EvalProblem = {
      id: rowId(row, ["id", "ID", "problem_idx"]),
      prompt: "",
      gold,
      meta: { problem },
    };
    p.prompt = task.buildPrompt(p);
    return p;
  });
}

function aimeTask(name: string): EvalTask {
  const task: EvalTask = {
    name,
    kind: "math",
    // AIME releases on the Hub have a single split, named train or test; a lone file is used whatever its name.
    defaultSplit: "train",
    load: (path, opts = {}) => loadAime(task, path, opts.split ?? ["train", "test"]),
    buildPrompt: (p) => mathPrompt(String(p.meta.problem)),
    score: async (completion, p) => scoreMath(completion, p.gold),
    sameAnswer: sameMathAnswer,
    scoreGold: async (completion, gold) => scoreMath(completion, canonicalInteger(gold)),
  };
  return task;
}

export const aime24 = aimeTask("aime24");
export const aime25 = aimeTask("aime25");
