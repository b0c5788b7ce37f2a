// Versions of r1lab and its engine, read from the installed package.json files.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

function readVersion(pkgJsonPath: string): string {
  try {
    return JSON.parse(readFileSync(pkgJsonPath, "utf8")).version ?? "unknown";
  } catch {
    return "unknown";
  }
}

export function r1labVersion(): string {
  return readVersion(new URL("../../package.json", import.meta.url).pathname);
}

export function packageVersion(name: string): string {
  try {
    const entry = require.resolve(name);
    const idx = entry.lastIndexOf(`/node_modules/${name}/`);
    return readVersion(`${entry.slice(0, idx)}/node_modules/${name}/package.json`);
  } catch {
    return "not installed";
  }
}

/** `r1lab --version`: r1lab's version with the engine's and the runtime's, on one line. */
export function versionLine(): string {
  const engines = ["@jax-js/jax", "onnxruntime-node"].map((n) => `${n} ${packageVersion(n)}`);
  return `r1lab ${r1labVersion()} (${engines.join(", ")}, Node ${process.version})`;
}
