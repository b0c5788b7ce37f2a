// `r1lab data dedup` on corpora with planted exact and near duplicates: exactly the planted rows
// are removed (no more, no fewer), in JSONL, Parquet (schema kept, nested messages), JSON arrays
// and dataset folders; bad rows give errors naming the file, line and field.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from "hyparquet";
import { parquetWriteFile } from "hyparquet-writer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dedup } from "../src/data/dedup.ts";
import { candidateProbability, optimalBands } from "../src/data/lsh.ts";
import { jaccard } from "../src/data/minhash.ts";
import { normaliseText, tokens } from "../src/data/normalise.ts";
import { TaskRng } from "../src/engine/rng.ts";
import { runR1lab } from "./helpers/run-r1lab.ts";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "r1lab-dedup-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Random 80-word texts over a 2000-word vocabulary: distinct texts share almost no 3-word shingle. */
function corpus(n: number, seed: number): string[] {
  const rng = new TaskRng(seed);
  return Array.from({ length: n }, () => Array.from({ length: 80 }, () => `w${rng.int(0, 1999)}`).join(" "));
}

/** The corpus with planted duplicates; returns rows and the indices that must be removed. */
function planted() {
  const base = corpus(300, 7);
  const texts = [...base];
  const exact: number[] = [];
  const near: number[] = [];
  // Exact after normalisation: case, spacing and prose punctuation differ.
  for (const i of [3, 50, 120]) {
    exact.push(texts.length);
    texts.push(`  ${base[i].toUpperCase().replace(/ /g, "   ")}!? `);
  }
  // The same text twice more: both are exact duplicates of row 10.
  exact.push(texts.length, texts.length + 1);
  texts.push(base[10], base[10]);
  // Near: one word of 80 replaced (Jaccard of 3-shingles ~0.93).
  for (const i of [5, 77, 200, 250]) {
    const w = base[i].split(" ");
    w[40] = "changed";
    near.push(texts.length);
    texts.push(w.join(" "));
  }
  // Not duplicates: half of one text and half of another (Jaccard ~0.3), and 3+4 vs 3-4 (symbols kept).
  const a = base[1].split(" ");
  const b = base[2].split(" ");
  texts.push([...a.slice(0, 40), ...b.slice(40)].join(" "));
  texts.push("What is 3+4? Answer in one word.", "What is 3-4? Answer in one word.");
  return { texts, exact, near };
}

describe("normalisation", () => {
  it("drops case, spacing and prose punctuation, keeps math symbols and decimals", () => {
    expect(tokens("What is 3+4?  It's 3.5!")).toEqual(["what", "is", "3", "+", "4", "it", "s", "3.5"]);
    expect(normaliseText("ＡＢＣ  def,")).toBe("abc def");
    expect(normaliseText("3+4")).not.toBe(normaliseText("3-4"));
  });

  it("LSH bands put the S-curve's steep part at the threshold", () => {
    const { bands, rows } = optimalBands(0.8, 128);
    expect(bands * rows).toBeLessThanOrEqual(128);
    expect(candidateProbability(0.9, bands, rows)).toBeGreaterThan(0.99);
    expect(candidateProbability(0.5, bands, rows)).toBeLessThan(0.05);
  });
});

describe("dedup", () => {
  it("removes exactly the planted exact and near duplicates (JSONL, lines kept byte for byte)", async () => {
    const { texts, exact, near } = planted();
    const f = join(dir, "planted.jsonl");
    writeFileSync(f, `${texts.map((t, i) => JSON.stringify({ id: i, text: t })).join("\n")}\n`);
    const out = join(dir, "out-jsonl");
    const r = await dedup({ data: f, out, near: true, progress: false });
    expect(r.rows).toBe(texts.length);
    expect(r.removed_exact).toBe(exact.length);
    expect(r.removed_near).toBe(near.length);
    expect(r.kept).toBe(texts.length - exact.length - near.length);
    expect(r.clusters).toBe(3 + 1 + 4);
    const keptLines = readFileSync(join(out, "planted.jsonl"), "utf8").trimEnd().split("\n");
    const keptIds = keptLines.map((l) => JSON.parse(l).id as number);
    const removed = texts.map((_, i) => i).filter((i) => !keptIds.includes(i));
    expect(removed).toEqual([...exact, ...near].sort((x, y) => x - y));
    // Kept lines are the input lines, unchanged.
    const input = readFileSync(f, "utf8").split("\n");
    expect(keptLines.every((l) => input.includes(l))).toBe(true);
    const report = JSON.parse(readFileSync(join(out, "report.json"), "utf8"));
    expect(report).toMatchObject({
      rows: r.rows,
      kept: r.kept,
      removed_exact: 5,
      removed_near: 4,
      clusters: 8,
    });
    expect(report.examples.near[0].kept.index).toBe(5);
    expect(report.examples.near[0].removed.index).toBe(near[0]);
    expect(report.examples.near[0].similarity).toBeCloseTo(jaccard(texts[5], texts[near[0]], 3), 4);
    expect(report.examples.exact[0]).toMatchObject({
      kept: { index: 3, line: 4 },
      removed: { index: exact[0] },
      similarity: 1,
    });
  });

  it("without --near keeps near duplicates and removes exact ones only", async () => {
    const { texts, exact } = planted();
    const f = join(dir, "exact-only.jsonl");
    writeFileSync(f, texts.map((t) => JSON.stringify({ text: t })).join("\n"));
    const r = await dedup({ data: f, out: join(dir, "out-exact"), progress: false });
    expect([r.removed_exact, r.removed_near, r.near]).toEqual([exact.length, 0, null]);
  });

  it("reads and writes Parquet with the input's schema (messages as list<struct>)", async () => {
    const msgs = (q: string, a: string) => [
      { role: "user", content: q },
      { role: "assistant", content: a },
    ];
    const data = [
      msgs("What is 2+2?", "4"),
      msgs("what is 2+2", "4."),
      msgs("What is 2*2?", "4"),
      msgs("Name a prime.", "7"),
    ];
    const f = join(dir, "chat.parquet");
    parquetWriteFile({
      filename: f,
      columnData: [{ name: "id", data: [1n, 2n, 3n, 4n] }, { name: "messages", data } as any],
      schema: [
        { name: "root", num_children: 2 },
        { name: "id", type: "INT64", repetition_type: "REQUIRED" },
        { name: "messages", repetition_type: "OPTIONAL", converted_type: "LIST", num_children: 1 },
        { name: "list", repetition_type: "REPEATED", num_children: 1 },
        { name: "element", repetition_type: "OPTIONAL", num_children: 2 },
        { name: "role", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" },
        { name: "content", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" },
      ] as any,
    });
    const out = join(dir, "out-parquet");
    const r = await dedup({ data: f, out, field: "messages", progress: false });
    expect([r.rows, r.kept, r.removed_exact]).toEqual([4, 3, 1]);
    const buf = await asyncBufferFromFile(join(out, "chat.parquet"));
    const rows = await parquetReadObjects({ file: buf });
    expect(rows.map((x) => x.id)).toEqual([1n, 3n, 4n]);
    expect(rows[1].messages).toEqual(data[2]);
    const meta = await parquetMetadataAsync(buf);
    expect(meta.schema.map((s) => s.name)).toEqual([
      "root",
      "id",
      "messages",
      "list",
      "element",
      "role",
      "content",
    ]);
  });

  it("keeps a dataset folder's layout and a JSON array's format; duplicates span files", async () => {
    const root = join(dir, "ds");
    mkdirSync(join(root, "data"), { recursive: true });
    writeFileSync(
      join(root, "data", "train-00000.jsonl"),
      ['{"problem": "A b c"}', '{"problem": "x y"}'].join("\n"),
    );
    writeFileSync(
      join(root, "data", "train-00001.json"),
      JSON.stringify([{ problem: "a B c." }, { problem: "z" }]),
    );
    writeFileSync(join(root, "data", "test.jsonl"), '{"problem": "A b c"}\n');
    const out = join(dir, "out-ds");
    const r = await dedup({ data: root, out, field: "problem", progress: false });
    expect([r.rows, r.kept, r.removed_exact]).toEqual([4, 3, 1]);
    expect(readFileSync(join(out, "data", "train-00000.jsonl"), "utf8")).toBe(
      '{"problem": "A b c"}\n{"problem": "x y"}\n',
    );
    expect(JSON.parse(readFileSync(join(out, "data", "train-00001.json"), "utf8"))).toEqual([
      { problem: "z" },
    ]);
  });

  it("names the file, line and field of a bad row", async () => {
    const f = join(dir, "bad.jsonl");
    writeFileSync(f, '{"text": "ok"}\n{"text": 3}\n{"txt": "no"}\n');
    await expect(dedup({ data: f, out: join(dir, "o1"), field: "text", progress: false })).rejects.toThrow(
      `${f}:3: missing field 'text'`,
    );
    writeFileSync(f, '{"messages": [{"role": "user", "content": 5}]}\n');
    await expect(dedup({ data: f, out: join(dir, "o2"), progress: false })).rejects.toThrow(
      `${f}:1: field 'messages[0]' must be a string or a message with a string 'content'`,
    );
    writeFileSync(f, '{"text": "ok"}\n{"text": "broken"\n');
    await expect(dedup({ data: f, out: join(dir, "o3"), progress: false })).rejects.toThrow(
      `${f}:2: not valid JSON`,
    );
    // A failed run leaves no output that looks complete, even after rows were written: the bad
    // line comes after 1.5 MB of good ones (more than one read chunk and batch).
    const good = Array.from({ length: 15_000 }, (_, i) =>
      JSON.stringify({ text: `row ${i} ${"x".repeat(80)}` }),
    );
    writeFileSync(f, `${good.join("\n")}\n{"text": {"a": 1}}\n`);
    await expect(dedup({ data: f, out: join(dir, "o4"), field: "text", progress: false })).rejects.toThrow(
      `${f}:15001: field 'text' must be a string or a list of messages, got object`,
    );
    expect(readdirSync(join(dir, "o4"))).toEqual([]);
  });

  it("runs from the command line", async () => {
    const f = join(dir, "cli.jsonl");
    writeFileSync(f, '{"text": "one two"}\n{"text": "One, two."}\n{"text": "three"}\n');
    const out = join(dir, "out-cli");
    const res = await runR1lab(["data", "dedup", "--data", f, "--out", out, "--near", "-q"], {
      timeoutMs: 60_000,
    });
    expect(res.code, res.stderr).toBe(0);
    expect(JSON.parse(res.stdout.split("\n")[0])).toMatchObject({
      rows: 3,
      kept: 2,
      removed_exact: 1,
      removed_near: 0,
      clusters: 1,
    });
    const bad = await runR1lab(["data", "dedup", "--data", f, "--out", out, "--threshold", "2"], {
      timeoutMs: 60_000,
    });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--threshold must be in (0, 1]");
  }, 60_000);
});
