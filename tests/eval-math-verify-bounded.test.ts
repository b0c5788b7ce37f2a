// Bounded cost of answer checking (issue 17 point 3): extraction is linear in the text, the worker
// pool's hard time limit terminates and replaces a stuck worker, pathological answers come back
// "not equal", and the reward server's /health answers while a slow batch is being scored.
import { afterAll, describe, expect, it } from "vitest";
import { extractMath } from "../src/eval/math-extract.ts";
import { boxedGroups, mathSpans } from "../src/eval/math-spans.ts";
import { checkMath, checkMathQuick } from "../src/eval/math-verify.ts";
import { listenRewardServer } from "../src/eval/reward-server.ts";
import { sharedVerifyPool, VerifyPool } from "../src/eval/verify-pool.ts";

/** Operations counted instead of time: a linear scan visits each character a bounded number of times. */
describe("linear-time extraction", () => {
  it("unclosed \\boxed{ and $ and \\( repeated many times are read in one pass", () => {
    const n = 40_000;
    const text = "\\boxed{".repeat(n);
    expect(boxedGroups(text)).toEqual([]);
    expect(mathSpans("$a\n".repeat(n))).toEqual([]);
    expect(extractMath("$1$ answer ".repeat(n / 4)).answer).toBe("1");
    expect(mathSpans("\\( x ".repeat(n))).toEqual([]);
    // Quadratic scanning of 280 KB would take minutes; vitest's 5 s default limit catches it.
    expect(extractMath(text).answer).toBe(null);
  });
  it("a 100 KB completion is read to its final answer", () => {
    const filler = "We keep on computing carefully, 1 + 1 = 2 and so on. ".repeat(2000);
    expect(filler.length).toBeGreaterThan(100_000);
    expect(checkMath(`${filler} Hence the answer is $\\boxed{17}$.`, "17").correct).toBe(true);
    expect(checkMath(`${filler}{{{{`.repeat(2), "17").correct).toBe(false);
  });
  it("deeply nested braces do not recurse", () => {
    const deep = `\\boxed{${"{".repeat(20_000)}1${"}".repeat(20_000)}}`;
    expect(() => extractMath(deep)).not.toThrow();
  });
});

describe("checkMathQuick", () => {
  it("decides only what the full check decides the same way", () => {
    const rows: [string, string][] = [
      ["\\boxed{\\frac{11}{4}}", "2.75"],
      ["The answer is 3.75.", "\\frac{15}{4}"],
      ["\\boxed{0.333}", "1/3"],
      ["\\boxed{-3/4}", "-0.75"],
      ["\\boxed{12}", "012"],
      ["\\boxed{12}", "13"],
      ["\\boxed{1/2}", "\\frac{2}{4}"],
      ["no answer at all", "5"],
      ["\\boxed{x+1}", "x+1"],
    ];
    let decided = 0;
    for (const [c, g] of rows) {
      const q = checkMathQuick(c, g);
      if (q === null) continue;
      decided++;
      expect(q.correct, `${c} / ${g}`).toBe(checkMath(c, g).correct);
    }
    expect(decided).toBe(rows.length);
    expect(checkMathQuick("\\boxed{(x+y+z+1)^{60}}", "(1+x+y+z)^{60}")).toBe(null);
  });
});

describe("VerifyPool", () => {
  const pool = new VerifyPool({ size: 2, timeoutMs: 1500 });
  afterAll(() => pool.close());

  it("checks off the main thread and agrees with checkMath", async () => {
    const rows: [string, string][] = [
      ["so \\boxed{\\frac{1}{2}}", "0.5"],
      ["Answer: $x = 3$", "3"],
      ["\\boxed{7}", "8"],
    ];
    const got = await Promise.all(rows.map(([c, g]) => pool.check(c, g)));
    expect(got.map((r) => r.correct)).toEqual(rows.map(([c, g]) => checkMath(c, g).correct));
  }, 60_000);

  it("pathological answers come back 'not equal' and a stuck worker is replaced", async () => {
    const cases: [string, string][] = [
      ["\\boxed{10^{10^{10^{10}}}}", "1"],
      ["$\\sum_{k=1}^{10^{12}} k^3$", "1"],
      [`${"x".repeat(100_000)}${"\\boxed{".repeat(5000)}`, "1"],
      [`\\boxed{${"{".repeat(5000)}`, "1"],
      ...Array.from({ length: 4 }, (): [string, string] => ["\\boxed{(x+y+z+1)^{60}}", "(1+x+y+z)^{60}+1"]),
    ];
    const got = await Promise.all(cases.map(([c, g]) => pool.check(c, g)));
    expect(got.every((r) => !r.correct)).toBe(true);
    // The pool still works after any worker it had to terminate.
    expect((await pool.check("\\boxed{4}", "4")).correct).toBe(true);
  }, 120_000);

  it("terminates a worker past the hard limit", async () => {
    const tight = new VerifyPool({ size: 1, timeoutMs: 1 });
    try {
      // Worker start-up is not counted; the check itself cannot finish in 1 ms of a fresh CAS call.
      const r = await tight.check("\\boxed{(x+y+z+1)^{40}}", "(1+x+y+z)^{40}");
      expect(r).toEqual({ correct: false, extracted: null, method: "timeout" });
      expect(tight.timeouts).toBe(1);
    } finally {
      await tight.close();
    }
  }, 60_000);
});

describe("reward server under a slow batch", () => {
  it("answers /health while 16 hard answers are scored", async () => {
    const { url, close } = await listenRewardServer({ port: 0, task: "math500" });
    try {
      // Warm the shared pool so the probes measure scoring, not worker start-up.
      await fetch(`${url}/score/math500`, {
        method: "POST",
        body: JSON.stringify({ completions: ["\\boxed{(x+1)^2}"], golds: ["x^2+2x+1"] }),
      });
      const hard = Array.from({ length: 16 }, (_, i) => `\\boxed{(x+y+z+${i + 1})^{60}}`);
      let done = false;
      void fetch(`${url}/score/math500`, {
        method: "POST",
        body: JSON.stringify({ completions: hard, golds: hard.map(() => "(x+y+z+1)^{60}+1") }),
      })
        .then(() => {
          done = true;
        })
        .catch(() => {});
      await new Promise((r) => setTimeout(r, 200));
      const latencies: number[] = [];
      for (let k = 0; k < 10; k++) {
        const t = performance.now();
        const res = await fetch(`${url}/health`);
        latencies.push(performance.now() - t);
        expect(res.status).toBe(200);
        await new Promise((r) => setTimeout(r, 100));
      }
      // The batch is still being scored (each hard item runs to the pool's time limit).
      expect(done).toBe(false);
      latencies.sort((a, b) => a - b);
      expect(latencies[Math.floor(latencies.length / 2)]).toBeLessThan(100);
      const bad = await fetch(`${url}/score/%E0%A4%A`, { method: "POST", body: "{}" });
      expect(bad.status).toBe(400);
    } finally {
      await close();
      await sharedVerifyPool()?.close();
    }
  }, 120_000);
});
