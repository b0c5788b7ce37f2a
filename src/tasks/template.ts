// r1lab's R1-Zero prompt template, in its own words and kept short for a character-level model
// (every character is a token the model pays for in every training sequence): the problem, then the
// instruction to reason inside <think></think> and then answer inside <answer></answer>; nothing
// constrains the content (or the length) of the reasoning.
export const ZERO_TEMPLATE = "{problem}. <think> then <answer>.\n";

export function applyTemplate(problem: string, template = ZERO_TEMPLATE): string {
  if (!template.includes("{problem}"))
    throw new Error(`prompt template must contain {problem}: '${template}'`);
  return template.replace("{problem}", problem);
}
