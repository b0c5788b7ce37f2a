// The prompts of `r1lab grpo`, built from the task's problems as TRL builds them: conversational
// (the model's chat template with the assistant turn opened, R1's system-less user message by
// default) or plain text. r1lab's own R1-Zero checkpoints (character tokenizer, no chat template)
// get the R1-Zero template of the run they came from, with BOS first, exactly as `zero` trained them.
// Prompts longer than max_prompt_length keep their last tokens (TRL truncates on the left).
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Codec } from "../backends/token-rows.ts";
import type { EvalProblem, EvalTask } from "../eval/tasks/types.ts";
import type { ChatMessage } from "../hf/chat-template.ts";
import { makeTask } from "./setup.ts";
import { applyTemplate, ZERO_TEMPLATE } from "../tasks/template.ts";
import { problemsOf } from "../tasks/registry.ts";

export interface Prompt {
  problem: EvalProblem;
  /** The text the policy sees (after the chat template). */
  text: string;
  ids: number[];
}

export interface PromptSettings {
  format: "auto" | "chat" | "plain";
  systemPrompt: string | null;
  /** Plain prompts: a template with {problem}; null = the problem text (or, for r1lab checkpoints, their run's template). */
  template: string | null;
  maxPromptLength: number;
}

/** The config.json of the r1lab run a checkpoint came from (runs/NAME/checkpoints/X -> runs/NAME/config.json). */
function runConfigOf(modelDir: string): Record<string, any> | null {
  const cfg = join(dirname(dirname(modelDir)), "config.json");
  if (!existsSync(cfg)) return null;
  try {
    return JSON.parse(readFileSync(cfg, "utf8"));
  } catch {
    return null;
  }
}

export function runTemplateOf(modelDir: string): string | null {
  const t = runConfigOf(modelDir)?.template;
  return typeof t === "string" ? t : null;
}

/**
 * `gen:SPLIT:N` for a checkpoint of an r1lab run (zero, r1): N problems of that split drawn by the
 * run's own task settings (numbers, terms, operators) and seed, i.e. the problems it trained on
 * (train) or held out (test). null when the data or the model is not that.
 */
export function runProblems(modelDir: string, data: string, task: string): EvalProblem[] | null {
  const gen = /^gen:(train|test):(\d+)$/.exec(data);
  const run = gen ? runConfigOf(modelDir) : null;
  if (!gen || !run || run.task !== task || typeof run.task_options !== "object") return null;
  const examples = problemsOf(
    makeTask(run.task, run.task_options),
    gen[1] as "train" | "test",
    Number(gen[2]),
    run.seed ?? 0,
  );
  return examples.map((ex) => ({ id: ex.id, prompt: ex.prompt, gold: ex.answer, meta: { example: ex } }));
}

/** How prompts will be built for this model: "chat" or "plain", the template, and BOS first. */
export function promptMode(codec: Codec, s: PromptSettings, modelDir: string, charModel: boolean) {
  if (s.format === "chat" && !codec.chat)
    throw new Error(`prompt_format chat: ${modelDir} has no chat template (use prompt_format plain)`);
  const chat = s.format === "chat" || (s.format === "auto" && codec.chat !== null);
  const template = chat
    ? null
    : (s.template ?? (charModel ? (runTemplateOf(modelDir) ?? ZERO_TEMPLATE) : null));
  return { chat, template, bosPrefix: charModel && codec.bosId !== null };
}

export function buildPrompts(
  task: EvalTask,
  problems: EvalProblem[],
  codec: Codec,
  mode: ReturnType<typeof promptMode>,
  s: PromptSettings,
): { prompts: Prompt[]; truncated: number } {
  let truncated = 0;
  const prompts = problems.map((problem) => {
    const user = task.buildPrompt(problem);
    let text: string;
    let ids: number[];
    if (mode.chat) {
      const messages: ChatMessage[] = [
        ...(s.systemPrompt ? [{ role: "system", content: s.systemPrompt }] : []),
        { role: "user", content: user },
      ];
      text = codec.chat!.applyChatTemplate(messages, { addGenerationPrompt: true });
      ids = codec.chat!.encodeChat(messages, { addGenerationPrompt: true });
    } else {
      text = mode.template ? applyTemplate(user, mode.template) : user;
      ids = codec.encode(text);
      if (mode.bosPrefix && ids[0] !== codec.bosId) ids = [codec.bosId!, ...ids];
    }
    if (ids.length === 0) throw new Error(`problem ${problem.id}: the prompt encodes to no tokens`);
    if (ids.length > s.maxPromptLength) {
      truncated++;
      ids = ids.slice(ids.length - s.maxPromptLength);
    }
    return { problem, text, ids };
  });
  return { prompts, truncated };
}
