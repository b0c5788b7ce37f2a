// r1lab's R1-Zero prompt template, in its own words and kept short for a character-level model:
// the user states the problem; the instruction asks for reasoning inside <think></think> and then
// the answer inside <answer></answer>; nothing constrains the content of the reasoning.
export const ZERO_TEMPLATE = "Q: {problem}. Think in <think>, answer in <answer>.\nA:";

export function applyTemplate(problem: string, template = ZERO_TEMPLATE): string {
  if (!template.includes("{problem}")) throw new Error(`prompt template must contain {problem}: '${template}'`);
  return template.replace("{problem}", problem);
}
