// Turning conversations into SFT examples whose loss mask covers the assistant turns only.
// With a Hugging Face tokenizer the chat template is rendered incrementally, as TRL's
// assistant_only_loss needs: for assistant turn i,
//   start_i = render(messages[:i], add_generation_prompt=True)   (up to the assistant's first token)
//   end_i   = render(messages[:i+1])                              (through its end-of-turn tokens)
// The whole conversation's text is cut at those offsets and each piece is tokenized on its own, so
// piece boundaries are token boundaries; the tokens of [start_i, end_i) are targets. When a turn
// does not extend the generation prompt (R1's prompt ends in "<think>\n" but its template strips the
// reasoning from rendered turns), start_i is the text before the turn (the header is trained too).
// Templates that render earlier turns differently from the last one (Qwen3 drops the reasoning of
// history turns) give one example per assistant turn instead, each trained on its last turn.
// DeepSeek-R1's own template strips "<think>...</think>" from every assistant turn, so SFT on
// reasoning traces needs a template that keeps it (open-r1's recipes pass their own). With r1lab's character tokenizer an example is {prompt, completion} in the R1-Zero
// template: BOS + template(prompt) are context, the completion and EOS are targets.
import type { ChatMessage } from "../hf/chat-template.ts";
import type { Tokenizer } from "../hf/tokenizer.ts";
import { applyTemplate } from "../tasks/template.ts";
import type { CharTokenizer } from "../tasks/char-tokenizer.ts";
import type { SftExample } from "./sft-batch.ts";

/** Tokenize text pieces one by one; the pieces flagged true are targets. */
function piecesToExample(tok: Tokenizer, pieces: { text: string; target: boolean }[]): SftExample {
  const inputIds: number[] = [];
  const lossMask: number[] = [];
  for (const p of pieces) {
    if (p.text === "") continue;
    const ids = tok.encode(p.text, { addSpecialTokens: false });
    inputIds.push(...ids);
    lossMask.push(...ids.map(() => (p.target ? 1 : 0)));
  }
  return { inputIds, lossMask };
}

/**
 * SFT examples (usually one) for a conversation: the tokens of every assistant turn (content and
 * the template's end-of-turn tokens) are targets, everything else is context. `what` names the
 * conversation in errors (e.g. "data.jsonl line 3").
 */
export function chatToExamples(
  tok: Tokenizer,
  messages: readonly ChatMessage[],
  what = "conversation",
): SftExample[] {
  const turns = messages.flatMap((m, i) => (m.role === "assistant" ? [i] : []));
  if (turns.length === 0)
    throw new Error(
      `${what}: no assistant message to train on (roles: ${messages.map((m) => m.role).join(", ")})`,
    );
  const render = (n: number, gen: boolean) =>
    tok.applyChatTemplate(messages.slice(0, n), { addGenerationPrompt: gen });
  const whole = render(messages.length, false);
  const spans = turns.map((i) => {
    const end = render(i + 1, false);
    // The generation prompt when the turn extends it; else (a turn rendered without R1's "<think>\n")
    // the text before the turn, so the assistant header is trained too.
    const start = [render(i, true), render(i, false)].find((s) => end.startsWith(s));
    if (start === undefined)
      throw new Error(
        `${what}: the chat template's rendering of the messages before assistant turn ${i} is not a prefix of the rendering through it; cannot mask that turn`,
      );
    return { start: start.length, end };
  });
  if (spans.every((s) => whole.startsWith(s.end))) {
    const pieces: { text: string; target: boolean }[] = [];
    let at = 0;
    for (const s of spans) {
      pieces.push(
        { text: whole.slice(at, s.start), target: false },
        { text: whole.slice(s.start, s.end.length), target: true },
      );
      at = s.end.length;
    }
    pieces.push({ text: whole.slice(at), target: false });
    return [piecesToExample(tok, pieces)];
  }
  // Per-turn fallback: each example is the conversation up to assistant turn i, trained on turn i.
  return spans.map((s) =>
    piecesToExample(tok, [
      { text: s.end.slice(0, s.start), target: false },
      { text: s.end.slice(s.start), target: true },
    ]),
  );
}

/** A {prompt, completion} pair for r1lab's character-level models, in the R1-Zero template. */
export function promptCompletionToExample(
  tok: CharTokenizer,
  prompt: string,
  completion: string,
  template?: string,
): SftExample {
  const context = [tok.bosId, ...tok.encode(applyTemplate(prompt, template))];
  const target = [...tok.encode(completion), tok.eosId];
  return { inputIds: [...context, ...target], lossMask: [...context.map(() => 0), ...target.map(() => 1)] };
}
