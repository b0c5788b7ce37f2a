// The `deepseek_r1` reasoning parser (vLLM's --reasoning-parser deepseek_r1): a DeepSeek-R1 answer is
// "<think>reasoning</think>content", and R1's chat template already puts "<think>\n" in the prompt,
// so the model's output usually starts inside the reasoning. Everything up to "</think>" is
// `reasoning_content`, the rest is `content`; an output without "</think>" is all reasoning (the
// length limit came first) and its content is null; a "<think>" at the start of the output is
// dropped. Streaming gives the same split piece by piece, holding back a tail that may be the
// beginning of a tag until the next piece shows what it is.

export const THINK_START = "<think>";
export const THINK_END = "</think>";

export interface ReasoningSplit {
  reasoning: string | null;
  content: string | null;
}

/** The whole output split as vLLM's deepseek_r1 parser does. */
export function splitReasoning(text: string): ReasoningSplit {
  const body = text.startsWith(THINK_START) ? text.slice(THINK_START.length) : text;
  const end = body.indexOf(THINK_END);
  if (end < 0) return { reasoning: body, content: null };
  const content = body.slice(end + THINK_END.length);
  return { reasoning: body.slice(0, end), content: content === "" ? null : content };
}

/** Length of the longest tail of `s` that is a proper prefix of `tag`. */
function partialTail(s: string, tag: string): number {
  for (let n = Math.min(tag.length - 1, s.length); n > 0; n--)
    if (tag.startsWith(s.slice(s.length - n))) return n;
  return 0;
}

/** The split of a growing output, as deltas. */
export class ReasoningStream {
  private full = "";
  private sentReasoning = 0;
  private sentContent = 0;

  /** Add text; returns what is now certain of each part (either may be ""). */
  push(delta: string, final = false): { reasoning: string; content: string } {
    this.full += delta;
    let { reasoning, content } = splitReasoning(this.full);
    if (!final) {
      if (THINK_START.startsWith(this.full))
        reasoning = ""; // maybe a "<think>" still arriving
      else if (content === null && reasoning !== null)
        reasoning = reasoning.slice(0, reasoning.length - partialTail(reasoning, THINK_END));
    }
    const r = (reasoning ?? "").slice(this.sentReasoning);
    const c = (content ?? "").slice(this.sentContent);
    this.sentReasoning += r.length;
    this.sentContent += c.length;
    return { reasoning: r, content: c };
  }
}
