#!/usr/bin/env node
// The `r1lab` command. Installed from npm it runs the compiled CLI (dist/cli/main.js), with no
// TypeScript tooling. In a git checkout (src/ present and tsx installed) it runs the TypeScript
// sources through tsx, so an edit to src/ never meets a stale dist/.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const source = join(root, "src/cli/main.ts");
const built = join(root, "dist/cli/main.js");

function tsxCli() {
  try {
    return createRequire(import.meta.url).resolve("tsx/cli");
  } catch {
    return null;
  }
}

const tsx = existsSync(source) ? tsxCli() : null;
if (tsx) {
  // R1LAB_PARENT_PID: who started `r1lab`, so a long-running command (serve) can exit with it.
  const env = { ...process.env, R1LAB_PARENT_PID: process.env.R1LAB_PARENT_PID ?? String(process.ppid) };
  const r = spawnSync(process.execPath, [tsx, source, ...process.argv.slice(2)], { stdio: "inherit", env });
  process.exit(r.status ?? 1);
} else if (existsSync(built)) {
  await import(pathToFileURL(built).href);
} else {
  console.error(
    `r1lab: neither ${built} nor tsx for ${source} was found; run \`pnpm build\` or \`pnpm install\``,
  );
  process.exit(1);
}
