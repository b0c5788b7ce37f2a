// A self-contained HTML report of a run: headings, text, tables and inline SVG charts in one file
// that opens anywhere (no scripts, no external assets), written atomically, with each chart also
// saved as plots/<name>.svg and plots/<name>.png for slides and READMEs.
import { join } from "node:path";
import { writeFileAtomic } from "../engine/atomic.ts";
import { svgToPng } from "./plot.ts";

export type TableRow = Record<string, string | number | boolean | null | undefined>;

export interface ReportSection {
  heading: string;
  /** Paragraphs, separated by blank lines. */
  text?: string;
  /** Rows of a table; columns are the keys in first-seen order. */
  table?: TableRow[];
  /** Preformatted text (sample completions, configs). */
  pre?: string;
  /** An SVG chart (from plot.ts), inlined and also saved under plots/. */
  svg?: string;
}

export interface Report {
  title: string;
  sections: ReportSection[];
}

export function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** Numbers to at most 4 significant digits (integers in full); other values as text. */
export function formatCell(v: TableRow[string]): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "number") {
    if (Number.isInteger(v) || !Number.isFinite(v)) return String(v);
    return Math.abs(v) >= 1e-3 && Math.abs(v) < 1e6 ? String(Number(v.toPrecision(4))) : v.toExponential(3);
  }
  return String(v);
}

function tableHtml(rows: TableRow[]): string {
  const cols: string[] = [];
  for (const r of rows) for (const k of Object.keys(r)) if (!cols.includes(k)) cols.push(k);
  const head = cols.map((c) => `<th>${escapeHtml(c)}</th>`).join("");
  const body = rows
    .map((r) => {
      const cells = cols.map((c) => {
        const num = typeof r[c] === "number" ? ' class="num"' : "";
        return `<td${num}>${escapeHtml(formatCell(r[c]))}</td>`;
      });
      return `<tr>${cells.join("")}</tr>`;
    })
    .join("\n");
  return `<table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

/** A file-name-safe slug of a heading: "Reward (mean)" -> "reward-mean". */
export function slug(s: string): string {
  return (
    s
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+|-+$/g, "") || "plot"
  );
}

const CSS = `body{font-family:system-ui,-apple-system,"DejaVu Sans",sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em;border-bottom:1px solid #ddd;padding-bottom:.3em}h2{font-size:1.25em;margin-top:1.8em}
table{border-collapse:collapse;font-size:.9em;margin:.5em 0}th,td{border:1px solid #ddd;padding:.25em .6em}
th{background:#f5f5f5;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
pre{background:#f7f7f7;padding:.8em;overflow-x:auto;font-size:.85em}figure{margin:.5em 0}svg{max-width:100%;height:auto}`;

/** The report as one HTML string (SVGs inline). */
export function renderReport(report: Report): string {
  const parts = [
    "<!DOCTYPE html>",
    '<html lang="en"><head><meta charset="utf-8">',
    `<title>${escapeHtml(report.title)}</title><style>${CSS}</style></head><body>`,
    `<h1>${escapeHtml(report.title)}</h1>`,
  ];
  for (const s of report.sections) {
    parts.push(`<section><h2 id="${slug(s.heading)}">${escapeHtml(s.heading)}</h2>`);
    if (s.text) {
      for (const p of s.text.split(/\n\s*\n/)) if (p.trim()) parts.push(`<p>${escapeHtml(p.trim())}</p>`);
    }
    if (s.table && s.table.length > 0) parts.push(tableHtml(s.table));
    if (s.pre) parts.push(`<pre>${escapeHtml(s.pre)}</pre>`);
    if (s.svg) parts.push(`<figure>${s.svg.replace(/^<\?xml[^>]*>\s*/, "")}</figure>`);
    parts.push("</section>");
  }
  parts.push("</body></html>", "");
  return parts.join("\n");
}

/**
 * Write dir/report.html and, for each section with a chart, dir/plots/<slug>.svg and .png (slugs made
 * unique with -2, -3, ...). All files are written atomically. Returns the paths written.
 */
export function writeReport(dir: string, report: Report): { html: string; plots: string[] } {
  const plots: string[] = [];
  const used = new Set<string>();
  for (const s of report.sections) {
    if (!s.svg) continue;
    let name = slug(s.heading);
    for (let i = 2; used.has(name); i++) name = `${slug(s.heading)}-${i}`;
    used.add(name);
    const svgPath = join(dir, "plots", `${name}.svg`);
    const pngPath = join(dir, "plots", `${name}.png`);
    writeFileAtomic(svgPath, s.svg);
    writeFileAtomic(pngPath, svgToPng(s.svg));
    plots.push(svgPath, pngPath);
  }
  const html = join(dir, "report.html");
  writeFileAtomic(html, renderReport(report));
  return { html, plots };
}
