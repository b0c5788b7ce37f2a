// The reward server as a careless or hostile client meets it: raw HTTP requests that fetch() would
// clean up (malformed percent-encoding, unparsable URLs, broken framing, junk bodies). Every one is
// answered 4xx, never 500, and the server keeps answering /health afterwards.
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listenRewardServer } from "../src/eval/reward-server.ts";

let port: number;
let close: () => Promise<void>;
beforeAll(async () => {
  const s = await listenRewardServer({ port: 0, host: "127.0.0.1", task: "gsm8k", maxBodyBytes: 4096 });
  port = Number(new URL(s.url).port);
  close = s.close;
});
afterAll(async () => {
  await close();
});

/** Send raw bytes; resolves with the status code of the answer. */
function raw(request: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, "127.0.0.1");
    let got = "";
    sock.on("data", (d) => {
      got += d;
      const m = /^HTTP\/1\.1 (\d{3})/.exec(got);
      if (m && got.includes("\r\n\r\n")) {
        resolve(Number(m[1]));
        sock.destroy();
      }
    });
    sock.on("error", reject);
    sock.on("close", () =>
      reject(new Error(`connection closed without an answer to ${JSON.stringify(request.slice(0, 40))}`)),
    );
    sock.write(request);
  });
}

const post = (path: string, body: string, extra = "") =>
  `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}Connection: close\r\n\r\n${body}`;
const ok = JSON.stringify({ completions: ["\\boxed{1}"], golds: ["1"] });

const CASES: [string, string, number][] = [
  ["malformed percent-encoding (truncated)", post("/score/%E0%A4%A", ok), 400],
  ["malformed percent-encoding (not hex)", post("/score/%ZZ", ok), 400],
  ["an encoded task name that is unknown", post("/score/gsm%38k%2F..", ok), 404],
  ["a URL that does not parse", "GET //x:99999/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 400],
  ["a body that is not JSON", post("/get_reward", "{"), 400],
  ["a JSON array body", post("/get_reward", "[]"), 400],
  ["deeply nested JSON", post("/get_reward", `${"[".repeat(2000)}${"]".repeat(2000)}`), 400],
  ["labels of the wrong type", post("/get_reward", JSON.stringify({ query: ["a"], labels: [1] })), 400],
  ["non-ASCII junk for a body", post("/get_reward", "\u00ff\u00fe"), 400],
  ["a body over the limit", post("/get_reward", "x".repeat(5000)), 413],
  [
    "a declared length over the limit",
    `POST /get_reward HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n\r\n`,
    413,
  ],
  [
    "broken chunked framing",
    "POST /get_reward HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    400,
  ],
  ["a wrong method", "DELETE /get_reward HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 405],
  ["an unknown path", "GET /%2e%2e/etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 404],
];

describe("reward server client errors", () => {
  it("answers every malformed request with its 4xx, never 500", async () => {
    const got = await Promise.all(CASES.map(([, req]) => raw(req)));
    expect(CASES.map(([what], i) => [what, got[i]])).toEqual(CASES.map(([what, , want]) => [what, want]));
    expect(await raw("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")).toBe(200);
  });
});
