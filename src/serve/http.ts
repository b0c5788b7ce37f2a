// JSON over node:http, shared by r1lab's two servers (serve model here, serve rewards in src/eval):
// one reply writer and one bounded body reader, so both answer an oversized body the same way.
import type { IncomingMessage, ServerResponse } from "node:http";

/** Reply with a JSON body (nothing when the reply was already sent or the client left). */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent || res.writableEnded) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/**
 * The request body as text, at most `limit` bytes. A body over the limit (declared by content-length,
 * or found while streaming) rejects with `tooLarge(message)`; the rest of it is read and dropped, so the
 * caller can still answer 413.
 */
export function readBody(
  req: IncomingMessage,
  limit: number,
  tooLarge: (message: string) => Error,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"]);
    if (Number.isFinite(declared) && declared > limit) {
      req.resume(); // discard what comes
      reject(tooLarge(`request body of ${declared} bytes is over the limit of ${limit}`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on("data", (c: Buffer) => {
      if (over) return;
      size += c.length;
      if (size > limit) {
        over = true;
        chunks.length = 0;
        reject(tooLarge(`request body is over the limit of ${limit} bytes`));
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => {
      if (!over) resolve(Buffer.concat(chunks).toString("utf8"));
    });
    req.on("error", reject);
  });
}
