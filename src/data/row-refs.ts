// Where a row is (file, line, index) and a short excerpt of its text, for reports' examples; and
// a second, early-stopping read of the input that fetches the texts of a few earlier rows (the
// kept side of a removed pair), so the main pass never holds kept rows' texts.
import { rowText } from "./row-text.ts";
import { readRowBatches, type Row } from "./rows.ts";

export interface RowRef {
  file: string;
  line: number;
  index: number;
  /** The row's text, cut to 300 characters. */
  text: string;
}

export function refOf(row: Row, text: string): RowRef {
  return {
    file: row.file,
    line: row.line,
    index: row.index,
    text: text.length > 300 ? `${text.slice(0, 300)}...` : text,
  };
}

/** The refs and full texts of the rows with these indices (reads the input up to the last one). */
export async function textsAt(
  data: string,
  split: string,
  indices: number[],
  field: string,
): Promise<Map<number, { ref: RowRef; text: string }>> {
  const want = new Set(indices);
  const out = new Map<number, { ref: RowRef; text: string }>();
  if (want.size === 0) return out;
  const last = Math.max(...want);
  for await (const b of readRowBatches(data, { split })) {
    for (const r of b.rows) {
      if (!want.has(r.index)) continue;
      const text = rowText(r, field);
      out.set(r.index, { ref: refOf(r, text), text });
    }
    if (b.rows.length && b.rows[b.rows.length - 1].index >= last) break;
  }
  return out;
}
