// The OpenAI-compatible backend against the loopback fake server: request bodies, both endpoints,
// n (native and for servers that ignore it), model discovery, API keys, reasoning re-joined as
// <think>, and the concurrency cap.

import { afterEach, describe, expect, it } from "vitest";
import { joinReasoning, normalizeBaseUrl, OpenAIBackend, openaiTarget } from "../src/backends/openai.ts";
import type { SamplingOptions } from "../src/backends/types.ts";
import { echoText, type FakeOpenAIServer, startFakeOpenAI } from "./helpers/fake-openai-server.ts";

const SAMPLING: SamplingOptions = { temperature: 0.6, topP: 0.95, maxTokens: 64, n: 1 };
const FAST = { retryBaseMs: 5, retryMaxMs: 20, timeoutMs: 5000 };
let server: FakeOpenAIServer | undefined;
const backends: OpenAIBackend[] = [];

function backend(opts: ConstructorParameters<typeof OpenAIBackend>[0]): OpenAIBackend {
  const b = new OpenAIBackend({ ...FAST, ...opts });
  backends.push(b);
  return b;
}

afterEach(async () => {
  for (const b of backends.splice(0)) await b.close();
  await server?.close();
  server = undefined;
});

const user = (content: string) => ({ messages: [{ role: "user" as const, content }] });
const posts = (s: FakeOpenAIServer) => s.requests.filter((r) => r.method === "POST");

describe("normalizeBaseUrl / joinReasoning", () => {
  it("adds /v1 once and drops trailing slashes", () => {
    expect(normalizeBaseUrl("http://127.0.0.1:8000")).toBe("http://127.0.0.1:8000/v1");
    expect(normalizeBaseUrl("http://127.0.0.1:8000/")).toBe("http://127.0.0.1:8000/v1");
    expect(normalizeBaseUrl("http://127.0.0.1:8000/v1/")).toBe("http://127.0.0.1:8000/v1");
    expect(normalizeBaseUrl("https://api.deepseek.com")).toBe("https://api.deepseek.com/v1");
    expect(normalizeBaseUrl("http://h/proxy/openai/v1")).toBe("http://h/proxy/openai/v1");
    expect(() => normalizeBaseUrl("localhost:8000")).toThrow(/http/);
    expect(() => normalizeBaseUrl("not a url")).toThrow(/not a URL/);
  });

  it("puts the reasoning in <think> before the answer", () => {
    expect(joinReasoning("\nLet me add.\n", "\n\n4")).toBe("<think>\nLet me add.\n</think>\n\n4");
    // Cut off by max_tokens while reasoning: the block stays open, as the model left it.
    expect(joinReasoning("Let me add", "", true)).toBe("<think>\nLet me add");
  });
});

describe("OpenAIBackend", () => {
  it("sends the sampling options and returns completions in request order", async () => {
    server = await startFakeOpenAI();
    const b = backend({ baseUrl: `${server.url}/v1/`, model: "m1", apiKey: "sk-test" });
    const seen: number[] = [];
    const opts = { ...SAMPLING, n: 3, seed: 11, topK: 20, stop: ["</answer>"] };
    const out = await b.generate([user("a"), user("b")], opts, (i, r) => {
      seen.push(i);
      expect(r.completions).toHaveLength(3);
    });
    expect(out.map((r) => r.completions)).toEqual([
      [0, 1, 2].map((i) => echoText("a", i, 11)),
      [0, 1, 2].map((i) => echoText("b", i, 11)),
    ]);
    expect(out[0].finishReasons).toEqual(["stop", "stop", "stop"]);
    expect(out[0].usage).toEqual({ promptTokens: 7, completionTokens: 15 });
    expect(seen.sort()).toEqual([0, 1]);
    const reqs = posts(server);
    expect(reqs).toHaveLength(2);
    expect(reqs[0].path).toBe("/v1/chat/completions");
    expect(reqs[0].headers.authorization).toBe("Bearer sk-test");
    expect(reqs[0].body).toMatchObject({
      model: "m1",
      n: 3,
      max_tokens: 64,
      temperature: 0.6,
      top_p: 0.95,
      top_k: 20,
      seed: 11,
      stop: ["</answer>"],
      messages: [{ role: "user", content: "a" }],
    });
    expect(b.name).toBe(`openai:${server.url}/v1 model=m1`);
  });

  it("uses the completions endpoint with raw prompts, and leaves out unset options", async () => {
    server = await startFakeOpenAI();
    const b = backend({ baseUrl: server.url, model: "m1", endpoint: "completions" });
    const [r] = await b.generate([{ prompt: "<|User|>2+2?<|Assistant|><think>\n" }], SAMPLING);
    expect(r.completions).toEqual([echoText("<|User|>2+2?<|Assistant|><think>\n", 0, undefined)]);
    expect(r.finishReasons).toEqual(["length"]);
    const [req] = posts(server);
    expect(req.path).toBe("/v1/completions");
    expect(req.body).not.toHaveProperty("seed");
    expect(req.body).not.toHaveProperty("top_k");
    expect(req.body).not.toHaveProperty("stop");
    await expect(b.generate([user("x")], SAMPLING)).rejects.toThrow(/request 0 has no prompt/);
    const chat = backend({ baseUrl: server.url, model: "m1" });
    await expect(chat.generate([{ prompt: "x" }], SAMPLING)).rejects.toThrow(/request 0 has no messages/);
  });

  it("asks /v1/models for the model when none is given; several models is an error", async () => {
    server = await startFakeOpenAI({ models: ["served-model"] });
    const b = backend({ baseUrl: server.url });
    await b.generate([user("q")], SAMPLING);
    expect(posts(server)[0].body.model).toBe("served-model");
    expect(b.name).toContain("model=served-model");
    await server.close();
    server = await startFakeOpenAI({ models: ["a", "b"] });
    const many = backend({ baseUrl: server.url });
    await expect(many.generate([user("q")], SAMPLING)).rejects.toThrow(
      /several models \(a, b\); pass the model name/,
    );
  });

  it("takes the server from OPENAI_BASE_URL when no baseUrl is given; none at all is an error", async () => {
    server = await startFakeOpenAI();
    const saved = process.env.OPENAI_BASE_URL;
    try {
      process.env.OPENAI_BASE_URL = `${server.url}/v1`;
      const b = backend({ model: "m" });
      expect(b.baseUrl).toBe(`${server.url}/v1`);
      const [r] = await b.generate([user("q")], SAMPLING);
      expect(r.completions).toEqual([echoText("q", 0, undefined)]);
      delete process.env.OPENAI_BASE_URL;
      expect(() => backend({ model: "m" })).toThrow(/no server: pass baseUrl or set OPENAI_BASE_URL/);
    } finally {
      if (saved === undefined) delete process.env.OPENAI_BASE_URL;
      else process.env.OPENAI_BASE_URL = saved;
    }
    const env = { OPENAI_BASE_URL: "http://h:1/v1" };
    expect(openaiTarget("http://x:8000", env)).toEqual({ baseUrl: "http://x:8000" });
    expect(openaiTarget("deepseek-reasoner", env)).toEqual({
      baseUrl: "http://h:1/v1",
      model: "deepseek-reasoner",
    });
    expect(openaiTarget(undefined, env)).toEqual({ baseUrl: "http://h:1/v1" });
    expect(openaiTarget("name", {})).toBeNull();
  });

  it("takes the API key from OPENAI_API_KEY or a named variable, and names a missing one", async () => {
    server = await startFakeOpenAI();
    const saved = { OPENAI_API_KEY: process.env.OPENAI_API_KEY, R1LAB_TEST_KEY: process.env.R1LAB_TEST_KEY };
    try {
      process.env.OPENAI_API_KEY = "sk-env";
      process.env.R1LAB_TEST_KEY = "sk-named";
      await backend({ baseUrl: server.url, model: "m" }).generate([user("q")], SAMPLING);
      await backend({ baseUrl: server.url, model: "m", apiKeyEnv: "R1LAB_TEST_KEY" }).generate(
        [user("q")],
        SAMPLING,
      );
      delete process.env.OPENAI_API_KEY;
      await backend({ baseUrl: server.url, model: "m" }).generate([user("q")], SAMPLING);
      expect(posts(server).map((r) => r.headers.authorization)).toEqual([
        "Bearer sk-env",
        "Bearer sk-named",
        undefined,
      ]);
      expect(() => backend({ baseUrl: server!.url, apiKeyEnv: "R1LAB_UNSET_KEY" })).toThrow(
        /R1LAB_UNSET_KEY .* not set/,
      );
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it("falls back to one request per sample (seed + j) when the server ignores n, and remembers it", async () => {
    server = await startFakeOpenAI({ ignoreN: true });
    const b = backend({ baseUrl: server.url, model: "m" });
    const [r] = await b.generate([user("q")], { ...SAMPLING, n: 4, seed: 100 });
    expect(r.completions).toEqual([
      echoText("q", 0, 100),
      echoText("q", 0, 101),
      echoText("q", 0, 102),
      echoText("q", 0, 103),
    ]);
    expect(r.usage).toEqual({ promptTokens: 28, completionTokens: 20 });
    expect(posts(server).map((q) => [q.body.n, q.body.seed])).toEqual([
      [4, 100],
      [1, 101],
      [1, 102],
      [1, 103],
    ]);
    // Learned: the next batch goes straight to n=1 requests.
    await b.generate([user("z")], { ...SAMPLING, n: 2, seed: 0 });
    expect(
      posts(server)
        .slice(4)
        .map((q) => [q.body.n, q.body.seed]),
    ).toEqual([
      [1, 0],
      [1, 1],
    ]);
    const strict = backend({ baseUrl: server.url, model: "m", nMode: "native" });
    await expect(strict.generate([user("q")], { ...SAMPLING, n: 2 })).rejects.toThrow(
      /asked for n=2 .* returned 1/,
    );
  });

  it("re-joins reasoning_content (DeepSeek API) and reasoning (vLLM) as <think>", async () => {
    server = await startFakeOpenAI();
    server.script(
      { kind: "reasoning", reasoning: "2 and 2 make 4.", content: "\\boxed{4}" },
      { kind: "reasoning", field: "reasoning", reasoning: "Easy.", content: "4" },
      { kind: "reasoning", reasoning: "Hmm, 2 and", content: null, finishReason: "length" },
    );
    const b = backend({ baseUrl: server.url, model: "m", concurrency: 1 });
    const out = await b.generate([user("2+2"), user("2+2 again"), user("long")], SAMPLING);
    expect(out[0].completions[0]).toBe("<think>\n2 and 2 make 4.\n</think>\n\n\\boxed{4}");
    expect(out[1].completions[0]).toBe("<think>\nEasy.\n</think>\n\n4");
    expect(out[2].completions[0]).toBe("<think>\nHmm, 2 and");
    expect(out[2].finishReasons).toEqual(["length"]);
  });

  it("keeps at most `concurrency` requests in flight", async () => {
    server = await startFakeOpenAI();
    server.script(...Array.from({ length: 8 }, () => ({ kind: "ok" as const, delayMs: 60 })));
    const b = backend({ baseUrl: server.url, model: "m", concurrency: 3 });
    const out = await b.generate(
      Array.from({ length: 8 }, (_, i) => user(`p${i}`)),
      SAMPLING,
    );
    expect(out.map((r) => r.completions[0])).toEqual(
      Array.from({ length: 8 }, (_, i) => echoText(`p${i}`, 0, undefined)),
    );
    expect(server.maxInFlight).toBe(3);
  });

  it("rejects bad sampling options by name", async () => {
    const b = backend({ baseUrl: "http://127.0.0.1:9", model: "m" });
    await expect(b.generate([user("q")], { ...SAMPLING, n: 0 })).rejects.toThrow(/n = 0/);
    await expect(b.generate([user("q")], { ...SAMPLING, topP: 0 })).rejects.toThrow(/topP = 0/);
    await expect(b.generate([user("q")], { ...SAMPLING, maxTokens: 1.5 })).rejects.toThrow(/maxTokens = 1.5/);
  });
});
