// `r1lab serve model` as a user runs it: a child process that prints its URL and PID; greedy chat
// through it gives exactly `r1lab generate --greedy --chat`'s text; `r1lab eval --backend openai`
// against it gives the same samples and pass@1 as `r1lab eval --backend native` (greedy); it exits
// when its parent process dies. The model is tests/fixtures/hf-reference/tiny-qwen2 with a chat
// template added. Its random weights answer every item wrong (pass@1 is 0 on both backends), so the
// real check is that every sample's text is the same on both.
import { spawn } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, runR1lab } from "./helpers/run-r1lab.ts";

const FIXTURE = join(import.meta.dirname, "fixtures/hf-reference/tiny-qwen2");
const tmp = mkdtempSync(join(tmpdir(), "r1lab-serve-cli-"));
const dir = join(tmp, "tiny-qwen2-chat");
const TEMPLATE =
  "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}\n{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}";

let url = "";
let pid = 0;
let server: ReturnType<typeof spawn> | null = null;

/** Start `r1lab serve model` and wait for its "on URL ... pid N" line. */
function startServer(args: string[]): Promise<{ child: ReturnType<typeof spawn>; url: string; pid: number }> {
  const child = spawn(process.execPath, [join(ROOT, "bin/r1lab.js"), "serve", "model", ...args], {
    cwd: ROOT,
  });
  let out = "";
  let err = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start line in 60 s; stderr: ${err}`)), 60_000);
    child.stderr!.on("data", (d) => {
      err += d;
    });
    child.stdout!.on("data", (d) => {
      out += d;
      const m = /on (http:\/\/\S+)\/v1 \(model '.*', pid (\d+)\)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1], pid: Number(m[2]) });
      }
    });
    child.on("exit", (code) => reject(new Error(`serve exited with ${code}: ${err}`)));
  });
}

const alive = (p: number) => {
  try {
    process.kill(p, 0);
    return true;
  } catch {
    return false;
  }
};

beforeAll(async () => {
  cpSync(FIXTURE, dir, { recursive: true });
  const tc = JSON.parse(readFileSync(join(dir, "tokenizer_config.json"), "utf8"));
  writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify({ ...tc, chat_template: TEMPLATE }));
  const s = await startServer([
    "--model",
    dir,
    "--port",
    "0",
    "--served-model-name",
    "tiny",
    "--max-batch",
    "4",
  ]);
  server = s.child;
  url = s.url;
  pid = s.pid;
});

afterAll(() => {
  server?.kill("SIGTERM");
  rmSync(tmp, { recursive: true, force: true });
});

describe("r1lab serve model", () => {
  it("prints its PID and answers greedy chat exactly as r1lab generate --greedy --chat", async () => {
    expect(alive(pid)).toBe(true);
    const prompt = "Count: 1 2 3 4";
    const gen = await runR1lab(
      [
        "generate",
        "--model",
        dir,
        "--prompt",
        prompt,
        "--chat",
        "--greedy",
        "--max-new-tokens",
        "14",
        "--json",
      ],
      { timeoutMs: 90_000 },
    );
    expect(gen.code, gen.stderr).toBe(0);
    const want = JSON.parse(gen.stdout.trim());
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: "tiny",
        messages: [{ role: "user", content: prompt }],
        temperature: 0,
        max_tokens: 14,
      }),
    });
    const body = (await res.json()) as any;
    expect(body.choices[0].message.content).toBe(want.text);
    expect(body.usage.completion_tokens).toBe(want.new_ids.length);
  });

  it("r1lab eval --backend openai against it gives the native backend's samples and pass@1", async () => {
    const data = join(tmp, "items.jsonl");
    const items = ["1 2 3 4", "5 5 5", "7 8 9", "2 4 6 8", "3 3"].map((q, i) => ({
      question: `Numbers: ${q}`,
      answer: `#### ${q.split(" ").at(-1)}`,
      id: `q${i}`,
    }));
    writeFileSync(data, `${items.map((x) => JSON.stringify(x)).join("\n")}\n`);
    const common = [
      "--task",
      "gsm8k",
      "--data",
      data,
      "--temperature",
      "0",
      "--max-tokens",
      "12",
      "--samples",
      "1",
    ];
    const [a, b] = await Promise.all([
      runR1lab(["eval", "--model", dir, "--backend", "native", "--out", join(tmp, "native"), ...common], {
        timeoutMs: 120_000,
      }),
      runR1lab(["eval", "--model", url, "--backend", "openai", "--out", join(tmp, "openai"), ...common], {
        timeoutMs: 120_000,
      }),
    ]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    const results = (d: string) => JSON.parse(readFileSync(join(tmp, d, "results.json"), "utf8"));
    const samples = (d: string) =>
      readFileSync(join(tmp, d, "samples.jsonl"), "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l))
        .sort((x, y) => String(x.id ?? x.problem_id).localeCompare(String(y.id ?? y.problem_id)))
        .map((s) => s.completion);
    expect(samples("openai")).toEqual(samples("native"));
    expect(results("openai")["pass@1"]).toBe(results("native")["pass@1"]);
    console.log(`pass@1 native ${results("native")["pass@1"]}, openai ${results("openai")["pass@1"]}`);
  });

  it("exits when its parent dies", async () => {
    // A parent that starts the server and is then killed: the server must follow it.
    const parentSrc = `
      const { spawn } = require("node:child_process");
      const c = spawn(process.execPath, [${JSON.stringify(join(ROOT, "bin/r1lab.js"))}, "serve", "model", "--model", ${JSON.stringify(dir)}, "--port", "0"], { stdio: ["ignore", "pipe", "inherit"] });
      c.stdout.on("data", (d) => process.stdout.write(d));`;
    const parent = spawn(process.execPath, ["-e", parentSrc], { stdio: ["ignore", "pipe", "inherit"] });
    const childPid = await new Promise<number>((resolve, reject) => {
      let out = "";
      const timer = setTimeout(() => reject(new Error("no start line")), 60_000);
      parent.stdout!.on("data", (d) => {
        out += d;
        const m = /pid (\d+)\)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
    });
    expect(alive(childPid)).toBe(true);
    parent.kill("SIGKILL");
    const t0 = Date.now();
    while (alive(childPid) && Date.now() - t0 < 15_000) await new Promise((r) => setTimeout(r, 200));
    expect(alive(childPid)).toBe(false);
  });
});
