// The progress bar of a data command: its 100% is the input's size in bytes (known before reading,
// unlike the row count of a JSONL file), and it shows rows and kept rows as they go.
import { Progress } from "../report/progress.ts";
import { totalBytes } from "./rows.ts";

export type { Progress };

const silent = { write: () => true };

/** A bar over the bytes of `files` on stderr, or a silent one when `show` is false. */
export function startProgress(label: string, files: string[], show = true): Progress {
  return new Progress({
    total: Math.max(1, totalBytes(files)),
    label,
    stream: show ? process.stderr : silent,
  });
}
