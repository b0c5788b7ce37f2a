// The option tables of docs/cli.md that come from the run config schemas, and how they sit in the
// doc: between `<!-- options:NAME -->` and `<!-- /options:NAME -->` (scripts/cli-tables.ts
// rewrites them; tests/docs-cli.test.ts checks them).
import { GRPO_SCHEMA } from "../runs/grpo-config.ts";
import { R1_PRESETS, R1_SCHEMA } from "../runs/r1-config.ts";
import { ZERO_PRESETS, ZERO_SCHEMA } from "../runs/zero-config.ts";
import { optionTable, presetConfigs } from "./config-flags.ts";

export const CONFIG_TABLES: Record<string, () => string> = {
  zero: () => optionTable(ZERO_SCHEMA, presetConfigs(ZERO_SCHEMA, ZERO_PRESETS)),
  r1: () => optionTable(R1_SCHEMA, presetConfigs(R1_SCHEMA, R1_PRESETS)),
  grpo: () => optionTable(GRPO_SCHEMA),
};

const block = (name: string) =>
  new RegExp(`(<!-- options:${name} -->\\n)[\\s\\S]*?(<!-- /options:${name} -->)`);

/** The table between the markers of `name`, or null when the doc has no such block. */
export function tableInDoc(doc: string, name: string): string | null {
  const m = block(name).exec(doc);
  return m ? m[0].slice(m[1].length, -m[2].length).trim() : null;
}

export function replaceTables(doc: string): string {
  let out = doc;
  for (const [name, table] of Object.entries(CONFIG_TABLES))
    out = out.replace(block(name), (_, a, b) => `${a}${table()}\n${b}`);
  return out;
}
