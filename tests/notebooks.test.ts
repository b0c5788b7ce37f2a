// The notebooks as files (they are executed by `pnpm test:notebooks`, not here): each is nbformat 4
// JSON for the Deno kernel, committed without outputs, its imports of r1lab's sources exist, and
// package.json runs the executing script.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const dir = resolve("notebooks");
const names = readdirSync(dir)
  .filter((f) => f.endsWith(".ipynb"))
  .sort();

interface Cell {
  cell_type: string;
  source: string | string[];
  outputs?: unknown[];
  execution_count?: number | null;
  metadata: Record<string, unknown>;
}
const text = (s: string | string[]) => (Array.isArray(s) ? s.join("") : s);

describe("notebooks/", () => {
  it("holds the four notebooks the README lists", () => {
    expect(names).toEqual([
      "01-load-and-generate.ipynb",
      "02-evaluate-and-plot.ipynb",
      "03-r1-zero-grpo.ipynb",
      "04-deepseek-v3-architecture.ipynb",
    ]);
    const readme = readFileSync(join(dir, "README.md"), "utf8");
    for (const n of names) expect(readme, n).toContain(n);
  });

  for (const name of names) {
    it(`${name}: nbformat 4, Deno kernel, no outputs, imports that exist`, () => {
      const nb = JSON.parse(readFileSync(join(dir, name), "utf8"));
      expect(nb.nbformat).toBe(4);
      expect(nb.metadata.kernelspec).toMatchObject({ name: "deno", language: "typescript" });
      const cells: Cell[] = nb.cells;
      expect(cells.length).toBeGreaterThan(3);
      const code = cells.filter((c) => c.cell_type === "code");
      expect(code.length).toBeGreaterThan(0);
      for (const [i, c] of cells.entries()) {
        expect(["code", "markdown"], `cell ${i}`).toContain(c.cell_type);
        expect(text(c.source).trim().length, `cell ${i} is empty`).toBeGreaterThan(0);
        if (c.cell_type === "code") {
          expect(c.outputs, `cell ${i} has outputs: clear them before committing`).toEqual([]);
          expect(c.execution_count, `cell ${i} has an execution count`).toBeNull();
        }
      }
      const src = code.map((c) => text(c.source)).join("\n");
      const imports = [...src.matchAll(/from "(\.\.?\/[^"]+)"/g)].map((m) => m[1]);
      expect(imports.length).toBeGreaterThan(0);
      for (const p of imports) expect(existsSync(resolve(dir, p)), `${name} imports ${p}`).toBe(true);
      // The small configuration that `pnpm test:notebooks` selects.
      expect(src).toContain('Deno.env.get("R1LAB_NOTEBOOK_SMALL")');
    });
  }

  it("package.json's test:notebooks runs a script that exists", () => {
    const pkg = JSON.parse(readFileSync("package.json", "utf8"));
    const script: string = pkg.scripts["test:notebooks"];
    expect(script).toMatch(/scripts\/test-notebooks\.sh/);
    const file = script.split(" ").find((w) => w.startsWith("scripts/"))!;
    expect(existsSync(file)).toBe(true);
    expect(existsSync(join(dirname(file), "test-notebooks.py"))).toBe(true);
    expect(pkg.devDependencies.deno).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
