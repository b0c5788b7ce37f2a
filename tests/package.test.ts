// PACK-AND-INSTALL TEST (slow: ~1-2 minutes, most of it npm extracting the dependencies).
// r1lab as a user gets it from npm: `pnpm build`, `npm pack`, then `npm install` of the tarball
// into a fresh project. Checks that the tarball holds dist/ with declarations and no tests or
// sources, that the installed package imports and type-checks, that `npx r1lab --help` runs the
// compiled CLI (no tsx), that a tiny `generate` gives the same tokens as the source CLI, that
// examples/quickstart.ts runs against the package name, and that publint and attw pass.
// npm installs with --prefer-offline: dependencies come from the npm cache when they are there,
// else from the registry (CI's machine reaches it). R1LAB_SKIP_PACK_TEST=1 skips this file.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const repo = resolve(import.meta.dirname, "..");
const fixture = join(repo, "tests/fixtures/hf-reference/tiny-qwen2");
const tsx = join(repo, "node_modules/tsx/dist/cli.mjs");
const bin = (name: string) => join(repo, "node_modules/.bin", name);
const env = { ...process.env, ONNXRUNTIME_NODE_INSTALL: "skip", npm_config_update_notifier: "false" };

// Asynchronous, so that vitest's worker keeps answering while npm runs.
async function sh(cmd: string, args: string[], cwd: string, timeout = 300_000): Promise<string> {
  try {
    const r = await promisify(execFile)(cmd, args, {
      cwd,
      env,
      encoding: "utf8",
      timeout,
      maxBuffer: 64 << 20,
    });
    return r.stdout;
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(
      `${cmd} ${args.join(" ")} (in ${cwd}) failed: ${err.message}\n${err.stdout ?? ""}\n${err.stderr ?? ""}`,
    );
  }
}

const skip = process.env.R1LAB_SKIP_PACK_TEST === "1";

describe.skipIf(skip)("r1lab as an npm package", () => {
  let work = "";
  let tarball = "";
  let project = "";
  let files: string[] = [];

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "r1lab-pack-"));
    await sh("pnpm", ["build"], repo);
    // --ignore-scripts: prepack would build a second time.
    const packed = JSON.parse(
      await sh("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", work], repo),
    );
    tarball = join(work, packed[0].filename);
    files = packed[0].files.map((f: { path: string }) => f.path);
    project = join(work, "consumer");
    mkdirSync(project);
    writeFileSync(
      join(project, "package.json"),
      JSON.stringify({ name: "consumer", private: true, type: "module" }),
    );
    await sh("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", tarball], project, 600_000);
  }, 900_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("ships dist/ with declarations and the bin, and no tests or TypeScript sources", async () => {
    expect(files).toContain("dist/index.js");
    expect(files).toContain("dist/index.d.ts");
    expect(files).toContain("dist/cli/main.js");
    expect(files).toContain("bin/r1lab.js");
    expect(files.filter((f) => f.startsWith("tests/") || f.startsWith("src/"))).toEqual([]);
  });

  it("imports the public API by the package name", async () => {
    const out = await sh(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        "const m = await import('r1lab'); console.log(JSON.stringify(['loadModel','generate','initEngine','runEval','sftTrain','grpoLoss','accuracyReward','verifyMath','downloadRepo'].map((k) => [k, typeof m[k]])))",
      ],
      project,
    );
    for (const [name, type] of JSON.parse(out)) expect(type, name).toBe("function");
  });

  it("checks a math answer in a verification worker from the compiled package", async () => {
    // \\sqrt{4} = 2 needs the CAS, so the check goes to a worker thread (dist/eval/verify-worker.js).
    const out = await sh(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        "const m = await import('r1lab'); const r = await m.checkMathAsync('so \\\\boxed{\\\\sqrt{4}}', '2'); console.log(JSON.stringify(r))",
      ],
      project,
    );
    const r = JSON.parse(out);
    expect(r.correct).toBe(true);
    expect(r.method).not.toBe("closed");
  });

  it("runs `npx r1lab --help` and --version from the compiled CLI", async () => {
    expect(existsSync(join(project, "node_modules/tsx"))).toBe(false);
    expect(await sh("npx", ["r1lab", "--help"], project)).toMatch(/^usage: r1lab <command>/);
    const version = JSON.parse(readFileSync(join(repo, "package.json"), "utf8")).version;
    const jax = JSON.parse(readFileSync(join(repo, "node_modules/@jax-js/jax/package.json"), "utf8")).version;
    expect(await sh("npx", ["r1lab", "--version"], project)).toContain(
      `r1lab ${version} (@jax-js/jax ${jax}`,
    );
  });

  it("generates the same tokens as the source CLI", async () => {
    const args = [
      "generate",
      "--model",
      fixture,
      "--prompt",
      "Hello",
      "--max-new-tokens",
      "4",
      "--greedy",
      "--json",
    ];
    const installed = JSON.parse(await sh("npx", ["r1lab", ...args], project));
    const source = JSON.parse(
      await sh(process.execPath, [tsx, join(repo, "src/cli/main.ts"), ...args], repo),
    );
    expect(installed.new_ids).toHaveLength(4);
    expect(installed.new_ids).toEqual(source.new_ids);
  });

  it("runs and type-checks examples/quickstart.ts against the installed package", async () => {
    copyFileSync(join(repo, "examples/quickstart.ts"), join(project, "quickstart.ts"));
    const out = await sh(process.execPath, [tsx, "quickstart.ts", fixture], project);
    expect(out).toMatch(/generated \d+ tokens/);
    expect(out).toContain("equals 391: true");
    await sh(
      bin("tsc"),
      [
        "--noEmit",
        "--strict",
        "--module",
        "nodenext",
        "--target",
        "es2022",
        "--skipLibCheck",
        "--types",
        "node",
        "--typeRoots",
        join(repo, "node_modules/@types"),
        "quickstart.ts",
      ],
      project,
    );
  });

  it("passes publint and arethetypeswrong", async () => {
    await sh(bin("publint"), ["--strict", "--pack", "false", join(project, "node_modules/r1lab")], repo);
    await sh(bin("attw"), [tarball, "--profile", "esm-only"], repo);
  });
});
