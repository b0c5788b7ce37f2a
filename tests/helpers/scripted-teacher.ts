// A scripted "teacher" for distillation tests, served by the fake OpenAI server (answer option): it
// solves r1lab's arithmetic problems ("calc EXPR" in the R1-Zero template) in a fixed pattern over
// sample indices: 0 and 2 right and in R1's format (different texts), 1 wrong (well formed), 3 right
// but without <think> (not well formed). Anything else gets a reply with no answer.
import { evaluate, ratToInt } from "../../src/tasks/expr.ts";

export function scriptedTeacher(input: string, i: number): string {
  const expr = /calc ([0-9+\-*/() ]+)\./.exec(input)?.[1]?.trim();
  if (!expr) return "I do not know";
  const v = ratToInt(evaluate(expr))!;
  if (i % 4 === 0) return `<think>${expr}=${v}</think><answer>${v}</answer>`;
  if (i % 4 === 1) return `<think>${expr}=${v + 1}</think><answer>${v + 1}</answer>`;
  if (i % 4 === 2) return `<think>${expr}=${v}; chk ok</think><answer>${v}</answer>`;
  return `<answer>${v}</answer>`;
}
