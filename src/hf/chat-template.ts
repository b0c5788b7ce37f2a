// Chat templates: the Jinja program a checkpoint ships to turn a list of messages into the prompt
// text it was trained on (DeepSeek-R1's ends the generation prompt with "<｜Assistant｜><think>\n").
// Read like transformers does: `chat_template.jinja` beside tokenizer_config.json (transformers 4.43+)
// wins over tokenizer_config.json's `chat_template`, which is a string or a list of {name, template};
// `additional_chat_templates/<name>.jinja` adds named ones. Rendered with @huggingface/jinja.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Template } from "@huggingface/jinja";

export interface ChatMessage {
  role: "system" | "user" | "assistant" | "tool" | (string & {});
  content: string;
  /** Anything else a template reads (tool_calls, name, reasoning_content, ...). */
  [key: string]: unknown;
}

export interface ChatTemplateOptions {
  /** Append the opening of an assistant turn (the prompt for generation). */
  addGenerationPrompt?: boolean;
  /** Which named template (default "default", as transformers picks). */
  templateName?: string;
  /** More template variables, e.g. { enable_thinking: false } or { tools: [...] }. */
  extra?: Record<string, unknown>;
}

/** Named templates; a single-string chat_template is named "default". */
export type ChatTemplates = Record<string, string>;

/** Files that hold chat templates, relative to the tokenizer folder (for saving a copy). */
export const CHAT_TEMPLATE_FILE = "chat_template.jinja";
export const ADDITIONAL_TEMPLATES_DIR = "additional_chat_templates";

/** The templates in tokenizer_config.json's `chat_template` (string, list of {name, template}, or absent). */
export function templatesFromConfig(config: Record<string, unknown>, file: string): ChatTemplates {
  const t = config.chat_template;
  if (t === undefined || t === null) return {};
  if (typeof t === "string") return { default: t };
  if (Array.isArray(t)) {
    const out: ChatTemplates = {};
    t.forEach((entry, i) => {
      const e = entry as { name?: unknown; template?: unknown } | null;
      if (typeof e?.name !== "string" || typeof e?.template !== "string") {
        throw new Error(
          `${file}: chat_template[${i}] must be {"name": string, "template": string}, got ${JSON.stringify(entry)}`,
        );
      }
      out[e.name] = e.template;
    });
    return out;
  }
  throw new Error(
    `${file}: chat_template must be a string or a list of {name, template}, got ${JSON.stringify(t)}`,
  );
}

/** All templates for the tokenizer in `dir`, given its parsed tokenizer_config.json. */
export function readChatTemplates(dir: string, config: Record<string, unknown>): ChatTemplates {
  const out = templatesFromConfig(config, join(dir, "tokenizer_config.json"));
  const jinja = join(dir, CHAT_TEMPLATE_FILE);
  if (existsSync(jinja)) out.default = readFileSync(jinja, "utf8");
  const extra = join(dir, ADDITIONAL_TEMPLATES_DIR);
  if (existsSync(extra)) {
    for (const f of readdirSync(extra).sort()) {
      if (f.endsWith(".jinja")) out[f.slice(0, -".jinja".length)] = readFileSync(join(extra, f), "utf8");
    }
  }
  return out;
}

const compiled = new Map<string, Template>();

function compile(source: string, what: string): Template {
  let t = compiled.get(source);
  if (!t) {
    try {
      t = new Template(source);
    } catch (e) {
      throw new Error(`${what}: the chat template does not parse: ${(e as Error).message}`);
    }
    compiled.set(source, t);
  }
  return t;
}

/**
 * Render `messages` with the named template. `specialTokens` are passed as variables (bos_token,
 * eos_token, pad_token, unk_token), as transformers does; `what` names the tokenizer in errors.
 */
export function renderChatTemplate(
  templates: ChatTemplates,
  messages: readonly ChatMessage[],
  specialTokens: Record<string, string | null>,
  opts: ChatTemplateOptions = {},
  what = "tokenizer",
): string {
  const names = Object.keys(templates);
  if (names.length === 0) {
    throw new Error(
      `${what}: this model has no chat template (no chat_template in tokenizer_config.json and no ${CHAT_TEMPLATE_FILE}); ` +
        "format the prompt yourself or use a chat-tuned checkpoint",
    );
  }
  const name = opts.templateName ?? "default";
  const source = templates[name];
  if (source === undefined) {
    throw new Error(
      `${what}: no chat template named "${name}"; it has: ${names.map((n) => `"${n}"`).join(", ")}`,
    );
  }
  messages.forEach((m, i) => {
    if (typeof m?.role !== "string" || typeof m.content !== "string") {
      throw new Error(
        `${what}: messages[${i}] must have a string role and content, got ${JSON.stringify(m)}`,
      );
    }
  });
  const vars = {
    ...specialTokens,
    ...opts.extra,
    messages,
    add_generation_prompt: opts.addGenerationPrompt ?? false,
  };
  try {
    return compile(source, what).render(vars);
  } catch (e) {
    throw new Error(`${what}: chat template "${name}" failed: ${(e as Error).message}`);
  }
}
