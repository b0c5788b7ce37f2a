import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parquetWriteFile } from "hyparquet-writer";
import { beforeAll, describe, expect, it } from "vitest";
import { readRows, resolveDataFiles, stringField, stringListField } from "../src/eval/data.ts";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "r1lab-eval-data-"));
});

function jsonl(path: string, rows: unknown[]): string {
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, `${rows.map((r) => JSON.stringify(r)).join("\n")}\n`);
  return path;
}

function parquet(path: string, columns: { name: string; data: unknown[]; type?: string }[]): string {
  mkdirSync(join(path, ".."), { recursive: true });
  parquetWriteFile({ filename: path, columnData: columns as any });
  return path;
}

describe("readRows", () => {
  it("reads JSONL with file and line of each row, skipping blank lines", async () => {
    const f = join(dir, "a.jsonl");
    writeFileSync(f, '{"q": "one"}\n\n{"q": "two"}\n');
    const rows = await readRows(f);
    expect(rows.map((r) => [r.fields.q, r.line, r.index])).toEqual([
      ["one", 1, 0],
      ["two", 3, 1],
    ]);
    expect(rows[0].file).toBe(f);
  });
  it("names file and line of a malformed row", async () => {
    const f = join(dir, "bad.jsonl");
    writeFileSync(f, '{"q": 1}\n{"q": \n');
    await expect(readRows(f)).rejects.toThrow(`${f}:2: not valid JSON`);
    writeFileSync(f, '{"q": 1}\n[1, 2]\n');
    await expect(readRows(f)).rejects.toThrow(`${f}:2: expected a JSON object`);
  });
  it("reads a JSON array", async () => {
    const f = join(dir, "arr.json");
    writeFileSync(f, JSON.stringify([{ a: 1 }, { a: 2 }]));
    expect((await readRows(f)).map((r) => r.fields.a)).toEqual([1, 2]);
  });
  it("reads Parquet: INT64 becomes a number, lists stay lists", async () => {
    const f = parquet(join(dir, "p.parquet"), [
      { name: "task_id", data: [7n, 8n], type: "INT64" },
      { name: "text", data: ["first", "second"], type: "STRING" },
      { name: "test_list", data: [["assert f(1) == 1"], ["assert f(2) == 4", "assert f(3) == 9"]] },
    ]);
    const rows = await readRows(f);
    expect(rows.map((r) => r.fields)).toEqual([
      { task_id: 7, text: "first", test_list: ["assert f(1) == 1"] },
      { task_id: 8, text: "second", test_list: ["assert f(2) == 4", "assert f(3) == 9"] },
    ]);
    expect(stringListField(rows[1], ["test_list"])).toHaveLength(2);
    expect(rows[1].line).toBe(2);
  });
});

describe("dataset folders", () => {
  it("picks the split's files in a Hub download layout", async () => {
    const root = join(dir, "hub1");
    parquet(join(root, "data", "test-00000-of-00001.parquet"), [{ name: "x", data: ["t"], type: "STRING" }]);
    parquet(join(root, "data", "train-00000-of-00001.parquet"), [{ name: "x", data: ["r"], type: "STRING" }]);
    writeFileSync(join(root, ".gitattributes"), "*.parquet filter=lfs\n");
    expect((await readRows(root)).map((r) => r.fields.x)).toEqual(["t"]);
    expect((await readRows(root, { split: "train" })).map((r) => r.fields.x)).toEqual(["r"]);
    expect(resolveDataFiles(root, ["validation", "train"])).toEqual([
      join(root, "data", "train-00000-of-00001.parquet"),
    ]);
  });
  it("prefers the main config folder and errors when the choice is ambiguous", () => {
    const root = join(dir, "hub2");
    jsonl(join(root, "main", "test-00000-of-00001.jsonl"), [{ x: 1 }]);
    jsonl(join(root, "socratic", "test-00000-of-00001.jsonl"), [{ x: 2 }]);
    expect(resolveDataFiles(root)).toEqual([join(root, "main", "test-00000-of-00001.jsonl")]);
    const amb = join(dir, "hub3");
    jsonl(join(amb, "a", "test.jsonl"), [{ x: 1 }]);
    jsonl(join(amb, "b", "test.jsonl"), [{ x: 2 }]);
    expect(() => resolveDataFiles(amb)).toThrow(/several folders.*a, b/);
  });
  it("uses a lone file whatever its name; lists the files when the split is missing", () => {
    const lone = join(dir, "hub4");
    const f = jsonl(join(lone, "aime_2024_problems.jsonl"), [{ x: 1 }]);
    expect(resolveDataFiles(lone)).toEqual([f]);
    const two = join(dir, "hub5");
    jsonl(join(two, "part1.jsonl"), [{ x: 1 }]);
    jsonl(join(two, "part2.jsonl"), [{ x: 2 }]);
    expect(() => resolveDataFiles(two)).toThrow(/no files of split 'test'.*part1\.jsonl, part2\.jsonl/);
    expect(() => resolveDataFiles(join(dir, "missing"))).toThrow(/data not found/);
  });
});

describe("fields", () => {
  it("errors name the file, line and field", async () => {
    const f = jsonl(join(dir, "fields.jsonl"), [{ question: "q" }, { question: 5, list: [1] }]);
    const rows = await readRows(f);
    expect(() => stringField(rows[0], ["answer", "Answer"])).toThrow(
      `${f}:1: missing field 'answer' (also tried Answer)`,
    );
    expect(stringField(rows[1], ["question"])).toBe("5");
    expect(() => stringListField(rows[1], ["list"])).toThrow(
      `${f}:2: field 'list' must be a list of strings`,
    );
  });
});
