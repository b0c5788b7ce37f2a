// engine/jsonl.ts: the one JSONL reader and writer. Rows cross the 1 MiB read boundary intact
// (multi-byte characters included), a bad line is an error naming file:line, a torn log line can
// be skipped, and truncateJsonl cuts a run log back to a step.
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  JsonlError,
  appendJsonl,
  readJsonl,
  streamJsonl,
  truncateJsonl,
  writeJsonl,
} from "../src/engine/jsonl.ts";

const dir = mkdtempSync(join(tmpdir(), "r1lab-jsonl-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("engine/jsonl", () => {
  it("writes and reads back rows larger than one read, with multi-byte text", () => {
    const path = join(dir, "big.jsonl");
    const rows = Array.from({ length: 6 }, (_, i) => ({ i, text: `${"é∑".repeat(150_000)}${i}` }));
    writeJsonl(path, rows);
    expect(readJsonl(path)).toEqual(rows);
    expect(Array.from(streamJsonl(path), (r) => r.line)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("names file:line for a bad line, skips it with torn: skip, and tolerates CRLF and blank lines", () => {
    const path = join(dir, "bad.jsonl");
    writeFileSync(path, '{"a":1}\r\n\n[1,2]\n{"a":3}\n{"a":');
    expect(() => readJsonl(path)).toThrow(JsonlError);
    expect(() => readJsonl(path)).toThrow(`${path}:3: expected a JSON object per line`);
    expect(readJsonl(path, { torn: "skip" })).toEqual([{ a: 1 }, { a: 3 }]);
    expect(readJsonl(join(dir, "none.jsonl"), { missingOk: true })).toEqual([]);
    expect(() => readJsonl(join(dir, "none.jsonl"))).toThrow(/ENOENT/);
  });

  it("truncateJsonl keeps the complete rows up to a step", () => {
    const path = join(dir, "log.jsonl");
    for (let step = 1; step <= 4; step++) appendJsonl(path, { step, loss: 1 / step });
    appendFileSync(path, '{"step": 5, "lo');
    truncateJsonl(path, 2);
    expect(readFileSync(path, "utf8")).toBe('{"step":1,"loss":1}\n{"step":2,"loss":0.5}\n');
  });
});
