// `r1lab download` as a user runs it: the snapshot folder on stdout (for $(...)), progress and
// per-file lines on stderr, usage mistakes as exit code 2.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { type FakeHub, startFakeHub } from "./helpers/fake-hub-server.ts";

const COMMIT = "c".repeat(40);
let hub: FakeHub;
let tmp: string;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "r1lab-dlcli-"));
  hub = await startFakeHub([
    {
      type: "model",
      id: "org/tiny",
      refs: { main: COMMIT },
      commits: { [COMMIT]: { "config.json": '{"a":1}', "weights.bin": Buffer.alloc(50_000, 3) } },
      lfs: ["weights.bin"],
    },
  ]);
});
afterAll(async () => {
  await hub.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** Run the CLI asynchronously (the fake hub lives in this process and must keep answering). */
function r1lab(args: string[], env: Record<string, string>) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("close", (code) => done({ code, stdout, stderr }));
  });
}

test("prints the snapshot folder on stdout and the files on stderr", async () => {
  const env = {
    HF_HOME: join(tmp, "home"),
    HF_ENDPOINT: hub.url,
    HF_HUB_OFFLINE: "",
    HF_HUB_CACHE: "",
    HF_TOKEN: "",
  };
  const r = await r1lab(["download", "org/tiny", "--include", "*.json", "--include", "*.bin"], env);
  expect(r.stderr).toMatch(/config\.json: downloaded \(7 bytes\)/);
  expect(r.stderr).toMatch(/weights\.bin: downloaded \(50000 bytes\)/);
  expect(r.code).toBe(0);
  const dir = r.stdout.trim();
  expect(dir).toBe(join(tmp, "home", "hub", "models--org--tiny", "snapshots", COMMIT));
  expect(readFileSync(join(dir, "config.json"), "utf8")).toBe('{"a":1}');

  const offline = await r1lab(["download", "org/tiny", "-q"], { ...env, HF_HUB_OFFLINE: "1" });
  expect(offline.code).toBe(0);
  expect(offline.stdout.trim()).toBe(dir);
  expect(offline.stderr).toBe("");
});

test("usage mistakes exit with 2 and name the flag", async () => {
  const env = { HF_HOME: join(tmp, "home2"), HF_ENDPOINT: hub.url };
  const [bad, none, missing] = await Promise.all([
    r1lab(["download", "org/tiny", "--repo-type", "space"], env),
    r1lab(["download"], env),
    r1lab(["download", "org/absent"], env),
  ]);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toMatch(/--repo-type must be model or dataset, got 'space'/);
  expect(none.code).toBe(2);
  expect(none.stderr).toMatch(/download takes a REPO/);
  expect(missing.code).toBe(1);
  expect(missing.stderr).toMatch(/model org\/absent@main: not found at http:\/\/127\.0\.0\.1/);
});

test("one FILE prints its path; --dry-run lists what would be fetched; --local-dir prints the folder", async () => {
  const env = {
    HF_HOME: join(tmp, "home3"),
    HF_ENDPOINT: hub.url,
    HF_HUB_OFFLINE: "",
    HF_HUB_CACHE: "",
    HF_TOKEN: "",
  };
  const dry = await r1lab(["download", "org/tiny", "--dry-run"], env);
  expect(dry.code).toBe(0);
  expect(dry.stdout).toMatch(/dry run: would download 2 of 2 files/);
  expect(dry.stdout).toMatch(/weights\.bin\s+50000\s+download/);
  const one = await r1lab(["download", "org/tiny", "config.json", "-q"], env);
  expect(one.code).toBe(0);
  expect(one.stdout.trim()).toBe(
    join(tmp, "home3", "hub", "models--org--tiny", "snapshots", COMMIT, "config.json"),
  );
  const local = join(tmp, "local");
  const r = await r1lab(["download", "org/tiny", "--local-dir", local, "--exclude", "*.bin", "-q"], {
    ...env,
    HF_HUB_DISABLE_PROGRESS_BARS: "1",
  });
  expect(r.code).toBe(0);
  expect(r.stdout.trim()).toBe(local);
  expect(readFileSync(join(local, "config.json"), "utf8")).toBe('{"a":1}');
  expect(r.stderr).toBe("");
});
