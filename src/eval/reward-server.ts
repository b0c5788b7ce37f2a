// A rule-based reward server over HTTP (node:http), so an RL trainer in another process or language
// can use r1lab's answer extraction and math equivalence as its accuracy reward.
//   POST /get_reward     OpenRLHF's remote reward API: {"query": [...], "prompts": [...], "labels": [...],
//                        "task"?: name} -> {"rewards": [...], "scores": [...]}. query[i] is prompt + response;
//                        with prompts, the response is the query minus the prompt prefix.
//   POST /score/<task>   {"completions": [...], "golds" | "labels": [...]} -> {"rewards": [...], "extracted": [...]}
//   GET  /health         {"status": "ok", "task": default task, "tasks": tasks that score from a label}
// Rewards are 1 (correct) or 0. Errors are JSON {"error": "..."} with 400 (bad request), 404 (unknown
// path or task), 405 (wrong method), 413 (body over the limit), 503 (request over its time limit).

import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { readBody, sendJson as send } from "../serve/http.ts";
import { EVAL_TASK_NAMES, getEvalTask, hasEvalTask } from "./tasks/index.ts";
import type { EvalTask } from "./tasks/types.ts";

export interface RewardServerOptions {
  /** Task for /get_reward requests that name none. */
  task?: string;
  /** Largest accepted request body, bytes. Default 10 MB. */
  maxBodyBytes?: number;
  /** Time limit per request (reading + scoring), ms. Default 60 s. */
  timeoutMs?: number;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Tasks that can score a completion from a gold label alone (math, choice, synthetic). */
export const LABEL_TASKS: readonly string[] = EVAL_TASK_NAMES.filter(
  (n) => getEvalTask(n).scoreGold !== undefined,
);

function stringArray(body: Record<string, unknown>, key: string): string[] {
  const v = body[key];
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) {
    throw new HttpError(400, `'${key}' must be an array of strings`);
  }
  return v as string[];
}

function labelTask(name: string, status: number): EvalTask {
  if (!hasEvalTask(name))
    throw new HttpError(status, `unknown task '${name}'; known: ${LABEL_TASKS.join(", ")}`);
  const task = getEvalTask(name);
  if (!task.scoreGold) {
    throw new HttpError(
      400,
      `task '${name}' needs its dataset's tests, not a label; score it with \`r1lab score\``,
    );
  }
  return task;
}

/** The response part of an OpenRLHF query: query minus its prompt prefix. */
export function responseOf(query: string, prompt: string | undefined): string {
  if (prompt === undefined || prompt.length === 0) return query;
  if (query.startsWith(prompt)) return query.slice(prompt.length);
  const at = query.indexOf(prompt);
  return at >= 0 ? query.slice(at + prompt.length) : query;
}

/**
 * Score every item; math goes to the verification pool (verify-pool.ts), so items run in parallel
 * off the event loop and /health keeps answering while a batch is scored.
 */
async function scoreAll(task: EvalTask, completions: string[], golds: string[], expired: () => boolean) {
  const results = await Promise.all(
    completions.map(async (c, i) => {
      if (expired()) throw new HttpError(503, "request timed out");
      try {
        return await task.scoreGold!(c, golds[i]);
      } catch (e) {
        throw new HttpError(400, `item ${i}: ${(e as Error).message}`);
      }
    }),
  );
  return { rewards: results.map((r) => (r.correct ? 1 : 0)), extracted: results.map((r) => r.extracted) };
}

/** The request's path without trailing slashes; a URL that does not parse is the client's error (400). */
function requestPath(url: string | undefined): string {
  let path: string;
  try {
    path = new URL(url ?? "/", "http://localhost").pathname;
  } catch {
    throw new HttpError(400, `cannot parse the request URL ${JSON.stringify(url)}`);
  }
  return path.replace(/\/+$/, "") || "/";
}

/** A percent-decoded path segment; malformed encoding (`%E0%A4%A`) is the client's error (400). */
function pathPart(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new HttpError(400, `malformed percent-encoding in the path: ${JSON.stringify(raw)}`);
  }
}

async function handle(
  req: IncomingMessage,
  opts: Required<Omit<RewardServerOptions, "task">> & { task?: string },
  expired: () => boolean,
) {
  const path = requestPath(req.url);
  const route =
    path === "/health"
      ? "health"
      : path === "/get_reward"
        ? "get_reward"
        : path.startsWith("/score/")
          ? "score"
          : null;
  if (route === null)
    throw new HttpError(404, `no route ${path}; try POST /get_reward, POST /score/<task>, GET /health`);
  const method = route === "health" ? "GET" : "POST";
  if (req.method !== method && !(route === "health" && req.method === "HEAD")) {
    throw Object.assign(new HttpError(405, `${path} takes ${method}, not ${req.method}`), { allow: method });
  }
  if (route === "health") return { status: "ok", task: opts.task ?? null, tasks: LABEL_TASKS };
  const text = await readBody(req, opts.maxBodyBytes, (m) => new HttpError(413, m));
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new HttpError(400, "body is not valid JSON");
  }
  if (body === null || typeof body !== "object" || Array.isArray(body))
    throw new HttpError(400, "body must be a JSON object");
  const b = body as Record<string, unknown>;
  if (route === "score") {
    const task = labelTask(pathPart(path.slice("/score/".length)), 404);
    const completions = stringArray(b, "completions");
    const golds = stringArray(b, b.golds !== undefined ? "golds" : "labels");
    if (golds.length !== completions.length)
      throw new HttpError(400, `${completions.length} completions but ${golds.length} golds`);
    return scoreAll(task, completions, golds, expired);
  }
  const name = typeof b.task === "string" ? b.task : opts.task;
  if (!name) throw new HttpError(400, "no task: start the server with --task or send a 'task' field");
  const task = labelTask(name, 400);
  const queries = stringArray(b, "query");
  const labels = stringArray(b, "labels");
  const prompts = b.prompts === undefined || b.prompts === null ? undefined : stringArray(b, "prompts");
  if (labels.length !== queries.length)
    throw new HttpError(400, `${queries.length} queries but ${labels.length} labels`);
  if (prompts && prompts.length !== queries.length)
    throw new HttpError(400, `${queries.length} queries but ${prompts.length} prompts`);
  const responses = queries.map((q, i) => responseOf(q, prompts?.[i]));
  const { rewards } = await scoreAll(task, responses, labels, expired);
  return { rewards, scores: rewards };
}

/** An HTTP server (not yet listening) that serves rule-based rewards. */
export function createRewardServer(options: RewardServerOptions = {}): Server {
  if (options.task !== undefined) labelTask(options.task, 400); // fail at start-up, not per request
  const opts = { maxBodyBytes: 10 * 1024 * 1024, timeoutMs: 60_000, ...options };
  return createServer((req, res) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      send(res, 503, { error: `request timed out after ${opts.timeoutMs} ms` }, { connection: "close" });
    }, opts.timeoutMs);
    handle(req, opts, () => timedOut)
      .then((out) => send(res, 200, out))
      .catch((e: unknown) => {
        const status = e instanceof HttpError ? e.status : 500;
        const headers: Record<string, string> = status === 413 ? { connection: "close" } : {};
        if ((e as { allow?: string }).allow) headers.allow = (e as { allow: string }).allow;
        send(res, status, { error: e instanceof Error ? e.message : String(e) }, headers);
      })
      .finally(() => clearTimeout(timer));
  });
}

/** Start listening; resolves with the bound address (port 0 picks a free port). */
export function listenRewardServer(
  options: RewardServerOptions & { port: number; host?: string },
): Promise<{ server: Server; url: string; close: () => Promise<void> }> {
  const server = createRewardServer(options);
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host ?? "127.0.0.1", () => {
      const a = server.address() as AddressInfo;
      const host = a.family === "IPv6" ? `[${a.address}]` : a.address;
      resolve({
        server,
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
