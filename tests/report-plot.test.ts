import { describe, expect, it } from "vitest";
import { barChart, findFont, lineChart, svgToPng } from "../src/report/plot.ts";

const rows = Array.from({ length: 30 }, (_, i) => ({
  step: i * 10,
  reward_mean: 0.1 + 0.01 * i,
  kl: i === 5 ? null : 0.001 * i,
}));

function pngSize(png: Uint8Array): { width: number; height: number } {
  const dv = new DataView(png.buffer, png.byteOffset, png.byteLength);
  return { width: dv.getUint32(16), height: dv.getUint32(20) };
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

describe("line charts", () => {
  it("render the title, axis, legend and one path per series as SVG", async () => {
    const svg = await lineChart({ title: "GRPO reward", rows, x: "step", ys: ["reward_mean", "kl"] });
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg).toContain("GRPO reward");
    expect(svg).toContain(">reward_mean<");
    expect(svg).toContain(">kl<");
    expect(svg).toContain(">step<");
    // the x axis reaches the last step: a tick label at 250 or 300 exists
    expect(/>(250|300)</.test(svg)).toBe(true);
    // both series drawn: two line marks with a d attribute of many points
    const paths = [...svg.matchAll(/<path[^>]*aria-roledescription="line mark"[^>]*d="([^"]+)"/g)].map(
      (m) => m[1],
    );
    expect(paths).toHaveLength(2);
    for (const d of paths) expect(d.split("L").length).toBeGreaterThan(20);
  });

  it("draws separate panels with their own scales", async () => {
    const svg = await lineChart({
      title: "per metric",
      rows,
      x: "step",
      ys: ["reward_mean", "kl"],
      separate: true,
    });
    const paths = svg.match(/aria-roledescription="line mark"/g) ?? [];
    expect(paths.length).toBe(2);
    expect(svg).toContain("per metric");
  });

  it("rejects a chart without series", async () => {
    await expect(lineChart({ title: "t", rows, x: "step", ys: [] })).rejects.toThrow(
      /lineChart "t": ys is empty/,
    );
  });
});

describe("bar charts", () => {
  it("draw one bar per row", async () => {
    const load = Array.from({ length: 8 }, (_, e) => ({ expert: e, load: (e + 1) / 36 }));
    const svg = await barChart({ title: "expert load", rows: load, x: "expert", y: "load" });
    expect(svg).toContain("expert load");
    expect((svg.match(/aria-roledescription="bar"/g) ?? []).length).toBe(8);
    const grouped = [0, 1].flatMap((layer) => load.map((r) => ({ ...r, layer })));
    const svg2 = await barChart({ title: "by layer", rows: grouped, x: "expert", y: "load", color: "layer" });
    expect((svg2.match(/aria-roledescription="bar"/g) ?? []).length).toBe(16);
  });
});

describe("PNG", () => {
  it("has a PNG signature and the SVG's size (or the asked width)", async () => {
    const svg = await lineChart({ title: "GRPO reward", rows, x: "step", ys: ["reward_mean"] });
    const w = Number(svg.match(/width="(\d+)"/)![1]);
    const h = Number(svg.match(/height="(\d+)"/)![1]);
    const png = svgToPng(svg);
    expect([...png.slice(0, 8)]).toEqual(PNG_SIGNATURE);
    expect(pngSize(png)).toEqual({ width: w, height: h });
    expect(png.length).toBeGreaterThan(2000);
    const wide = svgToPng(svg, { width: 2 * w });
    expect(pngSize(wide)).toEqual({ width: 2 * w, height: 2 * h });
  });

  it.skipIf(findFont() === null)("draws text with the font found on this machine", () => {
    const box = (body: string) =>
      `<svg xmlns="http://www.w3.org/2000/svg" width="300" height="60"><rect width="300" height="60" fill="white"/>${body}</svg>`;
    const blank = svgToPng(box(""));
    const text = svgToPng(
      box('<text x="10" y="40" font-family="sans-serif" font-size="24">reward 0.31</text>'),
    );
    expect(text.length).toBeGreaterThan(blank.length + 300);
  });
});
