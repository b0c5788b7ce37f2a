// docs/cli.md must not fall behind the CLI: every command registered in the COMMANDS map of
// src/cli/main.ts has a `## name` heading there, and every long option a command declares appears
// in that command's section as `--option`. The command list is read from main.ts's source (main.ts
// runs the CLI when imported); each command's options come from importing its module, as main.ts
// does.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Command } from "../src/cli/command.ts";
import { CONFIG_TABLES, tableInDoc } from "../src/cli/config-tables.ts";

const root = join(import.meta.dirname, "..");
const mainSrc = readFileSync(join(root, "src/cli/main.ts"), "utf8");
const doc = readFileSync(join(root, "docs/cli.md"), "utf8");

/** [name, module path] of each COMMANDS entry, e.g. ["fp8-report", "./fp8-report.ts"]. */
function registeredCommands(src: string): [string, string][] {
  const block = src.slice(src.indexOf("const COMMANDS"), src.indexOf("\n};", src.indexOf("const COMMANDS")));
  const rows = [...block.matchAll(/^\s+"?([a-z0-9-]+)"?:\s*\[[\s\S]*?import\("(\.\/[^"]+)"\)/gm)];
  return rows.map((m) => [m[1], m[2]]);
}

const commands = registeredCommands(mainSrc);
/** Each `## name` section of the doc (heading `## name` or `` ## `r1lab name ...` ``) -> its text. */
function sections(md: string): Map<string, string> {
  const out = new Map<string, string>();
  const parts = md.split(/^(?=## )/m);
  for (const part of parts) {
    const m = /^## `?(?:r1lab )?([a-z0-9-]+)/.exec(part);
    if (m) out.set(m[1], part);
  }
  return out;
}
const docSections = sections(doc);

describe("docs/cli.md", () => {
  it("finds the commands of src/cli/main.ts", () => {
    // Guards the parser above: a changed COMMANDS layout must fail here, not pass vacuously.
    expect(commands.length).toBeGreaterThanOrEqual(10);
    expect(commands.map(([n]) => n)).toContain("zero");
    expect(commands.map(([n]) => n)).toContain("eval");
  });

  it("has a heading for every command", () => {
    const missing = commands.map(([n]) => n).filter((n) => !docSections.has(n));
    expect(missing, `commands without a "## name" heading in docs/cli.md`).toEqual([]);
  });

  it("mentions every long option of every command in that command's section", async () => {
    const missing: string[] = [];
    for (const [name, path] of commands) {
      const cmd = (await import(join(root, "src/cli", path))).default as Command;
      expect(cmd.name).toBe(name);
      const text = docSections.get(name) ?? "";
      for (const [opt, spec] of Object.entries(cmd.options)) {
        if (spec.hidden) continue; // the underscore spelling of a listed flag
        // `--opt` not followed by more of an option name (so --seed is not found inside --seed-x).
        if (!new RegExp(`--${opt}(?![a-z0-9-])`).test(text)) missing.push(`${name} --${opt}`);
      }
    }
    expect(missing, "options missing from docs/cli.md").toEqual([]);
    // Importing every command module compiles most of src/: ~15 s idle, over 30 s at load 10.
  }, 120_000);

  it("has the config option tables of zero and r1 as their schemas give them (pnpm tsx scripts/cli-tables.ts)", () => {
    for (const [name, table] of Object.entries(CONFIG_TABLES)) {
      const inDoc = tableInDoc(doc, name);
      expect(inDoc, `docs/cli.md: no <!-- options:${name} --> block`).not.toBeNull();
      expect(
        inDoc,
        `docs/cli.md: the ${name} option table is out of step; run pnpm tsx scripts/cli-tables.ts`,
      ).toBe(table().trim());
    }
  });
});
