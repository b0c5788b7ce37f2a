// A scripted OpenAI-compatible server on 127.0.0.1 (a free port) for the backend tests. Each
// completion request takes the next scripted behaviour (default "ok"): a normal answer, a slow
// one, an HTTP error status with optional Retry-After, malformed JSON, or a split-out reasoning
// field. Every request is recorded (path, headers, body, arrival time), and the number in flight
// is tracked for concurrency checks.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";

export type Behaviour =
  | { kind: "ok"; delayMs?: number }
  | { kind: "slow"; delayMs: number }
  | { kind: "status"; status: number; retryAfter?: string; body?: string }
  | { kind: "malformed" }
  | {
      kind: "reasoning";
      field?: "reasoning_content" | "reasoning";
      reasoning: string;
      content: string | null;
      finishReason?: string;
    };

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  body: any;
  at: number;
}

export interface FakeServerOptions {
  /** Models listed by GET /v1/models. Default ["fake-model"]. */
  models?: string[];
  /** Return one choice whatever n asks (like llama.cpp, Ollama, the DeepSeek API). */
  ignoreN?: boolean;
  /** The text of sample i for the last user input (a scripted "model"); default echoText. */
  answer?: (input: string, i: number, seed: unknown) => string;
}

export interface FakeOpenAIServer {
  /** http://127.0.0.1:PORT (no /v1). */
  url: string;
  requests: RecordedRequest[];
  /** Most completion requests in flight at once so far. */
  maxInFlight: number;
  /** Queue behaviours for the next completion requests, in arrival order. */
  script(...behaviours: Behaviour[]): void;
  close(): Promise<void>;
}

/** The deterministic text of sample `i`: shows which request and sample an answer belongs to. */
export function echoText(input: string, i: number, seed: unknown): string {
  return `echo:${input}#${i}${seed === undefined ? "" : `@${seed}`}`;
}

function lastInput(body: any): string {
  if (Array.isArray(body?.messages)) return String(body.messages[body.messages.length - 1]?.content ?? "");
  return String(body?.prompt ?? "");
}

export async function startFakeOpenAI(opts: FakeServerOptions = {}): Promise<FakeOpenAIServer> {
  const queue: Behaviour[] = [];
  const requests: RecordedRequest[] = [];
  let inFlight = 0;
  const state = { maxInFlight: 0 };

  const answer = (res: ServerResponse, path: string, body: any, b: Behaviour) => {
    const chat = path.endsWith("/chat/completions");
    const n = opts.ignoreN ? 1 : Number(body?.n ?? 1);
    const choices = Array.from({ length: n }, (_, i) => {
      let message: Record<string, unknown> = {
        role: "assistant",
        content: (opts.answer ?? echoText)(lastInput(body), i, body?.seed),
      };
      if (b.kind === "reasoning")
        message = { role: "assistant", content: b.content, [b.field ?? "reasoning_content"]: b.reasoning };
      const text = String(message.content);
      const finish = b.kind === "reasoning" ? (b.finishReason ?? "stop") : "stop";
      return chat
        ? { index: i, message, finish_reason: finish }
        : { index: i, text, finish_reason: "length" };
    });
    res.writeHead(200, { "content-type": "application/json" });
    res.end(
      JSON.stringify({
        id: "fake",
        object: chat ? "chat.completion" : "text_completion",
        choices,
        usage: { prompt_tokens: 7, completion_tokens: 5 * n },
      }),
    );
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      const path = req.url ?? "/";
      let body: any = null;
      try {
        body = raw ? JSON.parse(raw) : null;
      } catch {
        body = raw;
      }
      requests.push({ method: req.method ?? "", path, headers: req.headers, body, at: Date.now() });
      if (req.method === "GET" && path === "/v1/models") {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            object: "list",
            data: (opts.models ?? ["fake-model"]).map((id) => ({ id, object: "model" })),
          }),
        );
        return;
      }
      if (req.method !== "POST" || !/^\/v1\/(chat\/)?completions$/.test(path)) {
        res.writeHead(404, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { message: `no route ${req.method} ${path}` } }));
        return;
      }
      const b = queue.shift() ?? { kind: "ok" };
      inFlight++;
      state.maxInFlight = Math.max(state.maxInFlight, inFlight);
      let finished = false;
      const done = () => {
        if (!finished) {
          finished = true;
          inFlight--;
        }
      };
      res.on("close", done);
      const delay = b.kind === "slow" || b.kind === "ok" ? (b.delayMs ?? 0) : 0;
      const timer = setTimeout(() => {
        if (res.destroyed) return;
        if (b.kind === "status") {
          res.writeHead(b.status, {
            "content-type": "application/json",
            ...(b.retryAfter ? { "retry-after": b.retryAfter } : {}),
          });
          res.end(b.body ?? JSON.stringify({ error: { message: `scripted ${b.status}` } }));
        } else if (b.kind === "malformed") {
          res.writeHead(200, { "content-type": "application/json" });
          res.end('{"choices": [ {"message": ');
        } else {
          answer(res, path, body, b);
        }
      }, delay);
      res.on("close", () => clearTimeout(timer));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    get maxInFlight() {
      return state.maxInFlight;
    },
    script: (...bs) => queue.push(...bs),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
