// scripts/readme-figure.ts, which draws the README's picture of a run: from a run folder's own files
// it writes a PNG (with the run's held-out pass@1 in it); a folder that is not a finished zero run
// fails naming the missing file.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";

const root = join(import.meta.dirname, "..");
const tmp = mkdtempSync(join(tmpdir(), "r1lab-readme-figure-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const draw = (run: string, out: string) =>
  spawnSync(process.execPath, ["--import", "tsx", join(root, "scripts/readme-figure.ts"), run, out], {
    cwd: root,
    encoding: "utf8",
    timeout: 60_000,
  });

it("draws a finished run's curves and pass@1 as a PNG", () => {
  const run = join(tmp, "zero-x");
  mkdirSync(run);
  writeFileSync(
    join(run, "config.json"),
    JSON.stringify({ name: "zero-x", task: "arithmetic", device: "cpu", eval: { n_problems: 10 } }),
  );
  writeFileSync(
    join(run, "summary.json"),
    JSON.stringify({ base: { pass1: 0.2, k: 4 }, final: { pass1: 0.7, k: 4 }, wall_seconds: 12 }),
  );
  const rows = Array.from({ length: 5 }, (_, i) => ({ step: i + 1, accuracy: i / 5, shows_work_rate: 0.5 }));
  writeFileSync(join(run, "metrics.jsonl"), rows.map((r) => JSON.stringify(r)).join("\n"));
  const out = join(tmp, "img", "fig.png");
  const r = draw(run, out);
  expect(r.status, r.stderr).toBe(0);
  const png = readFileSync(out);
  expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  expect(png.readUInt32BE(16)).toBe(900); // IHDR width: the README's size
  expect(png.length).toBeGreaterThan(5_000);
  expect(png.length).toBeLessThan(200_000);
});

it("a folder that is not a finished run fails naming the file", () => {
  const run = join(tmp, "unfinished");
  mkdirSync(run);
  const out = join(tmp, "none.png");
  const r = draw(run, out);
  expect(r.status).not.toBe(0);
  expect(r.stderr).toContain(join(run, "summary.json"));
  expect(existsSync(out)).toBe(false);
});
