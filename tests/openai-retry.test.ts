// The OpenAI backend's failure handling against the scripted fake server: 429 with Retry-After,
// 500 then success, malformed JSON, a response slower than the timeout, a 400 (no retry), a dead
// server, and close() cancelling in-flight work. Every case is bounded in time.

import { afterEach, describe, expect, it } from "vitest";
import { backoffMs, parseRetryAfter, Semaphore } from "../src/backends/http-json.ts";
import { OpenAIBackend } from "../src/backends/openai.ts";
import type { SamplingOptions } from "../src/backends/types.ts";
import { echoText, type FakeOpenAIServer, startFakeOpenAI } from "./helpers/fake-openai-server.ts";

const SAMPLING: SamplingOptions = { temperature: 0, topP: 1, maxTokens: 16, n: 1 };
let server: FakeOpenAIServer | undefined;
const backends: OpenAIBackend[] = [];

function backend(opts: Partial<ConstructorParameters<typeof OpenAIBackend>[0]> = {}): OpenAIBackend {
  const b = new OpenAIBackend({
    baseUrl: server!.url,
    model: "m",
    retryBaseMs: 5,
    retryMaxMs: 20,
    timeoutMs: 3000,
    ...opts,
  });
  backends.push(b);
  return b;
}

afterEach(async () => {
  for (const b of backends.splice(0)) await b.close();
  await server?.close();
  server = undefined;
});

const q = [{ messages: [{ role: "user" as const, content: "q" }] }];
const posts = () => server!.requests.filter((r) => r.method === "POST");

describe("retry helpers", () => {
  it("reads Retry-After as seconds or an HTTP date", () => {
    expect(parseRetryAfter("2")).toBe(2000);
    expect(parseRetryAfter("0.5")).toBe(500);
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:03 GMT", now)).toBe(3000);
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter("soon")).toBeUndefined();
    expect(parseRetryAfter("999999")).toBe(10 * 60_000);
  });

  it("backs off exponentially with jitter in [50%, 100%], capped", () => {
    const p = { maxRetries: 5, baseDelayMs: 100, maxDelayMs: 1000, timeoutMs: 1 };
    expect([0, 1, 2, 3, 4].map((r) => backoffMs(r, p, () => 1))).toEqual([100, 200, 400, 800, 1000]);
    expect([0, 1, 2, 3, 4].map((r) => backoffMs(r, p, () => 0))).toEqual([50, 100, 200, 400, 500]);
  });

  it("Semaphore never runs more than its limit", async () => {
    const s = new Semaphore(2);
    let active = 0;
    let peak = 0;
    const task = async () => {
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, 5));
      active--;
    };
    await Promise.all(Array.from({ length: 10 }, () => s.run(task)));
    expect(peak).toBe(2);
    expect(() => new Semaphore(0)).toThrow(/>= 1/);
  });
});

describe("OpenAIBackend failures", () => {
  it("waits for Retry-After on 429, then succeeds", async () => {
    server = await startFakeOpenAI();
    server.script({ kind: "status", status: 429, retryAfter: "1" });
    const t0 = Date.now();
    const [r] = await backend().generate(q, SAMPLING);
    const took = Date.now() - t0;
    expect(r.completions).toEqual([echoText("q", 0, undefined)]);
    const [a, b] = posts();
    expect(posts()).toHaveLength(2);
    expect(b.at - a.at).toBeGreaterThanOrEqual(950); // Retry-After, not the 5 ms backoff
    expect(took).toBeLessThan(3000);
  });

  it("retries a 500 and succeeds on the next attempt", async () => {
    server = await startFakeOpenAI();
    server.script({ kind: "status", status: 500 }, { kind: "status", status: 503 });
    const [r] = await backend().generate(q, SAMPLING);
    expect(r.completions).toEqual([echoText("q", 0, undefined)]);
    expect(posts()).toHaveLength(3);
  });

  it("retries malformed JSON; names the URL and the problem when it never gets better", async () => {
    server = await startFakeOpenAI();
    server.script({ kind: "malformed" });
    const [r] = await backend().generate(q, SAMPLING);
    expect(r.completions).toHaveLength(1);
    server.script(...Array.from({ length: 3 }, () => ({ kind: "malformed" as const })));
    const err = await backend({ maxRetries: 2 })
      .generate(q, SAMPLING)
      .catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toContain(
      `POST ${server.url}/v1/chat/completions failed after 3 attempts`,
    );
    expect((err as Error).message).toContain("malformed JSON");
  });

  it("gives up on a 500 after the last retry with the URL, status and server message", async () => {
    server = await startFakeOpenAI();
    server.script(
      ...Array.from({ length: 4 }, () => ({
        kind: "status" as const,
        status: 500,
        body: '{"error":"GPU on fire"}',
      })),
    );
    await expect(backend({ maxRetries: 3 }).generate(q, SAMPLING)).rejects.toThrow(
      new RegExp(`POST ${server.url}/v1/chat/completions failed after 4 attempts: HTTP 500 .*GPU on fire`),
    );
    expect(posts()).toHaveLength(4);
  });

  it("does not retry a 400", async () => {
    server = await startFakeOpenAI();
    server.script({ kind: "status", status: 400, body: '{"error":{"message":"max_tokens too large"}}' });
    await expect(backend().generate(q, SAMPLING)).rejects.toThrow(/failed: HTTP 400 .*max_tokens too large/);
    expect(posts()).toHaveLength(1);
  });

  it("times out a slow response, retries, and succeeds when the server recovers", async () => {
    server = await startFakeOpenAI();
    server.script({ kind: "slow", delayMs: 5000 });
    const t0 = Date.now();
    const [r] = await backend({ timeoutMs: 300 }).generate(q, SAMPLING);
    expect(r.completions).toEqual([echoText("q", 0, undefined)]);
    expect(posts()).toHaveLength(2);
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it("reports a timeout after the last retry", async () => {
    server = await startFakeOpenAI();
    server.script({ kind: "slow", delayMs: 5000 }, { kind: "slow", delayMs: 5000 });
    const t0 = Date.now();
    await expect(backend({ timeoutMs: 200, maxRetries: 1 }).generate(q, SAMPLING)).rejects.toThrow(
      /chat\/completions failed after 2 attempts: timed out after 200 ms/,
    );
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it("retries network errors and then names the unreachable URL", async () => {
    server = await startFakeOpenAI();
    const deadUrl = server.url;
    await server.close();
    server = await startFakeOpenAI(); // for afterEach
    const b = new OpenAIBackend({
      baseUrl: deadUrl,
      model: "m",
      retryBaseMs: 5,
      retryMaxMs: 10,
      maxRetries: 2,
    });
    backends.push(b);
    await expect(b.generate(q, SAMPLING)).rejects.toThrow(
      new RegExp(`POST ${deadUrl}/v1/chat/completions failed after 3 attempts: network error: ECONNREFUSED`),
    );
  });

  it("close() cancels requests in flight promptly", async () => {
    server = await startFakeOpenAI();
    server.script({ kind: "slow", delayMs: 5000 });
    const b = backend({ timeoutMs: 10_000 });
    const t0 = Date.now();
    const pending = b.generate(q, SAMPLING);
    await new Promise((r) => setTimeout(r, 100));
    await b.close();
    await expect(pending).rejects.toThrow(/cancelled/);
    expect(Date.now() - t0).toBeLessThan(1500);
    await expect(b.generate(q, SAMPLING)).rejects.toThrow(/after close/);
  });
});
