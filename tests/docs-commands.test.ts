// The shell blocks of README.md and docs/*.md must work as pasted. Every ```sh block is either run
// or explicitly not run, with the reason in an HTML comment just above it (invisible on GitHub):
//   <!-- docs-test: not-run (downloads 1 GB from the Hub) -->
//   <!-- docs-test: replace "pnpm start" "pnpm r1lab zero --preset tiny" -->   (small settings)
// The check that every block is classified runs in the default suite (fast). Running the blocks
// takes minutes, so it runs with `pnpm test:docs` (R1LAB_DOCS_RUN=1): in document order (README,
// getting-started, then the other docs), with bash -e, in a scratch copy of the checkout (links to
// its files; runs/, evals/, dist/ are its own), offline (HF_HUB_OFFLINE=1).
// R1LAB_DOCS_ONLY=docs/grpo.md,docs/cli.md runs the blocks of those pages only (a block that uses
// what an earlier page made, such as runs/latest, then needs that page too).
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..");
const DOCS = [
  "README.md",
  "docs/getting-started.md",
  ...readdirSync(join(root, "docs"))
    .filter((f) => f.endsWith(".md"))
    .sort()
    .map((f) => `docs/${f}`)
    .filter((f) => f !== "docs/getting-started.md"),
];

interface Block {
  file: string;
  line: number;
  code: string;
  notRun: string | null;
  replacements: [string, string][];
}

/** Every ```sh block with the docs-test directives of the comment lines just above it. */
function blocks(file: string): Block[] {
  const lines = readFileSync(join(root, file), "utf8").split("\n");
  const out: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() !== "```sh") continue;
    const end = lines.findIndex((l, j) => j > i && l.trim() === "```");
    const directives: string[] = [];
    for (let j = i - 1; j >= 0 && /^<!-- docs-test:.*-->$/.test(lines[j].trim()); j--)
      directives.push(lines[j]);
    let notRun: string | null = null;
    const replacements: [string, string][] = [];
    for (const d of directives) {
      const nr = /not-run \(([^)]*)\)/.exec(d);
      if (nr) notRun = nr[1].trim();
      for (const m of d.matchAll(/replace "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)"/g))
        replacements.push([JSON.parse(`"${m[1]}"`), JSON.parse(`"${m[2]}"`)]);
    }
    out.push({ file, line: i + 1, code: lines.slice(i + 1, end).join("\n"), notRun, replacements });
    i = end;
  }
  return out;
}

const all = DOCS.flatMap(blocks);

describe("docs shell blocks", () => {
  it("finds the blocks, and each one not run says why", () => {
    expect(all.length).toBeGreaterThan(20);
    for (const b of all) {
      if (b.notRun !== null)
        expect(b.notRun.split(/\s+/).length, `${b.file}:${b.line}`).toBeGreaterThanOrEqual(3);
      for (const [from] of b.replacements)
        expect(b.code, `${b.file}:${b.line}: replace "${from}"`).toContain(from);
    }
  });

  it("no block names a command r1lab does not have", () => {
    const main = readFileSync(join(root, "src/cli/main.ts"), "utf8");
    for (const b of all) {
      for (const m of b.code.matchAll(/pnpm (?:-s )?r1lab ([a-z][\w-]*)/g)) {
        expect(main, `${b.file}:${b.line}: r1lab ${m[1]}`).toMatch(new RegExp(`^\\s+"?${m[1]}"?: \\[`, "m"));
      }
    }
  });
});

const run = process.env.R1LAB_DOCS_RUN === "1";
describe.skipIf(!run)("docs shell blocks, run as pasted", () => {
  let work = "";
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), "r1lab-docs-"));
    const own = new Set(["runs", "evals", "dist", "node_modules", ".git"]);
    for (const e of readdirSync(root)) if (!own.has(e)) symlinkSync(join(root, e), join(work, e));
    symlinkSync(join(root, "node_modules"), join(work, "node_modules"));
    mkdirSync(join(work, "runs"));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  const only = process.env.R1LAB_DOCS_ONLY?.split(",").map((f) => f.trim());
  for (const b of all.filter((x) => x.notRun === null && (!only || only.includes(x.file)))) {
    it(`${b.file}:${b.line}`, async () => {
      let code = b.code;
      for (const [from, to] of b.replacements) code = code.split(from).join(to);
      const env = { ...process.env, HF_HUB_OFFLINE: "1", HF_HOME: join(work, ".hf"), R1LAB_DOCS_RUN: "" };
      const r = await new Promise<{ code: number | null; out: string }>((done) => {
        // Its own process group, so a block past its time is killed with everything it started
        // (pnpm, tsx, node), not only bash: an orphan would keep running and writing files.
        const child = spawn("bash", ["-euo", "pipefail", "-c", code], {
          cwd: work,
          env,
          stdio: ["ignore", "pipe", "pipe"],
          detached: true,
        });
        let out = "";
        child.stdout.on("data", (d) => (out += d));
        child.stderr.on("data", (d) => (out += d));
        const timer = setTimeout(() => process.kill(-(child.pid as number), "SIGKILL"), 540_000);
        child.on("close", (c) => {
          clearTimeout(timer);
          done({ code: c, out });
        });
      });
      expect(r.code, `${b.file}:${b.line}\n${code}\n--- output ---\n${r.out.slice(-4000)}`).toBe(0);
    }, 600_000);
  }
});
