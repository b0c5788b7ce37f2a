// The prompts of `r1lab grpo`, built from the task's problems as TRL builds them: conversational
// (the model's chat template with the assistant turn opened, R1's system-less user message by
// default) or plain text. r1lab's own R1-Zero checkpoints (character tokenizer, no chat template)
// get the R1-Zero template of the run they came from, with BOS first, exactly as `zero` trained them.
// Prompts longer than max_prompt_length keep their last tokens (TRL truncates on the left).
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Codec } from "../backends/token-rows.ts";
import { warnOverlap } from "../data/overlap.ts";
import type { EvalProblem, EvalTask } from "../eval/tasks/types.ts";
import type { ChatMessage } from "../hf/chat-template.ts";
import type { Prompt } from "../rl/hf-rollout.ts";
import { makeTask } from "./setup.ts";
import { applyTemplate, ZERO_TEMPLATE } from "../tasks/template.ts";
import { problemsOf } from "../tasks/registry.ts";
import type { GrpoRunConfig } from "./grpo-config.ts";

export type { Prompt };

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

/** A problem's own text, without the task's instruction that every prompt shares (it would match everywhere). */
function problemText(p: EvalProblem): string {
  for (const k of ["question", "problem", "prompt", "text"])
    if (typeof p.meta[k] === "string") return p.meta[k] as string;
  return p.prompt;
}

/**
 * A run's training and held-out prompts (--data and --eval-data through the task's loader, or
 * `gen:SPLIT:N` of an r1lab run), with one warning line when they share 8-grams and one when
 * prompts were cut to max_prompt_length.
 */
export async function grpoPrompts(
  cfg: GrpoRunConfig,
  task: EvalTask,
  modelDir: string,
  codec: Codec & { chars: boolean },
  log: (s: string) => void,
): Promise<{ train: Prompt[]; held: Prompt[]; chat: boolean }> {
  const ps: PromptSettings = {
    format: cfg.prompt_format,
    systemPrompt: cfg.system_prompt,
    template: cfg.prompt_template,
    maxPromptLength: cfg.max_prompt_length,
  };
  const mode = promptMode(codec, ps, modelDir, codec.chars);
  const problems = async (data: string, split: string) =>
    runProblems(modelDir, data, cfg.task) ?? (await task.load(data, { split, seed: cfg.seed }));
  const train = buildPrompts(task, await problems(cfg.data, cfg.split), codec, mode, ps);
  if (train.prompts.length === 0) throw new Error(`${cfg.data}: no problems in split '${cfg.split}'`);
  const held = cfg.eval_data
    ? buildPrompts(
        task,
        (await problems(cfg.eval_data, cfg.eval_split)).slice(0, cfg.eval_limit),
        codec,
        mode,
        ps,
      ).prompts
    : [];
  if (held.length > 0)
    await warnOverlap(
      train.prompts.map((p) => problemText(p.problem)),
      held.map((p) => problemText(p.problem)),
      { trainLabel: cfg.data, evalLabel: cfg.eval_data ?? "the evaluation data" },
    );
  if (train.truncated)
    log(
      `warning: ${train.truncated} prompts are longer than max_prompt_length ${cfg.max_prompt_length} and keep their last tokens`,
    );
  return { train: train.prompts, held, chat: mode.chat };
}
