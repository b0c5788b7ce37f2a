import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commandHelp } from "../src/cli/command.ts";
import serveCmd from "../src/cli/serve.ts";
import { listenRewardServer, responseOf } from "../src/eval/reward-server.ts";

let url: string;
let close: () => Promise<void>;
beforeAll(async () => {
  ({ url, close } = await listenRewardServer({
    port: 0,
    host: "127.0.0.1",
    task: "gsm8k",
    maxBodyBytes: 64 * 1024,
  }));
});
afterAll(async () => {
  await close();
});

async function post(path: string, body: unknown): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, json: await res.json(), headers: res.headers };
}

/** Request i of the load test, with the rewards it must get. */
function request(i: number): { path: string; body: unknown; rewards: number[] } {
  const n = 10 + (i % 97);
  const right = i % 3 !== 0;
  switch (i % 4) {
    case 0: {
      const prompt = `Invented problem ${i}: how many? Please reason step by step.`;
      const response = `<think>count</think>So \\boxed{${right ? n : n + 1}}`;
      return {
        path: "/get_reward",
        body: { query: [prompt + response], prompts: [prompt], labels: [`#### ${n}`] },
        rewards: [right ? 1 : 0],
      };
    }
    case 1: {
      const completions = [`\\boxed{\\frac{${n}}{4}}`, `The answer is ${n / 4 + (right ? 0 : 1)}.`];
      return {
        path: "/score/math500",
        body: { completions, golds: [String(n / 4), `\\frac{${n}}{4}`] },
        rewards: [1, right ? 1 : 0],
      };
    }
    case 2: {
      const letter = "ABCD"[(i >> 2) % 4];
      const said = right ? letter : letter === "A" ? "B" : "A";
      return {
        path: "/get_reward",
        body: { task: "gpqa-diamond", query: [`Reasoning...\nAnswer: ${said}`], labels: [letter] },
        rewards: [right ? 1 : 0],
      };
    }
    default:
      return {
        path: "/score/arithmetic",
        body: { completions: [`<think>x</think><answer>${right ? n : n - 1}</answer>`], labels: [String(n)] },
        rewards: [right ? 1 : 0],
      };
  }
}

describe("reward server", () => {
  it("answers 2,000 requests at concurrency 32, every one right, within a hard time cap", async () => {
    const total = 2000;
    let next = 0;
    let wrong = 0;
    let done = 0;
    const worker = async () => {
      while (next < total) {
        const i = next++;
        const r = request(i);
        const { status, json } = await post(r.path, r.body);
        if (status !== 200 || JSON.stringify(json.rewards) !== JSON.stringify(r.rewards)) wrong++;
        done++;
      }
    };
    const cap = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error("load test over 45 s")), 45_000),
    );
    const t0 = Date.now();
    await Promise.race([Promise.all(Array.from({ length: 32 }, worker)), cap]);
    expect(done).toBe(total);
    expect(wrong).toBe(0);
    expect(Date.now() - t0).toBeLessThan(45_000);
  }, 60_000);

  it("returns extracted answers and OpenRLHF's scores field", async () => {
    const a = await post("/score/gsm8k", { completions: ["\\boxed{3}", "none"], labels: ["3", "4"] });
    expect(a).toMatchObject({ status: 200, json: { rewards: [1, 0], extracted: ["3", null] } });
    const b = await post("/get_reward", {
      query: ["P: 1+1? \\boxed{2}"],
      prompts: ["P: 1+1?"],
      labels: ["2"],
    });
    expect(b.json).toEqual({ rewards: [1], scores: [1] });
    // `serve --help` names exactly the fields each route answers with.
    const help = commandHelp(serveCmd);
    const fields = (route: string) => {
      const line = help.split("\n").find((l) => l.includes(route))!;
      return [...line.split("->")[1].matchAll(/"(\w+)":/g)].map((m) => m[1]).sort();
    };
    expect(fields("POST /get_reward")).toEqual(Object.keys(b.json).sort());
    expect(fields("POST /score/NAME")).toEqual(Object.keys(a.json).sort());
    const h = await (await fetch(`${url}/health`)).json();
    expect(fields("GET  /health")).toEqual(Object.keys(h as object).sort());
    expect(responseOf("PROMPT answer", "PROMPT")).toBe(" answer");
    expect(responseOf("x PROMPT answer", "PROMPT")).toBe(" answer");
    expect(responseOf("no prompt here", "PROMPT")).toBe("no prompt here");
  });

  it("health", async () => {
    const res = await fetch(`${url}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      status: "ok",
      task: "gsm8k",
      tasks: expect.arrayContaining(["math500", "gpqa-diamond"]),
    });
  });

  it("400 for malformed requests, with a JSON error", async () => {
    const cases: [unknown, RegExp][] = [
      ["{not json", /not valid JSON/],
      ["[1, 2]", /must be a JSON object/],
      [{ query: "x", labels: ["1"] }, /'query' must be an array of strings/],
      [{ query: ["a", "b"], labels: ["1"] }, /2 queries but 1 labels/],
      [{ query: ["a"], labels: ["1"], prompts: [] }, /1 queries but 0 prompts/],
      [{ query: ["a"], labels: ["1"], task: "nope" }, /unknown task 'nope'/],
      [{ query: ["a"], labels: ["1"], task: "humaneval" }, /needs its dataset's tests/],
    ];
    for (const [body, msg] of cases) {
      const r = await post("/get_reward", body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.json.error).toMatch(msg);
    }
    const c = await post("/score/countdown", { completions: ["<answer>1+2</answer>"], golds: ["3"] });
    expect(c.status).toBe(400);
    expect(c.json.error).toMatch(/item 0: countdown: example .* needs meta.numbers/);
  });

  it("404, 405 and 413", async () => {
    const a = await post("/nowhere", {});
    expect(a.status).toBe(404);
    expect(a.json.error).toMatch(/no route \/nowhere/);
    expect((await post("/score/unknown-task", { completions: [], golds: [] })).status).toBe(404);
    const g = await fetch(`${url}/get_reward`);
    expect(g.status).toBe(405);
    expect(g.headers.get("allow")).toBe("POST");
    expect(((await g.json()) as { error: string }).error).toMatch(/takes POST, not GET/);
    expect((await post("/health", {})).status).toBe(405);
    const big = await post("/get_reward", { query: ["x".repeat(70 * 1024)], labels: ["1"] });
    expect(big.status).toBe(413);
    expect(big.json.error).toMatch(/over the limit of 65536/);
    const chunks = new ReadableStream({
      start(c) {
        for (let i = 0; i < 80; i++) c.enqueue(new TextEncoder().encode("y".repeat(1024)));
        c.close();
      },
    });
    const streamed = await fetch(`${url}/get_reward`, {
      method: "POST",
      body: chunks,
      duplex: "half",
    } as RequestInit);
    expect(streamed.status).toBe(413);
    // The server still serves after refusing.
    expect((await fetch(`${url}/health`)).status).toBe(200);
  });

  it("503 when a request runs past its time limit; 400 without a task", async () => {
    const slow = await listenRewardServer({ port: 0, timeoutMs: 30 });
    try {
      const n = 20_000; // far more work than 30 ms; the server stops at its deadline
      const res = await fetch(`${slow.url}/score/math500`, {
        method: "POST",
        body: JSON.stringify({
          completions: Array(n).fill("\\boxed{\\frac{\\sqrt{8}}{2}}"),
          golds: Array(n).fill("\\sqrt{2}"),
        }),
      });
      expect(res.status).toBe(503);
      expect(((await res.json()) as { error: string }).error).toMatch(/timed out after 30 ms/);
      const r = await fetch(`${slow.url}/get_reward`, {
        method: "POST",
        body: JSON.stringify({ query: ["a"], labels: ["1"] }),
      });
      expect(r.status).toBe(400);
      expect(((await r.json()) as { error: string }).error).toMatch(/no task/);
    } finally {
      await slow.close();
    }
  });
});
