// One API request run on the engine: its prompts become jobs of n sequences each (choice index =
// prompt * n + sample), tokens become text (choice-text.ts), the deepseek_r1 split when asked
// (reasoning.ts), and the result is written in the OpenAI shapes: a chat.completion or
// text_completion object, or with `stream` a series of server-sent events ("data: {chunk}\n\n",
// ending "data: [DONE]\n\n"), the last chunk carrying usage when stream_options.include_usage.
import { randomBytes, randomInt } from "node:crypto";
import type { BatchEngine, Job } from "./batch-engine.ts";
import { ChoiceText } from "./choice-text.ts";
import type { TokenLogprob } from "./logprobs.ts";
import { ApiError, type GenerationRequest } from "./protocol.ts";
import { ReasoningStream, splitReasoning } from "./reasoning.ts";
import { encodePrompt, type ServedModel } from "./served-model.ts";

export interface Sink {
  /** Stream one chunk (an object sent as an SSE data line). */
  chunk(obj: unknown): void;
}

interface Choice {
  index: number;
  text: ChoiceText;
  reasoning: ReasoningStream | null;
  lps: { id: number; lp: TokenLogprob }[];
  sentLps: number;
  finish: string | null;
  started: boolean;
}

export interface RunOptions {
  reasoningParser: boolean;
  signal: AbortSignal;
  /** Set for streaming: chunks go here as tokens arrive. */
  sink: Sink | null;
}

/** Check and encode the prompts; throws ApiError for prompts that do not fit. */
export function preparePrompts(
  m: ServedModel,
  req: GenerationRequest,
): { ids: number[][]; maxNew: number[] } {
  const positions = m.config.maxPositionEmbeddings;
  const ids = req.prompts.map((p) => encodePrompt(m, p, req.chatTemplateKwargs));
  const maxNew = ids.map((p) => {
    if (p.length >= positions)
      throw new ApiError(
        400,
        `the prompt is ${p.length} tokens; this model's maximum context length is ${positions} tokens`,
        req.kind === "chat" ? "messages" : "prompt",
      );
    if (req.maxTokens !== null && p.length + req.maxTokens > positions)
      throw new ApiError(
        400,
        `this model's maximum context length is ${positions} tokens; you requested ${p.length + req.maxTokens} tokens (${p.length} in the prompt, ${req.maxTokens} in the completion)`,
        req.kind === "chat" ? "max_completion_tokens" : "max_tokens",
      );
    return req.maxTokens ?? positions - p.length;
  });
  return { ids, maxNew };
}

/** Run a request to the end; returns the response object (streaming: the usage, already sent). */
export async function runCompletion(
  engine: BatchEngine,
  m: ServedModel,
  req: GenerationRequest,
  o: RunOptions,
) {
  const { ids, maxNew } = preparePrompts(m, req);
  const chat = req.kind === "chat";
  const id = `${chat ? "chatcmpl" : "cmpl"}-${randomBytes(12).toString("hex")}`;
  const created = Math.floor(Date.now() / 1000);
  const object = chat ? (o.sink ? "chat.completion.chunk" : "chat.completion") : "text_completion";
  const head = { id, object, created, model: m.name };
  const eos = new Set(m.codec.eosIds);
  const seed = req.seed ?? randomInt(2 ** 31);
  const choices: Choice[] = [];
  const jobs: Job[] = [];
  let failure: Error | null = null;
  let left = ids.length * req.n;
  let finished!: () => void;
  const done = new Promise<void>((res) => {
    finished = res;
  });
  const usageOnChunks = o.sink && req.includeUsage ? { usage: null } : {};

  const emit = (c: Choice, last: boolean) => {
    if (!o.sink) return;
    const text = c.text.delta();
    const newLps = c.lps.slice(c.sentLps);
    if (!last && text === "" && newLps.length === 0 && c.started) return;
    c.sentLps = c.lps.length;
    const lp = req.logprobs === null ? null : formatLogprobs(m, chat, newLps);
    if (chat) {
      const delta: Record<string, unknown> = c.started ? {} : { role: "assistant", content: "" };
      c.started = true;
      if (c.reasoning) {
        const part = c.reasoning.push(text, last);
        if (part.reasoning) delta.reasoning_content = part.reasoning;
        if (part.content) delta.content = part.content;
      } else if (text) delta.content = text;
      o.sink.chunk({
        ...head,
        choices: [{ index: c.index, delta, logprobs: lp, finish_reason: last ? c.finish : null }],
        ...usageOnChunks,
      });
    } else {
      c.started = true;
      o.sink.chunk({
        ...head,
        choices: [{ index: c.index, text, logprobs: lp, finish_reason: last ? c.finish : null }],
        ...usageOnChunks,
      });
    }
  };

  ids.forEach((prompt, p) => {
    const job: Job = {
      prompt,
      signal: o.signal,
      onError: (e) => {
        failure = e;
      },
      seqs: Array.from({ length: req.n }, (_, j) => {
        const c: Choice = {
          index: p * req.n + j,
          text: new ChoiceText((t) => m.codec.decode(t), eos, req.stop),
          reasoning: chat && o.reasoningParser && o.sink ? new ReasoningStream() : null,
          lps: [],
          sentLps: 0,
          finish: null,
          started: false,
        };
        choices.push(c);
        return {
          sampling: req.sampling,
          seed,
          index: j,
          maxNewTokens: maxNew[p],
          logprobs: req.logprobs,
          onToken: (tok, lp) => {
            const stop = c.text.push(tok);
            if (lp) c.lps.push({ id: tok, lp });
            emit(c, false);
            return stop;
          },
          onFinish: (reason) => {
            c.text.finish();
            c.finish = reason === "abort" ? null : reason;
            if (reason !== "abort") emit(c, true);
            if (--left === 0) finished();
          },
        };
      }),
    };
    jobs.push(job);
  });
  const errorOnce = (e: Error) => {
    if (!failure) failure = e;
    if (left > 0) {
      left = 0;
      finished();
    }
  };
  for (const j of jobs) j.onError = errorOnce;
  if (req.n > engine.maxBatch)
    throw new ApiError(400, `n: ${req.n} is more than this server's --max-batch ${engine.maxBatch}`, "n");
  if (!engine.canQueue(jobs.length))
    throw new ApiError(
      429,
      "the server is busy (its request queue is full); retry later",
      null,
      "rate_limit_error",
      "queue_full",
    );
  for (const j of jobs) engine.submit(j);
  await done;
  if (failure) throw new ApiError(500, `generation failed: ${(failure as Error).message}`);
  choices.sort((a, b) => a.index - b.index);
  const completionTokens = choices.reduce((s, c) => s + c.text.ids.length, 0);
  const promptTokens = ids.reduce((s, p) => s + p.length, 0);
  const usage = {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
  };
  if (o.sink) {
    if (req.includeUsage) o.sink.chunk({ ...head, choices: [], usage });
    return null;
  }
  return {
    ...head,
    choices: choices.map((c) => {
      const lp = req.logprobs === null ? null : formatLogprobs(m, chat, c.lps);
      if (!chat) return { index: c.index, text: c.text.value, logprobs: lp, finish_reason: c.finish };
      const message: Record<string, unknown> = { role: "assistant", content: c.text.value };
      if (o.reasoningParser) {
        const split = splitReasoning(c.text.value);
        message.reasoning_content = split.reasoning;
        message.content = split.content;
      }
      return { index: c.index, message, logprobs: lp, finish_reason: c.finish };
    }),
    usage,
  };
}

/** Logprobs in the chat shape ({content: [{token, logprob, bytes, top_logprobs}]}) or the completions one. */
function formatLogprobs(m: ServedModel, chat: boolean, lps: { id: number; lp: TokenLogprob }[]) {
  const str = (id: number) => m.codec.decode([id]);
  if (chat) {
    const entry = (id: number, logprob: number) => {
      const token = str(id);
      return { token, logprob, bytes: [...Buffer.from(token, "utf8")] };
    };
    return {
      content: lps.map(({ id, lp }) => ({
        ...entry(id, lp.logprob),
        top_logprobs: lp.top.map((t) => entry(t.id, t.logprob)),
      })),
    };
  }
  let offset = 0;
  const textOffset = lps.map(({ id }) => {
    const at = offset;
    offset += str(id).length;
    return at;
  });
  return {
    tokens: lps.map(({ id }) => str(id)),
    token_logprobs: lps.map(({ lp }) => lp.logprob),
    top_logprobs: lps.map(({ lp }) => Object.fromEntries(lp.top.map((t) => [str(t.id), t.logprob]))),
    text_offset: textOffset,
  };
}
