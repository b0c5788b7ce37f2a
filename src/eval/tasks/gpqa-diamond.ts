// GPQA Diamond (Rein et al. 2023): 198 graduate-level multiple-choice questions. Rows as in the
// Idavidrein/gpqa release: Question, Correct Answer, Incorrect Answer 1..3 (lower-case / snake_case
// spellings accepted). The four options are shuffled with a seed derived from the eval seed and the
// problem id, so the correct letter is reproducible for a seed and spread evenly over A-D.

import { taskSeed, TaskRng } from "../../engine/rng.ts";
import { DataError, type DataRow, readRows, stringField } from "../data.ts";
import { extractAnswer, toChoiceLetter } from "../extract.ts";
import { textKey } from "../math-normalize.ts";
import { rowId } from "./math-common.ts";
import type { EvalProblem, EvalTask, ScoreResult } from "./types.ts";

export const LETTERS = "ABCD";

/** "Correct Answer" -> ["Correct Answer", "correct answer", "correct_answer", "Correct_Answer"]. */
function spellings(name: string): string[] {
  return [
    ...new Set([name, name.toLowerCase(), name.toLowerCase().replace(/ /g, "_"), name.replace(/ /g, "_")]),
  ];
}

/** The permutation of [0, 1, 2, 3] for a problem: order[i] = which original option sits at letter i. */
export function optionOrder(seed: number, id: string): number[] {
  const rng = new TaskRng(taskSeed(seed, `gpqa/${id}`));
  const order = [0, 1, 2, 3];
  for (let i = order.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

function rowOptions(row: DataRow): string[] {
  const correct = stringField(row, spellings("Correct Answer"));
  const wrong = [1, 2, 3].map((k) => stringField(row, spellings(`Incorrect Answer ${k}`)));
  const all = [correct, ...wrong].map((o) => o.trim());
  const empty = all.findIndex((o) => o.length === 0);
  if (empty >= 0) {
    const field = empty === 0 ? "Correct Answer" : `Incorrect Answer ${empty}`;
    throw new DataError(`${row.file}:${row.line}: field '${field}' is empty`);
  }
  return all;
}

/** The letter a completion chose: an extracted letter, or an answer that is one option's text. */
export function chosenLetter(
  completion: string,
  options: string[],
): { letter: string | null; method: string } {
  const { answer, method } = extractAnswer(completion, { letters: LETTERS });
  if (answer === null) return { letter: null, method };
  const letter = toChoiceLetter(answer, LETTERS);
  if (letter !== null) return { letter, method };
  const i = options.findIndex((o) => textKey(o) === textKey(answer));
  return { letter: i >= 0 ? LETTERS[i] : null, method: i >= 0 ? `${method}+option_text` : method };
}

function scoreLetter(completion: string, gold: string, options: string[]): ScoreResult {
  const { letter, method } = chosenLetter(completion, options);
  return { extracted: letter, correct: letter !== null && letter === gold.trim().toUpperCase(), method };
}

export const gpqaDiamond: EvalTask = {
  name: "gpqa-diamond",
  kind: "choice",
  defaultSplit: "train", // the GPQA release has one split, "train"
  async load(path, opts = {}) {
    const seed = opts.seed ?? 0;
    const rows = await readRows(path, { split: opts.split ?? ["train", "test"] });
    return rows.map((row): EvalProblem => {
      const question = stringField(row, spellings("Question"));
      const original = rowOptions(row);
      const id = rowId(row, ["Record ID", "record_id", "id"]);
      const order = optionOrder(seed, id);
      const options = order.map((k) => original[k]);
      const gold = LETTERS[order.indexOf(0)];
      const p: EvalProblem = { id, prompt: "", gold, meta: { question, options } };
      p.prompt = gpqaDiamond.buildPrompt(p);
      return p;
    });
  },
  buildPrompt(p) {
    const options = p.meta.options as string[];
    const lines = options.map((o, i) => `${LETTERS[i]}) ${o}`);
    return [
      String(p.meta.question).trim(),
      "",
      ...lines,
      "",
      'Think step by step, then give your final answer on the last line in the form "Answer: X", where X is one of A, B, C or D.',
    ].join("\n");
  },
  score: async (completion, p) => scoreLetter(completion, p.gold, p.meta.options as string[]),
  sameAnswer: (a, b) => (toChoiceLetter(a, LETTERS) ?? a) === (toChoiceLetter(b, LETTERS) ?? b),
  scoreGold: async (completion, gold) => scoreLetter(completion, gold, []),
};
