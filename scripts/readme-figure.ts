// The README's picture of a run: `pnpm tsx scripts/readme-figure.ts [RUN_DIR] [OUT.png]` reads an
// R1-Zero run folder (default runs/latest; made by `pnpm start`) and draws, from its own files, what
// its report.html shows first: the GRPO curves (training accuracy, reward, the share of rollouts
// that show their work; metrics.jsonl) beside held-out pass@1 before and after GRPO (summary.json).
// Vega-Lite -> SVG -> PNG with resvg, as the run reports do (src/report/plot.ts). Default output:
// docs/img/zero-report.png.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";
import { svgToPng } from "../src/report/plot.ts";

const run = resolve(process.argv[2] ?? "runs/latest");
const out = resolve(process.argv[3] ?? join(import.meta.dirname, "..", "docs", "img", "zero-report.png"));

function readJson(path: string): Record<string, any> {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new Error(`${path}: ${(e as Error).message} (is ${run} a finished run of r1lab zero?)`);
  }
}
const summary = readJson(join(run, "summary.json"));
const config = readJson(join(run, "config.json"));
const metrics = readFileSync(join(run, "metrics.jsonl"), "utf8")
  .split("\n")
  .filter((l) => l.trim())
  .map((l) => JSON.parse(l) as Record<string, number>);
for (const k of ["base", "final"])
  if (typeof summary[k]?.pass1 !== "number") throw new Error(`${run}/summary.json: no ${k}.pass1`);

const SERIES: [string, string][] = [
  ["accuracy", "training accuracy"],
  ["shows_work_rate", "rollouts that show work"],
];
const curves = metrics.flatMap((m) =>
  SERIES.filter(([k]) => typeof m[k] === "number").map(([k, name]) => ({
    step: m.step,
    series: name,
    value: m[k],
  })),
);
const bars = [
  { model: "base (pretrained)", pass1: summary.base.pass1 },
  { model: "after GRPO", pass1: summary.final.pass1 },
];
const n = summary.final_detail?.n_problems ?? config.eval?.n_problems;
const k = summary.final.k;

const spec: TopLevelSpec = {
  title: {
    text: `r1lab zero (${config.name})`,
    subtitle: `${config.task}: pretraining + ${metrics.length} GRPO steps, ${Math.round(summary.wall_seconds)} s in all on ${config.device}`,
    anchor: "start",
    offset: 16,
  },
  spacing: 40,
  hconcat: [
    {
      title: "GRPO rollouts",
      width: 360,
      height: 220,
      data: { values: curves },
      mark: { type: "line", point: false, strokeWidth: 2 },
      encoding: {
        x: { field: "step", type: "quantitative", title: "GRPO step" },
        y: { field: "value", type: "quantitative", title: "share", scale: { domain: [0, 1] } },
        color: {
          field: "series",
          type: "nominal",
          title: null,
          legend: { orient: "bottom", labelLimit: 400 },
        },
      },
    },
    {
      title: `held-out pass@1 (${n} problems, k=${k})`,
      width: 160,
      height: 220,
      data: { values: bars },
      layer: [
        {
          mark: { type: "bar", color: "#4c78a8" },
          encoding: {
            x: { field: "model", type: "nominal", title: null, sort: null, axis: { labelAngle: 0 } },
            y: { field: "pass1", type: "quantitative", title: "pass@1", scale: { domain: [0, 1] } },
          },
        },
        {
          mark: { type: "text", dy: -8, fontSize: 13 },
          encoding: {
            x: { field: "model", type: "nominal", sort: null },
            y: { field: "pass1", type: "quantitative" },
            text: { field: "pass1", type: "quantitative", format: ".2f" },
          },
        },
      ],
    },
  ],
  config: { font: "sans-serif", background: "white", view: { stroke: null } },
};

const view = new vega.View(vega.parse(compile(spec).spec), { renderer: "none" });
const svg = await view.toSVG();
view.finalize();
mkdirSync(dirname(out), { recursive: true });
const png = svgToPng(svg, { width: 900 });
writeFileSync(out, png);
console.log(`wrote ${out} (${(png.length / 1024).toFixed(0)} KiB) from ${run}`);
