#!/usr/bin/env node
// The `r1lab` command: runs the TypeScript CLI through tsx, so no build step is needed.
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);
const tsxCli = require.resolve("tsx/cli");
// R1LAB_PARENT_PID: who started `r1lab`, so a long-running command (serve) can exit with it.
const r = spawnSync(process.execPath, [tsxCli, join(root, "src/cli/main.ts"), ...process.argv.slice(2)], {
  stdio: "inherit",
  env: { ...process.env, R1LAB_PARENT_PID: process.env.R1LAB_PARENT_PID ?? String(process.ppid) },
});
process.exit(r.status ?? 1);
