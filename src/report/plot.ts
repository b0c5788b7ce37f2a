// Charts for run reports: metrics rows ({step, reward_mean, kl, ...}) -> Vega-Lite spec -> Vega view
// rendered headless to an SVG string -> PNG with resvg. No browser, no canvas, no network.
// resvg draws text only with a font it can load: we look for a common sans font file on the machine
// (DejaVu Sans first: Debian's fonts-dejavu-core) and map the generic "sans-serif" that Vega writes
// to it. Without any font the PNG still renders, with lines but no text (a warning says so once).
import { existsSync, readdirSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { Resvg } from "@resvg/resvg-js";
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";

export type MetricsRow = Record<string, number | string | boolean | null | undefined>;

export interface LineChartOptions {
  title: string;
  rows: MetricsRow[];
  /** Field on the x axis, e.g. "step". */
  x: string;
  /** One line per field; rows where a field is missing or not finite are skipped for that line. */
  ys: string[];
  /** One panel per series with its own y scale (for metrics of different magnitudes). Default false. */
  separate?: boolean;
  width?: number;
  height?: number;
  xTitle?: string;
  yTitle?: string;
}

export interface BarChartOptions {
  title: string;
  rows: MetricsRow[];
  /** Category field (e.g. "expert"), drawn in row order. */
  x: string;
  /** Value field (e.g. "load"). */
  y: string;
  /** Optional grouping field: bars side by side per category (e.g. "layer"). */
  color?: string;
  width?: number;
  height?: number;
}

const FONT_NAMES = [
  "DejaVuSans.ttf",
  "LiberationSans-Regular.ttf",
  "NotoSans-Regular.ttf",
  "FreeSans.ttf",
  "Arial.ttf",
];
const FONT_DIRS = [
  "/usr/share/fonts",
  "/usr/local/share/fonts",
  join(homedir(), ".fonts"),
  "/Library/Fonts",
  "/System/Library/Fonts",
];

let fontCache: string | null | undefined;

/** Path of a sans-serif font file on this machine (searched once), or null when there is none. */
export function findFont(): string | null {
  if (fontCache !== undefined) return fontCache;
  const found = new Map<string, string>();
  const walk = (dir: string, depth: number) => {
    if (depth > 4 || !existsSync(dir)) return;
    let entries: import("node:fs").Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.isDirectory()) walk(join(dir, e.name), depth + 1);
      else if (FONT_NAMES.includes(e.name) && !found.has(e.name)) found.set(e.name, join(dir, e.name));
    }
  };
  for (const d of FONT_DIRS) walk(d, 0);
  fontCache = FONT_NAMES.map((n) => found.get(n)).find((p) => p !== undefined) ?? null;
  return fontCache;
}

const FAMILY_OF: Record<string, string> = {
  "DejaVuSans.ttf": "DejaVu Sans",
  "LiberationSans-Regular.ttf": "Liberation Sans",
  "NotoSans-Regular.ttf": "Noto Sans",
  "FreeSans.ttf": "FreeSans",
  "Arial.ttf": "Arial",
};

async function render(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const CONFIG = { font: "sans-serif", background: "white", view: { stroke: null } } as const;

/** A line chart of `ys` against `x`, as an SVG string. */
export async function lineChart(o: LineChartOptions): Promise<string> {
  if (o.ys.length === 0) throw new Error(`lineChart "${o.title}": ys is empty`);
  const values: { x: number; series: string; value: number }[] = [];
  for (const row of o.rows) {
    const x = Number(row[o.x]);
    if (!Number.isFinite(x)) continue;
    for (const y of o.ys) {
      const v = row[y];
      if (typeof v === "number" && Number.isFinite(v)) values.push({ x, series: y, value: v });
    }
  }
  const width = o.width ?? 480;
  const height = o.height ?? (o.separate ? 120 : 240);
  const encoding = {
    x: { field: "x", type: "quantitative", title: o.xTitle ?? o.x },
    y: {
      field: "value",
      type: "quantitative",
      title: o.separate ? null : (o.yTitle ?? (o.ys.length === 1 ? o.ys[0] : "value")),
      scale: { zero: false },
    },
    color: { field: "series", type: "nominal", title: "metric", sort: o.ys },
  } as const;
  const spec: TopLevelSpec = o.separate
    ? {
        title: o.title,
        data: { values },
        facet: { row: { field: "series", type: "nominal", title: null, sort: o.ys } },
        spec: { width, height, mark: { type: "line", point: values.length <= 60 }, encoding },
        resolve: { scale: { y: "independent" } },
        config: CONFIG,
      }
    : {
        title: o.title,
        width,
        height,
        data: { values },
        mark: { type: "line", point: values.length <= 60 },
        encoding,
        config: CONFIG,
      };
  return render(spec);
}

/** A bar chart (e.g. routed-expert load per expert, grouped by layer), as an SVG string. */
export async function barChart(o: BarChartOptions): Promise<string> {
  const values = o.rows.map((r) => ({
    x: String(r[o.x]),
    y: Number(r[o.y]),
    c: o.color ? String(r[o.color]) : "",
  }));
  const order = [...new Set(values.map((v) => v.x))];
  const spec: TopLevelSpec = {
    title: o.title,
    width: o.width ?? 480,
    height: o.height ?? 240,
    data: { values },
    mark: { type: "bar" },
    encoding: {
      x: { field: "x", type: "nominal", title: o.x, sort: order, axis: { labelAngle: 0 } },
      y: { field: "y", type: "quantitative", title: o.y },
      ...(o.color
        ? { color: { field: "c", type: "nominal", title: o.color }, xOffset: { field: "c", type: "nominal" } }
        : {}),
    },
    config: CONFIG,
  };
  return render(spec);
}

let warnedNoFont = false;

/** Rasterise an SVG to PNG bytes; `width` scales it (default: the SVG's own size). */
export function svgToPng(svg: string, opts: { width?: number } = {}): Uint8Array {
  const font = findFont();
  if (!font && !warnedNoFont) {
    warnedNoFont = true;
    console.warn(
      "report: no sans-serif font found (install fonts-dejavu-core): PNG charts will have no text",
    );
  }
  const family = font ? FAMILY_OF[font.split("/").pop()!] : undefined;
  const resvg = new Resvg(svg, {
    background: "white",
    fitTo: opts.width ? { mode: "width", value: opts.width } : { mode: "original" },
    font: font
      ? { loadSystemFonts: false, fontFiles: [font], defaultFontFamily: family, sansSerifFamily: family }
      : { loadSystemFonts: true },
  });
  return new Uint8Array(resvg.render().asPng());
}
