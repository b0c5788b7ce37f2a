// `r1lab serve model`'s server (src/serve/server.ts) driven by the official `openai` npm client:
// GET /v1/models, chat and completions with and without streaming, n > 1 with a seed, stop strings,
// logprobs, the deepseek_r1 reasoning split, usage, OpenAI-shaped 400/401/404/429 errors, a client
// that disconnects, and a bounded loopback load of 32 concurrent clients with zero errors. Greedy
// completions must equal the native backend's (what `r1lab eval --backend native` produces).
// The model is tests/fixtures/hf-reference/tiny-qwen2 with a chat template added.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NativeBackend } from "../src/backends/native.ts";
import { initEngine } from "../src/engine/device.ts";
import { loadServedModel, type ServedModel } from "../src/serve/served-model.ts";
import { listenModelServer } from "../src/serve/server.ts";

const FIXTURE = join(import.meta.dirname, "fixtures/hf-reference/tiny-qwen2");
const tmp = mkdtempSync(join(tmpdir(), "r1lab-serve-"));
const dir = join(tmp, "tiny-qwen2-chat");
const NAME = "tiny-qwen2";
const TEMPLATE =
  "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}\n{% endfor %}{% if add_generation_prompt %}<|assistant|><think>\n{% endif %}";
const messages = [{ role: "user" as const, content: "What is 2 + 3?" }];

let model: ServedModel;
let native: NativeBackend;
type Started = Awaited<ReturnType<typeof listenModelServer>>;
const servers: Started[] = [];
let main: Started;
let client: OpenAI;

async function start(o: Parameters<typeof listenModelServer>[1]): Promise<Started> {
  const s = await listenModelServer(model, o);
  servers.push(s);
  return s;
}
const clientOf = (s: Started, o: Partial<ConstructorParameters<typeof OpenAI>[0]> = {}) =>
  new OpenAI({ baseURL: `${s.url}/v1`, apiKey: "none", maxRetries: 0, ...o });

beforeAll(async () => {
  cpSync(FIXTURE, dir, { recursive: true });
  const tc = JSON.parse(readFileSync(join(dir, "tokenizer_config.json"), "utf8"));
  writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify({ ...tc, chat_template: TEMPLATE }));
  await initEngine({ device: "cpu" });
  model = await loadServedModel({ model: dir, name: NAME });
  native = await NativeBackend.load({ model: dir, batchSize: 4 });
  main = await start({ port: 0, maxBatch: 8, maxQueue: 64 });
  client = clientOf(main);
});

afterAll(async () => {
  for (const s of servers) await s.close();
  await native?.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe("serve model with the openai client", () => {
  it("lists the model", async () => {
    const list = await client.models.list();
    expect(list.data.map((m) => m.id)).toEqual([NAME]);
  });

  it("greedy chat equals the native backend; streaming gives the same text and usage", async () => {
    const [ref] = await native.generate([{ messages }], { temperature: 0, topP: 1, maxTokens: 12, n: 1 });
    const r = await client.chat.completions.create({ model: NAME, messages, temperature: 0, max_tokens: 12 });
    expect(r.object).toBe("chat.completion");
    expect(r.choices[0].message.content).toBe(ref.completions[0]);
    expect(r.choices[0].finish_reason).toBe("length");
    const promptIds = model.codec.chat!.encodeChat(messages, { addGenerationPrompt: true });
    expect(r.usage).toEqual({
      prompt_tokens: promptIds.length,
      completion_tokens: 12,
      total_tokens: promptIds.length + 12,
    });

    const stream = await client.chat.completions.create({
      model: NAME,
      messages,
      temperature: 0,
      max_completion_tokens: 12,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let finish: string | null = null;
    let usage: unknown = null;
    let chunks = 0;
    for await (const ch of stream) {
      chunks++;
      if (ch.usage) usage = ch.usage;
      for (const c of ch.choices) {
        text += c.delta.content ?? "";
        finish = c.finish_reason ?? finish;
      }
    }
    expect(chunks).toBeGreaterThan(3);
    expect(text).toBe(ref.completions[0]);
    expect(finish).toBe("length");
    expect(usage).toEqual(r.usage);
  });

  it("n > 1 with a seed: distinct, reproducible samples, as the native backend draws them", async () => {
    const ask = () =>
      client.chat.completions.create({ model: NAME, messages, n: 3, temperature: 1, seed: 7, max_tokens: 8 });
    const [a, b] = [await ask(), await ask()];
    expect(a.choices.map((c) => c.index)).toEqual([0, 1, 2]);
    const texts = a.choices.map((c) => c.message.content);
    expect(b.choices.map((c) => c.message.content)).toEqual(texts);
    expect(new Set(texts).size).toBeGreaterThan(1);
    const [ref] = await native.generate([{ messages }], {
      temperature: 1,
      topP: 1,
      maxTokens: 8,
      n: 3,
      seed: 7,
    });
    expect(texts).toEqual(ref.completions);
    expect(a.usage?.completion_tokens).toBe(24);
  });

  it("completions: a stop string ends the text before it, streaming or not", async () => {
    const ask = { model: NAME, prompt: "Hello world", temperature: 1, seed: 5, max_tokens: 16 };
    const text = (await client.completions.create(ask)).choices[0].text;
    // A two-character stop string first seen at least two characters in (the sampled text varies).
    const at = [...text].findIndex(
      (_, i) => i >= 2 && i + 2 <= text.length && text.indexOf(text.slice(i, i + 2)) === i,
    );
    expect(at).toBeGreaterThan(0);
    const stop = text.slice(at, at + 2);
    const expected = text.slice(0, at);
    const r = await client.completions.create({ ...ask, stop: [stop, "never"] });
    expect(r.choices[0].text).toBe(expected);
    expect(r.choices[0].finish_reason).toBe("stop");
    const s = await client.completions.create({ ...ask, stop, stream: true });
    let streamed = "";
    for await (const ch of s) streamed += ch.choices[0]?.text ?? "";
    expect(streamed).toBe(expected);
  });

  it("logprobs: the greedy token is the most likely one, with its top alternatives", async () => {
    const r = await client.chat.completions.create({
      model: NAME,
      messages,
      temperature: 0,
      max_tokens: 4,
      logprobs: true,
      top_logprobs: 3,
    });
    const content = r.choices[0].logprobs!.content!;
    expect(content).toHaveLength(4);
    for (const t of content) {
      expect(t.top_logprobs).toHaveLength(3);
      expect(t.logprob).toBeLessThan(0);
      expect(t.logprob).toBeCloseTo(t.top_logprobs[0].logprob, 6);
      expect(t.top_logprobs[0].logprob).toBeGreaterThanOrEqual(t.top_logprobs[1].logprob);
    }
    const c = await client.completions.create({
      model: NAME,
      prompt: "Hi",
      temperature: 0,
      max_tokens: 3,
      logprobs: 2,
    });
    expect(c.choices[0].logprobs!.token_logprobs).toHaveLength(3);
    expect(c.choices[0].logprobs!.tokens!.join("")).toBe(c.choices[0].text);
  });

  it("the deepseek_r1 parser: an output that never closes <think> is all reasoning, streamed as reasoning too", async () => {
    const s = await start({ port: 0, reasoningParser: true });
    const c = clientOf(s);
    const r = await c.chat.completions.create({ model: NAME, messages, temperature: 0, max_tokens: 10 });
    const [ref] = await native.generate([{ messages }], { temperature: 0, topP: 1, maxTokens: 10, n: 1 });
    const msg = r.choices[0].message as unknown as { content: string | null; reasoning_content: string };
    expect(msg.content).toBeNull();
    expect(msg.reasoning_content).toBe(ref.completions[0]);
    const stream = await c.chat.completions.create({
      model: NAME,
      messages,
      temperature: 0,
      max_tokens: 10,
      stream: true,
    });
    let reasoning = "";
    for await (const ch of stream)
      reasoning += (ch.choices[0]?.delta as { reasoning_content?: string })?.reasoning_content ?? "";
    expect(reasoning).toBe(ref.completions[0]);
  });

  it("bad requests get 400 in OpenAI's error shape; an unknown model 404", async () => {
    const bad = await client.chat.completions
      .create({ model: NAME, messages, temperature: 7 })
      .catch((e) => e);
    expect(bad).toBeInstanceOf(OpenAI.BadRequestError);
    expect(bad.status).toBe(400);
    expect(bad.error).toMatchObject({ type: "invalid_request_error", param: "temperature" });
    const long = await client.completions
      .create({ model: NAME, prompt: "x", max_tokens: 1000 })
      .catch((e) => e);
    expect(long.status).toBe(400);
    expect(long.message).toMatch(/maximum context length is 256 tokens/);
    const tools = await client.chat.completions
      .create({ model: NAME, messages, tools: [{ type: "function", function: { name: "f" } }] })
      .catch((e) => e);
    expect(tools.status).toBe(400);
    expect(tools.error.param).toBe("tools");
    const unknown = await client.chat.completions.create({ model: "gpt-4o", messages }).catch((e) => e);
    expect(unknown).toBeInstanceOf(OpenAI.NotFoundError);
    const raw = await fetch(`${main.url}/v1/chat/completions`, { method: "POST", body: "{not json" });
    expect(raw.status).toBe(400);
    expect(((await raw.json()) as any).error.message).toMatch(/not valid JSON/);
  });

  it("an API key when asked: 401 without it", async () => {
    const s = await start({ port: 0, apiKey: "sekret" });
    const denied = await clientOf(s, { apiKey: "wrong" })
      .models.list()
      .catch((e) => e);
    expect(denied).toBeInstanceOf(OpenAI.AuthenticationError);
    const ok = await clientOf(s, { apiKey: "sekret" }).models.list();
    expect(ok.data[0].id).toBe(NAME);
  });

  it("a full queue answers 429; a client that disconnects frees its row", async () => {
    const s = await start({ port: 0, maxBatch: 1, maxQueue: 1 });
    const c = clientOf(s);
    const ac = new AbortController();
    const long = await c.chat.completions.create(
      { model: NAME, messages, max_tokens: 200, temperature: 0, stream: true },
      { signal: ac.signal },
    );
    const it0 = long[Symbol.asyncIterator]();
    await it0.next(); // it holds the only row now
    const waiting = c.chat.completions.create({ model: NAME, messages, max_tokens: 3, temperature: 0 });
    await new Promise((res) => setTimeout(res, 50));
    const refused = await c.chat.completions.create({ model: NAME, messages, max_tokens: 3 }).catch((e) => e);
    expect(refused).toBeInstanceOf(OpenAI.RateLimitError);
    expect(refused.status).toBe(429);
    const before = s.engine.stats.tokens;
    ac.abort();
    const done = await waiting; // runs once the aborted stream's row is free
    expect(done.choices[0].message.content).toBeTypeOf("string");
    expect(s.engine.stats.tokens - before).toBeLessThan(150);
    expect(s.engine.load).toEqual({ running: 0, waiting: 0 });
  });

  it("32 concurrent clients, 256 requests: zero errors, every answer the greedy one", async () => {
    const prompts = ["alpha", "beta gamma", "delta epsilon zeta", "eta"];
    const refs = await Promise.all(
      prompts.map((p) =>
        client.completions.create({ model: NAME, prompt: p, temperature: 0, max_tokens: 6 }),
      ),
    );
    let errors = 0;
    let wrong = 0;
    const t0 = Date.now();
    await Promise.all(
      Array.from({ length: 32 }, async (_, k) => {
        for (let i = 0; i < 8; i++) {
          const j = (k + i) % prompts.length;
          try {
            const r = await client.completions.create({
              model: NAME,
              prompt: prompts[j],
              temperature: 0,
              max_tokens: 6,
            });
            if (r.choices[0].text !== refs[j].choices[0].text) wrong++;
          } catch {
            errors++;
          }
        }
      }),
    );
    expect(errors).toBe(0);
    expect(wrong).toBe(0);
    expect(Date.now() - t0).toBeLessThan(100_000);
    expect(main.engine.stats.rowsPerStep / main.engine.stats.steps).toBeGreaterThan(1.5); // requests shared steps
  });
});
