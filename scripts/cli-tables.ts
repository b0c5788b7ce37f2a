// Rewrites the generated option tables of docs/cli.md from the run config schemas (between
// `<!-- options:NAME -->` and `<!-- /options:NAME -->`). tests/docs-cli.test.ts fails when they
// are out of step: run `pnpm tsx scripts/cli-tables.ts` after changing an option.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CONFIG_TABLES, replaceTables } from "../src/cli/config-tables.ts";

const path = join(import.meta.dirname, "..", "docs", "cli.md");
const before = readFileSync(path, "utf8");
const after = replaceTables(before);
if (after !== before) writeFileSync(path, after);
console.log(
  `${path}: ${Object.keys(CONFIG_TABLES).join(", ")} tables ${after === before ? "already in step" : "rewritten"}`,
);
