// No dead links in the docs a user reads: every relative link and image of README.md, docs/*.md
// and notebooks/README.md names a file or folder of the checkout, a `#anchor` names a heading of the
// page it points to, and no page links outside the repository's own tree (`../shared/...`).
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { expect, it } from "vitest";

const root = join(import.meta.dirname, "..");
const pages = [
  "README.md",
  "notebooks/README.md",
  ...readdirSync(join(root, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`),
];

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to dashes. */
function anchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[`*_]/g, "")
    .replace(/[^\p{L}\p{N} -]/gu, "")
    .replace(/ /g, "-");
}
const anchorsOf = (file: string) =>
  new Set(
    readFileSync(file, "utf8")
      .split("\n")
      .filter((l) => /^#{1,6} /.test(l))
      .map((l) => anchor(l.replace(/^#+ /, ""))),
  );

it("every relative link and image in the docs resolves", () => {
  const dead: string[] = [];
  for (const page of pages) {
    const text = readFileSync(join(root, page), "utf8").replace(/```[\s\S]*?```/g, "");
    for (const m of text.matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      const target = m[1];
      if (/^(https?:|mailto:)/.test(target)) continue;
      const [path, hash] = target.split("#");
      const file = path === "" ? join(root, page) : resolve(dirname(join(root, page)), path);
      if (relative(root, file).startsWith("..")) {
        dead.push(`${page}: ${target} (outside the repository)`);
        continue;
      }
      if (!existsSync(file)) dead.push(`${page}: ${target} (no such file)`);
      else if (hash && file.endsWith(".md") && !anchorsOf(file).has(hash))
        dead.push(`${page}: ${target} (no heading #${hash})`);
    }
  }
  expect(dead).toEqual([]);
});
