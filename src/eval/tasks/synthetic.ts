// r1lab's synthetic reasoning tasks (Countdown, multi-step arithmetic; src/tasks/) as evaluation
// benchmarks. Data is a JSONL of TaskExample rows {id, prompt, answer, meta}, or generated on the
// fly with `gen:SPLIT:N` (N problems of the split, drawn with the eval seed). The prompt is the bare
// problem statement: r1lab's tiny models are not chat models, and the caller wraps it with the
// R1-Zero template (src/rl/template.ts). Scoring is the task's own verifier on the <answer> content,
// the same check as the accuracy reward used in training.

import { parseCompletion } from "../../tasks/format.ts";
import { getSyntheticTask, problemsOf } from "../../tasks/registry.ts";
import type { Split, TaskExample } from "../../tasks/types.ts";
import { DataError, readRows, stringField } from "../data.ts";
import { extractAnswer } from "../extract.ts";
import type { EvalProblem, EvalTask, ScoreResult } from "./types.ts";

const GEN = /^gen:(train|test):(\d+)$/;

function toProblem(ex: TaskExample): EvalProblem {
  return { id: ex.id, prompt: ex.prompt, gold: ex.answer, meta: { example: ex } };
}

/** A TaskExample from a label: its JSON ({id, prompt, answer, meta}) or a bare reference answer. */
export function exampleFromLabel(task: string, label: string): TaskExample {
  const t = label.trim();
  if (t.startsWith("{")) {
    try {
      const v = JSON.parse(t) as Partial<TaskExample>;
      if (typeof v.answer === "string" && v.meta && typeof v.meta === "object") {
        return { id: String(v.id ?? ""), prompt: String(v.prompt ?? ""), answer: v.answer, meta: v.meta };
      }
    } catch {
      // not JSON: a bare answer
    }
  }
  return { id: "", prompt: "", answer: label, meta: { task } };
}

export function syntheticEvalTask(name: string): EvalTask {
  const synthetic = getSyntheticTask(name);
  const judge = (completion: string, ex: TaskExample): ScoreResult => {
    const tagged = parseCompletion(completion).answer;
    const answer = tagged ?? extractAnswer(completion).answer;
    const method = tagged !== null ? "answer_tag" : extractAnswer(completion).method;
    return {
      extracted: answer === null ? null : answer.trim(),
      correct: answer !== null && synthetic.verify(answer, ex),
      method,
    };
  };
  const task: EvalTask = {
    name,
    kind: "synthetic",
    defaultSplit: "test",
    async load(path, opts = {}) {
      const gen = GEN.exec(path);
      if (gen) return problemsOf(synthetic, gen[1] as Split, Number(gen[2]), opts.seed ?? 0).map(toProblem);
      const rows = await readRows(path, { split: opts.split ?? "test" });
      return rows.map((row) => {
        const meta = row.fields.meta;
        if (meta === null || typeof meta !== "object" || Array.isArray(meta)) {
          throw new DataError(`${row.file}:${row.line}: field 'meta' must be an object`);
        }
        const ex: TaskExample = {
          id: stringField(row, ["id"]),
          prompt: stringField(row, ["prompt"]),
          answer: stringField(row, ["answer"]),
          meta: { task: name, ...(meta as Record<string, unknown>) },
        };
        return toProblem(ex);
      });
    },
    buildPrompt: (p) => (p.meta.example as TaskExample).prompt,
    score: async (completion, p) => judge(completion, p.meta.example as TaskExample),
    sameAnswer: (a, b) => a.replace(/\s+/g, "") === b.replace(/\s+/g, ""),
    scoreGold: async (completion, gold) => judge(completion, exampleFromLabel(name, gold)),
  };
  return task;
}
