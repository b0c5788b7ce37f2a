// Usage errors across the commands, as a careless user makes them: each exits with status 2 and one
// line that names the flag and what it accepts (never Node's "ambiguous argument" text); a negative
// number after a flag is that flag's value. Each command's flags are checked in-process (its module's
// parse and run until the UsageError); three cases run the real command line for the exit status.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type Command, parseCommandArgs, UsageError } from "../src/cli/command.ts";
import { runR1lab } from "./helpers/run-r1lab.ts";

const tmp = mkdtempSync(join(tmpdir(), "r1lab-usage-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** [args, what the one line must say]. */
const CASES: [string[], RegExp][] = [
  [
    ["generate", "--model", tmp, "--prompt", "hi", "--max-new-tokens", "4", "--temperature", "-1"],
    /--temperature must be a number >= 0, got -1$/,
  ],
  [
    ["generate", "--model", tmp, "--prompt", "hi", "--max-new-tokens", "4", "--top-p", "1.5"],
    /--top-p must be a number > 0 and <= 1, got 1\.5$/,
  ],
  [
    ["eval", "--task", "gsm8k", "--model", tmp, "--out", tmp, "--temperature", "-0.5"],
    /--temperature must be a number >= 0, got -0\.5$/,
  ],
  [
    ["eval", "--task", "gsm8k", "--model", tmp, "--out", tmp, "--samples", "-3"],
    /--samples must be an integer >= 1, got -3$/,
  ],
  [["serve", "rewards", "--port", "70000"], /--port must be an integer >= 0 and <= 65535, got 70000$/],
  [["serve", "rewards", "--port", "-1"], /--port must be an integer >= 0 and <= 65535, got -1$/],
  [
    [
      "score",
      "--task",
      "gsm8k",
      "--data",
      tmp,
      "--completions",
      tmp,
      "--out",
      tmp,
      "--samples-per-problem",
      "0",
    ],
    /--samples-per-problem must be an integer >= 1, got 0$/,
  ],
  [
    ["score", "--task", "gsm8k", "--data", tmp, "--completions", tmp, "--out", tmp, "--timeout-ms", "soon"],
    /--timeout-ms must be an integer >= 1, got 'soon'$/,
  ],
  [["score", "--task"], /--task.*argument missing/],
  [["score", "--task", "nope", "--data", tmp], /unknown --task 'nope'/],
  [
    ["zero", "--runs-dir", tmp, "--learning-rate", "-0.01"],
    /--learning-rate must be a number > 0, got -0\.01$/,
  ],
  [["zero", "--runs-dir", tmp, "--grpo-steps", "2.5"], /--grpo-steps must be an integer >= 1, got '2\.5'$/],
  [["sft", "--model", tmp, "--data", tmp, "--out", tmp, "--lr", "-1"], /--lr must be a number > 0, got -1$/],
  [["fp8-report", "--steps", "-4"], /--steps must be an integer >= 1, got -4$/],
  [["eval", "--nope"], /Unknown option '--nope'/],
];

/** What the command prints for argv: the UsageError's message (main.ts prefixes "r1lab: "). */
async function usageError(argv: string[]): Promise<string> {
  const [name, ...rest] = argv;
  const cmd = (await import(`../src/cli/${name}.ts`)).default as Command;
  try {
    const parsed = parseCommandArgs(cmd, rest);
    await cmd.run(parsed!.values, parsed!.positionals);
  } catch (e) {
    if (e instanceof UsageError) return e.message;
    throw e;
  }
  throw new Error(`${argv.join(" ")}: no usage error`);
}

describe("usage errors", () => {
  it("one line naming the flag and its range, for every command", async () => {
    for (const [args, want] of CASES) {
      const msg = await usageError(args);
      expect(msg.split("\n"), args.join(" ")).toHaveLength(1);
      expect(msg, args.join(" ")).toMatch(want);
      expect(msg).not.toMatch(/ambiguous/);
    }
  });

  it("exit status 2 and one line on stderr from the command line", async () => {
    const lines: [string[], RegExp][] = [
      [
        ["serve", "rewards", "--port", "70000"],
        /^r1lab: --port must be an integer >= 0 and <= 65535, got 70000$/,
      ],
      [
        ["generate", "--model", tmp, "--prompt", "hi", "--max-new-tokens", "4", "--temperature", "-1"],
        /^r1lab: --temperature must be a number >= 0, got -1$/,
      ],
      [["frobnicate"], /^r1lab: unknown command 'frobnicate'/],
    ];
    const results = await Promise.all(lines.map(([args]) => runR1lab(args, { timeoutMs: 110_000 })));
    results.forEach((r, i) => {
      expect({ args: lines[i][0], code: r.code }).toEqual({ args: lines[i][0], code: 2 });
      expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
      expect(r.stderr.trimEnd()).toMatch(lines[i][1]);
    });
  }, 300_000);

  it("parses a negative number as the value of the flag before it (long, short, =)", () => {
    const cmd: Command = {
      name: "t",
      summary: "",
      usage: "t",
      options: { shift: { type: "string", short: "s", help: "" }, verbose: { type: "boolean", help: "" } },
      run: async () => {},
    };
    expect(parseCommandArgs(cmd, ["--shift", "-2.5", "pos"])).toEqual({
      values: { shift: "-2.5" },
      positionals: ["pos"],
    });
    expect(parseCommandArgs(cmd, ["-s", "-.5"])!.values.shift).toBe("-.5");
    expect(parseCommandArgs(cmd, ["--shift=-1"])!.values.shift).toBe("-1");
    // A flag after a flag is still a flag (a missing value), not a value.
    expect(() => parseCommandArgs(cmd, ["--shift", "--verbose"])).toThrow(UsageError);
  });
});
