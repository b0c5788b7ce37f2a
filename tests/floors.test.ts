// The floors of src/: each folder may import only folders below it (docs/architecture.md). The
// test reads every import under src/ (static, `export ... from`, and dynamic `import("...")`) and
// fails on an upward import, which also rules out two folders importing each other.
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

/** Lowest first. Keep in step with "The floors" in docs/architecture.md. */
const FLOORS = [
  "engine",
  "report",
  "tasks",
  "model",
  "generate",
  "hf",
  "backends",
  "serve",
  "eval",
  "data",
  "train",
  "rl",
  "runs",
  "cli",
];

const src = resolve("src");
const files = (readdirSync(src, { recursive: true }) as string[])
  .filter((f) => f.endsWith(".ts"))
  .map((f) => join(src, f));
const floorOf = (file: string) => relative(src, file).split("/")[0];

function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const specs = [
    ...text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"`;]*?from\s*["']([^"']+)["']/g),
    ...text.matchAll(/import\(\s*["']([^"']+)["']\s*\)/g),
  ].map((m) => m[1]);
  return specs.filter((s) => s.startsWith(".")).map((s) => resolve(dirname(file), s));
}

describe("src/ floors", () => {
  it("every folder of src/ has a floor", () => {
    const folders = [...new Set(files.map(floorOf))].filter((f) => !f.endsWith(".ts"));
    expect(folders.filter((f) => !FLOORS.includes(f))).toEqual([]);
  });

  it("the parser sees imports (sanity)", () => {
    const zero = importsOf(join(src, "runs", "zero.ts")).map(floorOf);
    expect(zero).toContain("train");
    expect(importsOf(join(src, "cli", "zero.ts")).map(floorOf)).toContain("runs");
  });

  it("no folder imports a higher one", () => {
    const upward: string[] = [];
    for (const f of files) {
      const from = floorOf(f);
      if (from.endsWith(".ts")) continue; // src/index.ts, the package's entry, sits above every floor
      for (const target of importsOf(f)) {
        const to = floorOf(target);
        if (to === from || !FLOORS.includes(to)) continue;
        if (FLOORS.indexOf(to) > FLOORS.indexOf(from))
          upward.push(`${relative(src, f)} -> ${relative(src, target)}`);
      }
    }
    expect(upward).toEqual([]);
  });
});
