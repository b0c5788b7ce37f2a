// Run logs as JSON lines (metrics.jsonl, pretrain.jsonl, samples.jsonl): appended one row per step,
// and cut back to the last checkpoint's step before a resumed run appends again, so a resumed run's
// log equals an uninterrupted run's. The cut is written atomically (atomic.ts).
import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { writeFileAtomic } from "./atomic.ts";

/** Append one row as a JSON line. */
export function appendJsonl(path: string, row: unknown): void {
  appendFileSync(path, `${JSON.stringify(row)}\n`);
}

/** Keep only complete JSON lines with step <= maxStep (after a crash, before resuming at maxStep). */
export function truncateJsonl(path: string, maxStep: number): void {
  if (!existsSync(path)) return;
  const keep = readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => {
      try {
        return l.trim() !== "" && (JSON.parse(l).step ?? 0) <= maxStep;
      } catch {
        return false;
      }
    });
  writeFileAtomic(path, keep.length ? `${keep.join("\n")}\n` : "");
}
