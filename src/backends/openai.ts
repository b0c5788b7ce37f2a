// A GenerationBackend over any OpenAI-compatible server: vLLM, SGLang, llama.cpp's server, Ollama,
// the DeepSeek API. Chat (/v1/chat/completions: the server applies the chat template) or plain
// completions (/v1/completions: the prompt is sent as is). `n` samples per request go in one call;
// a server that returns fewer choices than asked (llama.cpp, Ollama, the DeepSeek API ignore n) is
// remembered and then asked once per sample, with seed + j for sample j so samples stay distinct.
// Reasoning that a server splits out of the text (DeepSeek API and vLLM's reasoning parsers:
// message.reasoning_content, or message.reasoning) is put back as <think>...</think> before the
// answer, so scoring sees what R1 emitted.

import { HttpError, type RetryPolicy, requestJson, Semaphore } from "./http-json.ts";
import type { ChatMessage, GenerationBackend, GenRequest, GenResult, SamplingOptions } from "./types.ts";

export interface OpenAIBackendOptions {
  /**
   * The server, with or without the trailing /v1: http://127.0.0.1:8000, https://api.deepseek.com/v1.
   * Default: $OPENAI_BASE_URL, as OpenAI's own clients read it.
   */
  baseUrl?: string;
  /** Model name sent with each request; when absent, the one model listed by GET /v1/models. */
  model?: string;
  /** "chat" (default) needs requests with messages; "completions" needs requests with a prompt. */
  endpoint?: "chat" | "completions";
  /** API key; else the environment variable apiKeyEnv (default OPENAI_API_KEY); none is fine locally. */
  apiKey?: string;
  apiKeyEnv?: string;
  /** HTTP requests in flight at once. Default 8. */
  concurrency?: number;
  /** Per HTTP attempt. Default 600 000 ms (long reasoning completions are slow). */
  timeoutMs?: number;
  /** Default 5. */
  maxRetries?: number;
  /** Backoff start and cap. Defaults 1 000 and 60 000 ms. */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** "auto" (default): send n, fall back to one request per sample if the server ignores it. */
  nMode?: "auto" | "native" | "split";
  /** Extra fields merged into every request body (e.g. { repetition_penalty: 1.0 } for vLLM). */
  extraBody?: Record<string, unknown>;
}

/**
 * The server and model a command's model argument names: a URL is the server itself; otherwise,
 * when OPENAI_BASE_URL is set, the server is that and the argument (if any) is the model name.
 * null when neither gives a server.
 */
export function openaiTarget(
  value: string | undefined,
  env: Record<string, string | undefined> = process.env,
): { baseUrl: string; model?: string } | null {
  if (value && /^https?:\/\//.test(value)) return { baseUrl: value };
  const base = env.OPENAI_BASE_URL?.trim();
  if (!base) return null;
  return value ? { baseUrl: base, model: value } : { baseUrl: base };
}

/** http://host:8000, http://host:8000/, http://host:8000/v1/ -> http://host:8000/v1 */
export function normalizeBaseUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(
      `openai backend: base URL ${JSON.stringify(url)} is not a URL (e.g. http://127.0.0.1:8000/v1)`,
    );
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw new Error(`openai backend: base URL ${url} must be http:// or https://`);
  }
  const path = u.pathname.replace(/\/+$/, "");
  u.pathname = path.endsWith("/v1") ? path : `${path}/v1`;
  return u.toString().replace(/\/+$/, "");
}

/**
 * R1's layout: the reasoning in <think>...</think>, a blank line, then the answer. `truncated`
 * (the length limit hit during reasoning, no answer yet) leaves the block open, as the model left it.
 */
export function joinReasoning(reasoning: string, content: string, truncated = false): string {
  const think = `<think>\n${reasoning.replace(/^\n+|\n+$/g, "")}`;
  return truncated ? think : `${think}\n</think>\n\n${content.replace(/^\n+/, "")}`;
}

interface Choice {
  index?: number;
  text?: string;
  message?: { content?: string | null; reasoning_content?: string | null; reasoning?: string | null };
  finish_reason?: string | null;
}
interface CompletionResponse {
  choices: Choice[];
  usage?: { prompt_tokens?: number; completion_tokens?: number };
}

function validSampling(o: SamplingOptions): void {
  const bad = (field: string, v: unknown, want: string) => {
    throw new Error(`openai backend: sampling option ${field} = ${JSON.stringify(v)}; expected ${want}`);
  };
  if (!(Number.isInteger(o.n) && o.n >= 1)) bad("n", o.n, "an integer >= 1");
  if (!(Number.isInteger(o.maxTokens) && o.maxTokens >= 1)) bad("maxTokens", o.maxTokens, "an integer >= 1");
  if (!(o.temperature >= 0)) bad("temperature", o.temperature, "a number >= 0");
  if (!(o.topP > 0 && o.topP <= 1)) bad("topP", o.topP, "a number in (0, 1]");
  if (o.topK !== undefined && !(Number.isInteger(o.topK) && o.topK >= 0))
    bad("topK", o.topK, "an integer >= 0");
}

export class OpenAIBackend implements GenerationBackend {
  readonly baseUrl: string;
  readonly endpoint: "chat" | "completions";
  private model: string | undefined;
  private modelLookup: Promise<string> | undefined;
  private readonly headers: Record<string, string>;
  private readonly policy: RetryPolicy;
  private readonly slots: Semaphore;
  private readonly closed = new AbortController();
  /** Learned in "auto" mode: the server returned fewer choices than n. */
  private ignoresN: boolean;

  constructor(private readonly opts: OpenAIBackendOptions) {
    const baseUrl = opts.baseUrl ?? process.env.OPENAI_BASE_URL?.trim();
    if (!baseUrl) throw new Error("openai backend: no server: pass baseUrl or set OPENAI_BASE_URL");
    this.baseUrl = normalizeBaseUrl(baseUrl);
    this.endpoint = opts.endpoint ?? "chat";
    this.model = opts.model;
    const envName = opts.apiKeyEnv ?? "OPENAI_API_KEY";
    const key = opts.apiKey ?? process.env[envName];
    if (opts.apiKeyEnv && opts.apiKey === undefined && !key) {
      throw new Error(`openai backend: environment variable ${opts.apiKeyEnv} (the API key) is not set`);
    }
    this.headers = key ? { authorization: `Bearer ${key}` } : {};
    this.policy = {
      maxRetries: opts.maxRetries ?? 5,
      baseDelayMs: opts.retryBaseMs ?? 1000,
      maxDelayMs: opts.retryMaxMs ?? 60_000,
      timeoutMs: opts.timeoutMs ?? 600_000,
    };
    this.slots = new Semaphore(opts.concurrency ?? 8);
    this.ignoresN = opts.nMode === "split";
  }

  get name(): string {
    return `openai:${this.baseUrl}${this.model ? ` model=${this.model}` : ""}`;
  }

  /** The model name: the given one, else the single model GET /v1/models lists. */
  resolveModel(): Promise<string> {
    if (this.model) return Promise.resolve(this.model);
    this.modelLookup ??= (async () => {
      const url = `${this.baseUrl}/models`;
      const json = (await requestJson(
        url,
        {
          method: "GET",
          headers: this.headers,
          validate: (j) => (Array.isArray((j as any)?.data) ? null : "no data array"),
        },
        this.policy,
        this.closed.signal,
      )) as { data: { id?: string }[] };
      const ids = json.data.map((m) => m.id).filter((id): id is string => typeof id === "string");
      if (ids.length !== 1) {
        throw new Error(
          `openai backend: GET ${url} lists ${ids.length === 0 ? "no models" : `several models (${ids.join(", ")})`}; pass the model name`,
        );
      }
      this.model = ids[0];
      return ids[0];
    })();
    this.modelLookup.catch(() => {
      this.modelLookup = undefined; // let a later call try again
    });
    return this.modelLookup;
  }

  async generate(
    requests: GenRequest[],
    opts: SamplingOptions,
    onResult?: (index: number, result: GenResult) => void,
  ): Promise<GenResult[]> {
    if (this.closed.signal.aborted) throw new Error(`${this.name}: generate() after close()`);
    validSampling(opts);
    if (requests.length === 0) return [];
    requests.forEach((r, i) => {
      if (this.endpoint === "chat" && !r.messages?.length) {
        throw new Error(
          `openai backend: request ${i} has no messages; the chat endpoint needs them (or use endpoint "completions")`,
        );
      }
      if (this.endpoint === "completions" && typeof r.prompt !== "string") {
        throw new Error(
          `openai backend: request ${i} has no prompt; the completions endpoint needs a templated prompt string`,
        );
      }
    });
    const model = await this.resolveModel();
    // One failure cancels the rest of this batch (their retries would only delay the error).
    const batch = new AbortController();
    const signal = AbortSignal.any([this.closed.signal, batch.signal]);
    try {
      return await Promise.all(
        requests.map(async (req, i) => {
          const result = await this.generateOne(req, opts, model, signal);
          onResult?.(i, result);
          return result;
        }),
      );
    } catch (e) {
      batch.abort();
      throw e;
    }
  }

  /** All n samples of one request: one call with n, or one call per sample. */
  private async generateOne(
    req: GenRequest,
    o: SamplingOptions,
    model: string,
    signal: AbortSignal,
  ): Promise<GenResult> {
    const calls: CompletionResponse[] = [];
    if (!this.ignoresN || o.n === 1) {
      calls.push(await this.call(this.body(req, o, model, o.n, o.seed), signal));
      const got = calls[0].choices.length;
      if (got < o.n && this.opts.nMode === "native") {
        throw new Error(
          `${this.name}: asked for n=${o.n} completions, the server returned ${got} (try nMode "split")`,
        );
      }
      if (got < o.n) this.ignoresN = true;
    }
    const have = calls.reduce((s, c) => s + c.choices.length, 0);
    const rest = Array.from({ length: o.n - have }, (_, j) => have + j);
    const more = await Promise.all(
      rest.map((j) =>
        this.call(this.body(req, o, model, 1, o.seed === undefined ? undefined : o.seed + j), signal),
      ),
    );
    calls.push(...more);
    const choices = calls
      .flatMap((c) => [...c.choices].sort((a, b) => (a.index ?? 0) - (b.index ?? 0)))
      .slice(0, o.n);
    const usage = calls.every((c) => c.usage)
      ? {
          promptTokens: calls.reduce((s, c) => s + (c.usage!.prompt_tokens ?? 0), 0),
          completionTokens: calls.reduce((s, c) => s + (c.usage!.completion_tokens ?? 0), 0),
        }
      : undefined;
    return {
      completions: choices.map((c) => this.text(c)),
      finishReasons: choices.map((c) => c.finish_reason ?? "unknown"),
      ...(usage ? { usage } : {}),
    };
  }

  private body(
    req: GenRequest,
    o: SamplingOptions,
    model: string,
    n: number,
    seed: number | undefined,
  ): Record<string, unknown> {
    const input: { messages: ChatMessage[] } | { prompt: string } =
      this.endpoint === "chat" ? { messages: req.messages! } : { prompt: req.prompt! };
    return {
      model,
      ...input,
      n,
      max_tokens: o.maxTokens,
      temperature: o.temperature,
      top_p: o.topP,
      ...(o.topK ? { top_k: o.topK } : {}),
      ...(seed !== undefined ? { seed } : {}),
      ...(o.stop?.length ? { stop: o.stop } : {}),
      ...this.opts.extraBody,
    };
  }

  private call(body: Record<string, unknown>, signal: AbortSignal): Promise<CompletionResponse> {
    const url = `${this.baseUrl}/${this.endpoint === "chat" ? "chat/completions" : "completions"}`;
    const validate = (j: unknown): string | null => {
      const choices = (j as CompletionResponse | null)?.choices;
      if (!Array.isArray(choices) || choices.length === 0) return "no choices";
      for (const c of choices) {
        if (
          this.endpoint === "chat"
            ? typeof c?.message !== "object" || c.message === null
            : typeof c?.text !== "string"
        ) {
          return this.endpoint === "chat" ? "a choice without a message" : "a choice without text";
        }
      }
      return null;
    };
    return this.slots.run(
      () =>
        requestJson(
          url,
          { method: "POST", headers: this.headers, body, validate },
          this.policy,
          signal,
        ) as Promise<CompletionResponse>,
    );
  }

  private text(c: Choice): string {
    if (this.endpoint === "completions") return c.text ?? "";
    const content = c.message?.content ?? "";
    const reasoning = c.message?.reasoning_content ?? c.message?.reasoning;
    if (!reasoning) return content;
    return joinReasoning(reasoning, content, content === "" && c.finish_reason === "length");
  }

  async close(): Promise<void> {
    this.closed.abort(new Error(`${this.name}: closed`));
  }
}

export { HttpError };
