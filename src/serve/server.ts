// An OpenAI-compatible HTTP server (node:http) over one model, what `r1lab serve model` runs:
//   GET  /v1/models             the model, under the name requests must use
//   POST /v1/chat/completions   chat template, n, sampling, stop, seed, logprobs, stream (SSE),
//                               reasoning_content with the deepseek_r1 parser
//   POST /v1/completions        raw prompts (text or token ids, one or many)
//   GET  /health                200 while the server runs (no key needed)
// All requests share one BatchEngine (continuous batching). Errors use OpenAI's shape
// {"error": {"message", "type", "param", "code"}}: 400 bad field, 401 wrong or missing API key,
// 404 unknown model or route, 405 wrong method, 413 body too large, 429 queue full, 500 engine
// failure. A client that disconnects aborts its request, which frees its rows at the next step.
import { timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { BatchEngine } from "./batch-engine.ts";
import { runCompletion } from "./completion.ts";
import { readBody, sendJson } from "./http.ts";
import { ApiError, parseRequest } from "./protocol.ts";
import type { ServedModel } from "./served-model.ts";

export interface ModelServerOptions {
  /** Bearer key every /v1 request must carry; none: no check. */
  apiKey?: string;
  /** Sequences decoded together. Default 16. */
  maxBatch?: number;
  /** Requests waiting for rows before 429. Default 64. */
  maxQueue?: number;
  /** Split <think>...</think> into reasoning_content (vLLM's deepseek_r1 parser). */
  reasoningParser?: boolean;
  /** Largest request body. Default 10 MB. */
  maxBodyBytes?: number;
}

function keyMatches(header: string | undefined, key: string): boolean {
  const given = Buffer.from(/^Bearer\s+(.+)$/i.exec(header ?? "")?.[1]?.trim() ?? "");
  const want = Buffer.from(key);
  return given.length === want.length && timingSafeEqual(given, want);
}

export function createModelServer(
  m: ServedModel,
  opts: ModelServerOptions = {},
): { server: Server; engine: BatchEngine } {
  const engine = new BatchEngine(m.params, m.config, {
    eosTokenIds: m.codec.eosIds,
    padTokenId: m.codec.padId,
    maxBatch: opts.maxBatch ?? 16,
    maxQueue: opts.maxQueue ?? 64,
  });
  const limit = opts.maxBodyBytes ?? 10 * 1024 * 1024;
  const created = Math.floor(Date.now() / 1000);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let path: string;
    try {
      path = new URL(req.url ?? "/", "http://localhost").pathname.replace(/\/+$/, "") || "/";
    } catch {
      throw new ApiError(400, `cannot parse the request URL ${JSON.stringify(req.url)}`);
    }
    const routes: Record<string, string> = {
      "/health": "GET",
      "/v1/models": "GET",
      "/v1/chat/completions": "POST",
      "/v1/completions": "POST",
    };
    const method = routes[path];
    if (!method)
      throw new ApiError(
        404,
        `no route ${path}; try GET /v1/models, POST /v1/chat/completions or POST /v1/completions`,
      );
    if (req.method !== method)
      throw Object.assign(new ApiError(405, `${path} takes ${method}, not ${req.method}`), { allow: method });
    if (path === "/health") return sendJson(res, 200, { status: "ok", ...engine.load });
    if (opts.apiKey !== undefined && !keyMatches(req.headers.authorization, opts.apiKey))
      throw new ApiError(
        401,
        "missing or wrong API key (send Authorization: Bearer <key>)",
        null,
        "authentication_error",
        "invalid_api_key",
      );
    if (path === "/v1/models") {
      const card = {
        id: m.name,
        object: "model",
        created,
        owned_by: "r1lab",
        root: m.dir,
        parent: null,
        max_model_len: m.config.maxPositionEmbeddings,
      };
      return sendJson(res, 200, { object: "list", data: [card] });
    }
    const text = await readBody(req, limit, (m) => new ApiError(413, m));
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new ApiError(400, "the request body is not valid JSON");
    }
    const kind = path === "/v1/chat/completions" ? "chat" : "completions";
    const r = parseRequest(kind, body, m.defaults, m.config.vocabSize);
    if (r.model !== m.name)
      throw new ApiError(
        404,
        `the model '${r.model}' does not exist; this server serves '${m.name}'`,
        "model",
        "not_found_error",
        "model_not_found",
      );
    const ac = new AbortController();
    res.on("close", () => {
      if (!res.writableFinished) ac.abort();
    });
    let streaming = false;
    const sink = r.stream
      ? {
          chunk(obj: unknown) {
            if (!streaming) {
              res.writeHead(200, {
                "content-type": "text/event-stream",
                "cache-control": "no-cache",
                connection: "keep-alive",
              });
              streaming = true;
            }
            if (!res.writableEnded) res.write(`data: ${JSON.stringify(obj)}\n\n`);
          },
        }
      : null;
    try {
      const out = await runCompletion(engine, m, r, {
        reasoningParser: opts.reasoningParser ?? false,
        signal: ac.signal,
        sink,
      });
      if (ac.signal.aborted) return;
      if (sink) {
        if (!streaming)
          res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
        res.end("data: [DONE]\n\n");
      } else sendJson(res, 200, out);
    } catch (e) {
      if (!streaming) throw e;
      const err = e instanceof ApiError ? e : new ApiError(500, (e as Error).message);
      res.end(`data: ${JSON.stringify(err.body)}\n\ndata: [DONE]\n\n`);
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      const err = e instanceof ApiError ? e : new ApiError(500, e instanceof Error ? e.message : String(e));
      const headers: Record<string, string> = err.status === 413 ? { connection: "close" } : {};
      const allow = (e as { allow?: string }).allow;
      if (allow) headers.allow = allow;
      sendJson(res, err.status, err.body, headers);
    });
  });
  return { server, engine };
}

/** Start listening; resolves with the bound URL (port 0 picks a free port). */
export function listenModelServer(
  m: ServedModel,
  options: ModelServerOptions & { port: number; host?: string },
): Promise<{ server: Server; engine: BatchEngine; url: string; close: () => Promise<void> }> {
  const { server, engine } = createModelServer(m, options);
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host ?? "127.0.0.1", () => {
      const a = server.address() as AddressInfo;
      const host = a.family === "IPv6" ? `[${a.address}]` : a.address;
      resolve({
        server,
        engine,
        url: `http://${host}:${a.port}`,
        close: () =>
          new Promise<void>((res) => {
            server.closeAllConnections?.();
            server.close(() => res());
          }),
      });
    });
  });
}
