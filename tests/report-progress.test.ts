import { describe, expect, it } from "vitest";
import { formatDuration, formatValue, Progress } from "../src/report/progress.ts";

function fake(isTTY: boolean, columns?: number) {
  const out: string[] = [];
  let t = 0;
  return {
    out,
    stream: { isTTY, columns, write: (s: string) => out.push(s) },
    now: () => t,
    advance: (ms: number) => {
      t += ms;
    },
  };
}

describe("progress line", () => {
  it("shows position, bar, percent, fields, elapsed and ETA", () => {
    const f = fake(false);
    const p = new Progress({ total: 400, label: "grpo", stream: f.stream, now: f.now });
    f.advance(62_000);
    p.update(120, { reward: 0.3124, acc: 0.25, kl: 0.00121, "tok/s": 9871.3 });
    // 120 steps in 62 s -> 280 left at 0.5167 s/step = 144.7 s
    expect(p.line()).toBe(
      "grpo 120/400 [######..............]  30% reward 0.312 acc 0.250 kl 0.00121 tok/s 9.87k 01:02<02:25",
    );
  });

  it("prints a plain line every 10% when not a TTY, then a final one", () => {
    const f = fake(false);
    const p = new Progress({ total: 50, label: "eval", stream: f.stream, now: f.now });
    for (let i = 0; i < 50; i++) {
      f.advance(100);
      p.tick(1, { acc: i / 50 });
    }
    p.done();
    expect(f.out).toHaveLength(11);
    expect(f.out.every((l) => l.endsWith("\n") && !l.includes("\r"))).toBe(true);
    expect(f.out[0]).toMatch(/^eval {2}5\/50 \[##\.+\] {2}10% acc 0\.0800 00:01<00:05\n$/);
    expect(f.out[10]).toMatch(/^eval 50\/50 \[#{20}\] 100% acc 0\.980 00:05 total\n$/);
  });

  it("redraws in place on a TTY at most every 100 ms and ends with a newline", () => {
    const f = fake(true, 40);
    const p = new Progress({ total: 1000, stream: f.stream, now: f.now });
    for (let i = 0; i < 1000; i++) {
      f.advance(10); // 10 s in all -> about 100 redraws
      p.tick();
    }
    p.done();
    expect(f.out.length).toBeGreaterThan(95);
    expect(f.out.length).toBeLessThan(105);
    expect(f.out.every((s) => s.startsWith("\r"))).toBe(true);
    expect(f.out.at(-1)!.endsWith("\x1b[K\n")).toBe(true);
    for (const s of f.out)
      expect(s.replace("\r", "").replace("\x1b[K", "").replace("\n", "").length).toBeLessThanOrEqual(39);
    p.done();
    expect(f.out.at(-1)!.endsWith("\n")).toBe(true);
  });

  it("has no ETA before the first step and rejects a bad total", () => {
    const f = fake(false);
    expect(new Progress({ total: 3, stream: f.stream, now: f.now }).line()).toMatch(/0\/3 .* 00:00<--:--$/);
    expect(() => new Progress({ total: 0 })).toThrow(/total must be > 0/);
  });

  it("formats values and durations", () => {
    expect(formatValue(0.31)).toBe("0.310");
    expect(formatValue(12)).toBe("12");
    expect(formatValue(12345)).toBe("12.3k");
    expect(formatValue(2_500_000)).toBe("2.50M");
    expect(formatValue(0.0001234)).toBe("1.23e-4");
    expect(formatValue(0)).toBe("0");
    expect(formatValue("warmup")).toBe("warmup");
    expect(formatDuration(75)).toBe("01:15");
    expect(formatDuration(4000)).toBe("1:06:40");
    expect(formatDuration(Number.NaN)).toBe("--:--");
  });
});
