// JSON over HTTP for the server backends (openai.ts), with the failure handling a long evaluation
// needs: a per-attempt timeout, retries with exponential backoff and jitter on 429 / 5xx / network
// errors / malformed JSON, Retry-After honoured, and a final error that names the URL, the status
// and the server's words. Also a small semaphore to cap requests in flight.

export interface RetryPolicy {
  /** Retries after the first attempt (total attempts = maxRetries + 1). */
  maxRetries: number;
  /** First backoff delay; doubles per retry, up to maxDelayMs, with jitter (half fixed, half random). */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Limit per attempt, from sending the request to the last byte of the response. */
  timeoutMs: number;
}

/** A server's Retry-After is honoured up to this long. */
export const MAX_RETRY_AFTER_MS = 10 * 60_000;

/** The request failed for good: not retryable, or out of retries. */
export class HttpError extends Error {
  override name = "HttpError";
  constructor(
    message: string,
    readonly url: string,
    readonly status: number | undefined,
  ) {
    super(message);
  }
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(header: string | null, now = Date.now()): number | undefined {
  if (header === null || header.trim() === "") return undefined;
  const s = header.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Math.min(Number(s) * 1000, MAX_RETRY_AFTER_MS);
  const at = Date.parse(s);
  return Number.isNaN(at) ? undefined : Math.min(Math.max(0, at - now), MAX_RETRY_AFTER_MS);
}

/** The wait before retry number `retry` (0-based): min(max, base * 2^retry), jittered to [50%, 100%]. */
export function backoffMs(retry: number, p: RetryPolicy, random = Math.random): number {
  const cap = Math.min(p.maxDelayMs, p.baseDelayMs * 2 ** retry);
  return cap / 2 + random() * (cap / 2);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

function snippet(text: string, max = 300): string {
  const t = text.replace(/\s+/g, " ").trim();
  return t.length > max ? `${t.slice(0, max)}...` : t;
}

/** Why fetch threw, in words: undici hides the system error (ECONNREFUSED, ...) in `cause`. */
function networkReason(e: unknown): string {
  const err = e as { message?: string; cause?: { code?: string; message?: string } };
  return `network error: ${err.cause?.code ?? err.cause?.message ?? err.message ?? String(e)}`;
}

export interface JsonRequest {
  method: "GET" | "POST";
  headers?: Record<string, string>;
  body?: unknown;
  /** Checks a parsed 2xx body; returns what is wrong (retried like malformed JSON) or null. */
  validate?: (json: unknown) => string | null;
}

/**
 * Send a JSON request, retrying what may pass (429, 408, 5xx, network errors, timeouts, malformed
 * or invalid JSON); other 4xx fail at once. `signal` cancels everything (no retry after it).
 */
export async function requestJson(
  url: string,
  req: JsonRequest,
  p: RetryPolicy,
  signal?: AbortSignal,
): Promise<unknown> {
  let last = "";
  let lastStatus: number | undefined;
  const attempts = p.maxRetries + 1;
  for (let attempt = 0; attempt < attempts; attempt++) {
    if (signal?.aborted) throw new HttpError(`${req.method} ${url}: cancelled`, url, undefined);
    const timeout = AbortSignal.timeout(p.timeoutMs);
    let retryAfter: number | undefined;
    try {
      const res = await fetch(url, {
        method: req.method,
        headers: {
          accept: "application/json",
          ...(req.body !== undefined ? { "content-type": "application/json" } : {}),
          ...req.headers,
        },
        body: req.body !== undefined ? JSON.stringify(req.body) : undefined,
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
      const text = await res.text();
      lastStatus = res.status;
      if (!res.ok) {
        last = `HTTP ${res.status} ${res.statusText}: ${snippet(text)}`;
        if (!(res.status === 429 || res.status === 408 || res.status >= 500)) {
          throw new HttpError(`${req.method} ${url} failed: ${last}`, url, res.status);
        }
        retryAfter = parseRetryAfter(res.headers.get("retry-after"));
      } else {
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
          last = `malformed JSON in a ${res.status} response: ${snippet(text, 120)}`;
        }
        if (json !== undefined) {
          const problem = req.validate?.(json) ?? null;
          if (problem === null) return json;
          last = `unexpected response (${problem}): ${snippet(text, 200)}`;
        }
      }
    } catch (e) {
      if (e instanceof HttpError) throw e;
      if (signal?.aborted) throw new HttpError(`${req.method} ${url}: cancelled`, url, undefined);
      lastStatus = undefined;
      last = timeout.aborted ? `timed out after ${p.timeoutMs} ms` : networkReason(e);
    }
    if (attempt + 1 < attempts) {
      try {
        await sleep(retryAfter ?? backoffMs(attempt, p), signal);
      } catch {
        throw new HttpError(`${req.method} ${url}: cancelled`, url, undefined);
      }
    }
  }
  const tries = attempts === 1 ? "1 attempt" : `${attempts} attempts`;
  throw new HttpError(`${req.method} ${url} failed after ${tries}: ${last}`, url, lastStatus);
}

/** At most `limit` tasks at once; the rest wait in FIFO order. */
export class Semaphore {
  private active = 0;
  private waiting: (() => void)[] = [];
  constructor(readonly limit: number) {
    if (!(Number.isInteger(limit) && limit >= 1))
      throw new Error(`Semaphore: limit must be an integer >= 1, got ${limit}`);
  }
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active < this.limit) this.active++;
    else await new Promise<void>((r) => this.waiting.push(r)); // the finishing task hands its slot over
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}
