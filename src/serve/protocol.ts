// The OpenAI API's request bodies, checked: /v1/chat/completions and /v1/completions become one
// typed GenerationRequest, and anything wrong becomes an ApiError that the server sends in OpenAI's
// error shape {"error": {"message", "type", "param", "code"}} (400 for a bad field, naming it).
// Fields the server cannot honour (tools, logit_bias, echo, suffix, penalties other than 0, best_of
// other than n, a JSON response_format) are refused rather than silently ignored; fields that do
// not change the output (user, metadata, store, ...) are accepted and ignored, as vLLM does.
// Sampling defaults come from the model's generation_config.json, as vLLM's `--generation-config auto`.
import type { SamplingParams } from "../generate/sampling.ts";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly type = status === 401
      ? "authentication_error"
      : status === 404
        ? "not_found_error"
        : status === 429
          ? "rate_limit_error"
          : status >= 500
            ? "server_error"
            : "invalid_request_error",
    readonly code: string | null = null,
  ) {
    super(message);
  }

  get body() {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export interface ChatMessageIn {
  role: "system" | "user" | "assistant";
  content: string;
}

/** One prompt: chat messages, text, or token ids. */
export type PromptIn = { messages: ChatMessageIn[] } | { text: string } | { ids: number[] };

export interface GenerationRequest {
  kind: "chat" | "completions";
  model: string;
  prompts: PromptIn[];
  n: number;
  sampling: SamplingParams;
  /** null: as many as the model's positions leave. */
  maxTokens: number | null;
  stop: string[];
  seed: number | null;
  /** null: none; k: the chosen token's logprob and the top k. */
  logprobs: number | null;
  stream: boolean;
  includeUsage: boolean;
  chatTemplateKwargs: Record<string, unknown> | null;
}

const bad = (param: string, message: string) => new ApiError(400, `${param}: ${message}`, param);

function num(
  b: Record<string, unknown>,
  key: string,
  lo: number,
  hi: number,
  int = false,
): number | undefined {
  const v = b[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v) || (int && !Number.isInteger(v)))
    throw bad(key, `must be ${int ? "an integer" : "a number"}, got ${JSON.stringify(v)}`);
  if (v < lo || v > hi) throw bad(key, `must be between ${lo} and ${hi}, got ${v}`);
  return v;
}

function bool(b: Record<string, unknown>, key: string): boolean | undefined {
  const v = b[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "boolean") throw bad(key, `must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

function refuse(b: Record<string, unknown>): void {
  const nonEmpty = (v: unknown) =>
    v !== undefined &&
    v !== null &&
    !(Array.isArray(v) && v.length === 0) &&
    !(typeof v === "object" && Object.keys(v as object).length === 0);
  for (const key of ["tools", "functions", "logit_bias", "suffix"])
    if (nonEmpty(b[key])) throw bad(key, "is not supported by r1lab's server");
  for (const key of ["tool_choice", "function_call"])
    if (nonEmpty(b[key]) && b[key] !== "none")
      throw bad(key, "is not supported by r1lab's server (no tools)");
  for (const key of ["presence_penalty", "frequency_penalty"])
    if (b[key] !== undefined && b[key] !== null && b[key] !== 0) throw bad(key, "only 0 is supported");
  if (b.repetition_penalty !== undefined && b.repetition_penalty !== null && b.repetition_penalty !== 1)
    throw bad("repetition_penalty", "only 1 is supported");
  if (b.echo === true) throw bad("echo", "is not supported by r1lab's server");
  const rf = b.response_format as { type?: unknown } | undefined;
  if (rf !== undefined && rf !== null && rf.type !== "text")
    throw bad("response_format", `only {"type": "text"} is supported, got ${JSON.stringify(rf)}`);
}

function stopOf(b: Record<string, unknown>): string[] {
  const v = b.stop;
  if (v === undefined || v === null) return [];
  const list = typeof v === "string" ? [v] : v;
  if (!Array.isArray(list) || !list.every((s) => typeof s === "string"))
    throw bad("stop", "must be a string or an array of strings");
  return list.filter((s) => s.length > 0);
}

function messageText(m: unknown, i: number): ChatMessageIn {
  const param = `messages[${i}]`;
  if (typeof m !== "object" || m === null) throw bad(param, "must be an object with role and content");
  const { role, content } = m as { role?: unknown; content?: unknown };
  if (role === "developer") return messageText({ ...m, role: "system" }, i);
  if (role !== "system" && role !== "user" && role !== "assistant")
    throw bad(`${param}.role`, `must be system, user or assistant, got ${JSON.stringify(role)}`);
  if (typeof content === "string") return { role, content };
  if (content === null && role === "assistant") return { role, content: "" };
  if (Array.isArray(content)) {
    const texts = content.map((part, j) => {
      const p = part as { type?: unknown; text?: unknown };
      if (p?.type !== "text" || typeof p.text !== "string")
        throw bad(
          `${param}.content[${j}]`,
          `only text parts are supported, got type ${JSON.stringify(p?.type)}`,
        );
      return p.text;
    });
    return { role, content: texts.join("\n") };
  }
  throw bad(`${param}.content`, "must be a string or an array of text parts");
}

function promptsOf(v: unknown, vocab: number): PromptIn[] {
  const ids = (x: unknown): x is number[] =>
    Array.isArray(x) && x.length > 0 && x.every((t) => Number.isInteger(t));
  const checkIds = (x: number[]) => {
    const out = x.find((t) => t < 0 || t >= vocab);
    if (out !== undefined) throw bad("prompt", `token id ${out} is outside the vocabulary (0..${vocab - 1})`);
    return { ids: x };
  };
  if (typeof v === "string") return [{ text: v }];
  if (ids(v)) return [checkIds(v)];
  if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === "string"))
    return v.map((text) => ({ text }));
  if (Array.isArray(v) && v.length > 0 && v.every(ids)) return (v as number[][]).map(checkIds);
  throw bad("prompt", "must be a string, an array of strings, an array of token ids or an array of those");
}

/** Check a request body of either endpoint. */
export function parseRequest(
  kind: "chat" | "completions",
  body: unknown,
  defaults: SamplingParams,
  vocab: number,
): GenerationRequest {
  if (typeof body !== "object" || body === null || Array.isArray(body))
    throw new ApiError(400, "the request body must be a JSON object");
  const b = body as Record<string, unknown>;
  if (typeof b.model !== "string" || b.model === "")
    throw bad("model", "is required (GET /v1/models lists it)");
  refuse(b);
  let prompts: PromptIn[];
  if (kind === "chat") {
    if (!Array.isArray(b.messages) || b.messages.length === 0)
      throw bad("messages", "must be a non-empty array");
    prompts = [{ messages: b.messages.map(messageText) }];
  } else prompts = promptsOf(b.prompt, vocab);
  const n = num(b, "n", 1, 1024, true) ?? 1;
  if (b.best_of !== undefined && b.best_of !== null && b.best_of !== n)
    throw bad("best_of", "only best_of = n is supported");
  const temperature = num(b, "temperature", 0, 2) ?? defaults.temperature;
  const topP = num(b, "top_p", 0, 1) ?? defaults.topP;
  if (topP === 0) throw bad("top_p", "must be greater than 0");
  const topK = num(b, "top_k", -1, 1e9, true) ?? defaults.topK;
  const maxTokens =
    kind === "chat"
      ? (num(b, "max_completion_tokens", 1, 1e9, true) ?? num(b, "max_tokens", 1, 1e9, true) ?? null)
      : (num(b, "max_tokens", 1, 1e9, true) ?? null);
  let logprobs: number | null = null;
  if (kind === "chat") {
    const top = num(b, "top_logprobs", 0, 20, true);
    if (bool(b, "logprobs")) logprobs = top ?? 0;
    else if (top !== undefined) throw bad("top_logprobs", "needs logprobs: true");
  } else logprobs = num(b, "logprobs", 0, 20, true) ?? null;
  const so = b.stream_options as { include_usage?: unknown } | undefined | null;
  const stream = bool(b, "stream") ?? false;
  if (so !== undefined && so !== null && !stream)
    throw bad("stream_options", "is only allowed with stream: true");
  const kw = b.chat_template_kwargs;
  if (kw !== undefined && kw !== null && (typeof kw !== "object" || Array.isArray(kw)))
    throw bad("chat_template_kwargs", "must be an object");
  return {
    kind,
    model: b.model,
    prompts,
    n,
    sampling: { temperature, topP, topK: Math.max(0, topK) },
    maxTokens,
    stop: stopOf(b),
    seed: num(b, "seed", -(2 ** 63), 2 ** 64, true) ?? null,
    logprobs,
    stream,
    includeUsage: so?.include_usage === true,
    chatTemplateKwargs: (kw as Record<string, unknown> | undefined) ?? null,
  };
}
