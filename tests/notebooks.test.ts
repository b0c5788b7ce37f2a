// The notebooks as files (they are executed by `pnpm test:notebooks`, not here): each is nbformat 4
// JSON for the Deno kernel, committed with the outputs of one run top to bottom (`pnpm
// notebooks:run`) so they read on GitHub: counts 1, 2, ... in order, no errors, plots as PNG of
// modest size, nothing that changes between runs or machines (timing metadata, temporary or
// absolute paths); its imports of r1lab's sources exist, and package.json runs the scripts.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const dir = resolve("notebooks");
const names = readdirSync(dir)
  .filter((f) => f.endsWith(".ipynb"))
  .sort();

interface Output {
  output_type: string;
  name?: string;
  text?: string | string[];
  data?: Record<string, string | string[]>;
}
interface Cell {
  cell_type: string;
  source: string | string[];
  outputs?: Output[];
  execution_count?: number | null;
  metadata: Record<string, unknown>;
}
/** Largest image a committed output may hold (base64 characters), and largest notebook file. */
const MAX_IMAGE = 150_000;
const MAX_NOTEBOOK = 600_000;
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
    it(`${name}: nbformat 4, Deno kernel, stable committed outputs, imports that exist`, () => {
      const raw = readFileSync(join(dir, name), "utf8");
      expect(raw.length, `${name} is too large: keep plots small`).toBeLessThan(MAX_NOTEBOOK);
      const nb = JSON.parse(raw);
      expect(nb.nbformat).toBe(4);
      expect(nb.metadata.kernelspec).toMatchObject({ name: "deno", language: "typescript" });
      const cells: Cell[] = nb.cells;
      expect(cells.length).toBeGreaterThan(3);
      const code = cells.filter((c) => c.cell_type === "code");
      expect(code.length).toBeGreaterThan(0);
      const stale = "run `pnpm notebooks:run` and commit the notebooks it writes";
      let count = 0;
      let images = 0;
      for (const [i, c] of cells.entries()) {
        expect(["code", "markdown"], `cell ${i}`).toContain(c.cell_type);
        expect(text(c.source).trim().length, `cell ${i} is empty`).toBeGreaterThan(0);
        expect(c.metadata.execution, `cell ${i} has timing metadata: ${stale}`).toBeUndefined();
        if (c.cell_type !== "code") continue;
        count++;
        expect(c.execution_count, `cell ${i}: not run top to bottom in order: ${stale}`).toBe(count);
        for (const o of c.outputs ?? []) {
          expect(o.output_type, `cell ${i} holds an error: ${stale}`).not.toBe("error");
          const data = o.data ?? {};
          expect(
            data["image/svg+xml"],
            `cell ${i}: plots as PNG (GitHub does not draw SVG outputs)`,
          ).toBeUndefined();
          if (data["image/png"]) {
            images++;
            expect(text(data["image/png"]).length, `cell ${i}: image too large`).toBeLessThan(MAX_IMAGE);
          }
          const shown = [text(o.text ?? ""), text(data["text/plain"] ?? "")].join("\n");
          expect(shown, `cell ${i} shows a machine's path: ${stale}`).not.toMatch(
            /\/(tmp|home|root|work|Users)\//,
          );
        }
      }
      expect(
        cells.filter((c) => c.cell_type === "code" && (c.outputs ?? []).length > 0).length,
      ).toBeGreaterThan(0);
      // Every notebook draws charts through show(): they must be in the committed outputs.
      if (cells.some((c) => /\bshow\(/.test(text(c.source))))
        expect(images, `${name} has no plots`).toBeGreaterThan(0);
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
    // notebooks:run writes the executed notebooks back through the same script.
    expect(pkg.scripts["notebooks:run"]).toMatch(/R1LAB_NOTEBOOK_WRITE=1 .*scripts\/test-notebooks\.sh/);
  });
});
