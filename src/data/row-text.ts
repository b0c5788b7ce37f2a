// The text of a row that the data commands compare: one field (`--field problem`), several joined
// (`--field prompt+completion`), the first usual one present (`auto`), or every string in the row
// (`all`, what decontamination checks by default: a leak in a completion counts too). Message
// lists (`messages`, ShareGPT `conversations`) contribute their contents, one per line.
import { DataError } from "../eval/data.ts";
import type { Row } from "./rows.ts";

/** `auto` tries these in order; the first present one is the row's text. */
export const AUTO_FIELDS = [
  "messages",
  "conversations",
  "prompt+completion",
  "text",
  "problem",
  "question",
  "prompt",
  "content",
];

function fieldText(row: Row, name: string, v: unknown): string {
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean" || typeof v === "bigint") return String(v);
  if (Array.isArray(v)) {
    return v
      .map((m, i) => {
        if (typeof m === "string") return m;
        if (m !== null && typeof m === "object") {
          const c = (m as Record<string, unknown>).content ?? (m as Record<string, unknown>).value;
          if (typeof c === "string") return c;
          if (c === null || c === undefined) return "";
        }
        throw new DataError(
          `${row.file}:${row.line}: field '${name}[${i}]' must be a string or a message with a string 'content', got ${JSON.stringify(m)?.slice(0, 80)}`,
        );
      })
      .join("\n");
  }
  throw new DataError(
    `${row.file}:${row.line}: field '${name}' must be a string or a list of messages, got ${v === null ? "null" : typeof v}`,
  );
}

/** Every string inside a value (objects and lists walked), joined by newlines. */
function allStrings(v: unknown, out: string[]): void {
  if (typeof v === "string") out.push(v);
  else if (Array.isArray(v)) for (const x of v) allStrings(x, out);
  else if (v !== null && typeof v === "object" && !(v instanceof Uint8Array) && !(v instanceof Date))
    for (const x of Object.values(v)) allStrings(x, out);
}

/** Whether every part of a `a+b` field spec is present (not null) in the row. */
function present(row: Row, spec: string): boolean {
  return spec.split("+").every((n) => row.fields[n] !== undefined && row.fields[n] !== null);
}

/**
 * The text of `row` for a field spec: `auto`, `all`, a field name, or names joined by `+`.
 * Errors name the file, line and field.
 */
export function rowText(row: Row, field = "auto"): string {
  if (field === "all") {
    const out: string[] = [];
    allStrings(row.fields, out);
    return out.join("\n");
  }
  if (field === "auto") {
    const spec = AUTO_FIELDS.find((s) => present(row, s));
    if (!spec)
      throw new DataError(
        `${row.file}:${row.line}: no text field (looked for ${AUTO_FIELDS.join(", ")}; the row has ${Object.keys(row.fields).join(", ") || "no fields"}); pass --field NAME`,
      );
    field = spec;
  }
  return field
    .split("+")
    .map((name) => {
      const v = row.fields[name];
      if (v === undefined || v === null)
        throw new DataError(
          `${row.file}:${row.line}: missing field '${name}' (the row has ${Object.keys(row.fields).join(", ") || "no fields"})`,
        );
      return fieldText(row, name, v);
    })
    .join("\n");
}
