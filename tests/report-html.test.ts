import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { formatCell, renderReport, slug, writeReport } from "../src/report/html.ts";
import { lineChart } from "../src/report/plot.ts";

const dir = mkdtempSync(join(tmpdir(), "r1lab-report-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("HTML report", () => {
  it("writes report.html with every section and the charts inline and under plots/", async () => {
    const rows = [0, 1, 2, 3].map((step) => ({ step, reward_mean: step / 10 }));
    const svg = await lineChart({ title: "Reward curve", rows, x: "step", ys: ["reward_mean"] });
    const out = writeReport(dir, {
      title: "R1-Zero <tiny> run",
      sections: [
        { heading: "Summary", text: "pass@1 went up.\n\nSecond paragraph & more." },
        {
          heading: "Results",
          table: [
            { split: "test", pass1: 0.123456, n: 200 },
            { split: "train", pass4: 0.5 },
          ],
        },
        { heading: "Reward", svg },
        { heading: "Reward", svg },
        { heading: "Samples", pre: "<think>1+2=3</think><answer>3</answer>" },
      ],
    });
    expect(out.html).toBe(join(dir, "report.html"));
    const html = readFileSync(out.html, "utf8");
    expect(html.startsWith("<!DOCTYPE html>")).toBe(true);
    expect(html).toContain("<title>R1-Zero &lt;tiny&gt; run</title>");
    for (const h of ["Summary", "Results", "Reward", "Samples"]) expect(html).toContain(`>${h}</h2>`);
    expect(html).toContain("<p>Second paragraph &amp; more.</p>");
    expect(html).toContain("<th>split</th><th>pass1</th><th>n</th><th>pass4</th>");
    expect(html).toContain('<td class="num">0.1235</td>');
    expect(html).toContain("&lt;think&gt;1+2=3&lt;/think&gt;");
    expect((html.match(/<svg/g) ?? []).length).toBe(2);
    expect(html).toContain("Reward curve");
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);
    expect(readdirSync(join(dir, "plots")).sort()).toEqual([
      "reward-2.png",
      "reward-2.svg",
      "reward.png",
      "reward.svg",
    ]);
    expect(readFileSync(join(dir, "plots", "reward.svg"), "utf8")).toBe(svg);
    expect([...readFileSync(join(dir, "plots", "reward.png")).subarray(0, 4)]).toEqual([
      0x89, 0x50, 0x4e, 0x47,
    ]);
    expect(readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  it("renders without charts and writes nothing under plots/ then", () => {
    const sub = join(dir, "plain");
    const out = writeReport(sub, { title: "t", sections: [{ heading: "Only text", text: "x" }] });
    expect(out.plots).toEqual([]);
    expect(existsSync(join(sub, "plots"))).toBe(false);
    expect(renderReport({ title: "t", sections: [] })).toContain("<h1>t</h1>");
  });

  it("formats cells and slugs", () => {
    expect(formatCell(0.000012345)).toBe("1.234e-5");
    expect(formatCell(2 / 3)).toBe("0.6667");
    expect(formatCell(1234567)).toBe("1234567");
    expect(formatCell(null)).toBe("");
    expect(formatCell(true)).toBe("true");
    expect(slug("Reward (mean) / KL")).toBe("reward-mean-kl");
    expect(slug("***")).toBe("plot");
  });
});
