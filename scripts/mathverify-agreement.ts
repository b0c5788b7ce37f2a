// How often r1lab's answer checker agrees with Math-Verify's own verdicts. Reads every
// gold/pred/expected table of a Math-Verify checkout's tests/*.py (scripts/mathverify-cases.ts),
// runs r1lab's checkAnswer (src/eval/math-verify.ts) with the same settings, and prints the
// agreement, the false positives (r1lab "equal" where Math-Verify says "not equal") and the misses.
//   pnpm tsx scripts/mathverify-agreement.ts /path/to/Math-Verify [--verbose] [--json]
// Get a checkout with `git clone https://github.com/huggingface/Math-Verify` (no network is used
// here). Exit status 1 when there is a false positive, 2 on a usage error.

import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { checkAnswer } from "../src/eval/math-verify.ts";
import { type MvCase, readCases } from "./mathverify-cases.ts";

function usage(msg: string): never {
  process.stderr.write(
    `mathverify-agreement: ${msg}\nusage: tsx scripts/mathverify-agreement.ts MATH_VERIFY_DIR [--verbose] [--json]\n`,
  );
  process.exit(2);
}

const args = process.argv.slice(2);
const verbose = args.includes("--verbose");
const json = args.includes("--json");
const dir = args.find((a) => !a.startsWith("--"));
if (!dir) usage("give the path of a Math-Verify checkout");
const testsDir = join(dir, "tests");
if (!existsSync(testsDir)) usage(`${testsDir} does not exist (is ${dir} a Math-Verify checkout?)`);

const files = readdirSync(testsDir)
  .filter((f) => /^test_.*\.py$/.test(f))
  .sort();
const cases: MvCase[] = [];
let skipped = 0;
for (const f of files) {
  const r = readCases(`tests/${f}`, readFileSync(join(testsDir, f), "utf8"));
  cases.push(...r.cases);
  skipped += r.skipped.length;
  if (verbose) for (const s of r.skipped) process.stderr.write(`skipped tests/${f}:${s.line}: ${s.why}\n`);
}
if (cases.length === 0) usage(`no gold/pred/expected tables found under ${testsDir}`);

const clip = (s: string) => JSON.stringify(s.length > 160 ? `${s.slice(0, 80)} ... ${s.slice(-70)}` : s);
let agree = 0;
const falsePositives: MvCase[] = [];
const misses: MvCase[] = [];
const perFile = new Map<string, { n: number; agree: number }>();
const t0 = performance.now();
for (const c of cases) {
  const got = checkAnswer(c.gold, c.pred, {
    targets: c.settings.targets,
    precision: c.settings.precision,
    strict: c.settings.strict,
    allowSetRelationComp: c.settings.allowSetRelationComp,
    boxedFirst: c.settings.boxedFirst,
    goldIsText: true,
  });
  const pf = perFile.get(c.file) ?? { n: 0, agree: 0 };
  pf.n++;
  if (got === c.expected) {
    agree++;
    pf.agree++;
  } else if (got) falsePositives.push(c);
  else misses.push(c);
  perFile.set(c.file, pf);
}
const seconds = (performance.now() - t0) / 1000;
const rate = agree / cases.length;
if (json) {
  process.stdout.write(
    `${JSON.stringify({ cases: cases.length, agree, rate, false_positives: falsePositives.length, misses: misses.length, skipped, seconds }, null, 2)}\n`,
  );
} else {
  for (const [f, s] of perFile) process.stdout.write(`${f.padEnd(32)} ${s.agree}/${s.n}\n`);
  const show = (title: string, list: MvCase[]) => {
    if (list.length === 0) return;
    process.stdout.write(`\n${title}:\n`);
    for (const c of list)
      process.stdout.write(
        `  ${c.file}:${c.line} ${c.test}\n    gold ${clip(c.gold)}\n    pred ${clip(c.pred)}\n`,
      );
  };
  show("false positives (r1lab equal, Math-Verify not equal)", falsePositives);
  if (verbose) show("misses (r1lab not equal, Math-Verify equal)", misses);
  process.stdout.write(
    `\nagreement ${agree}/${cases.length} = ${(100 * rate).toFixed(1)}%  false positives ${falsePositives.length}  misses ${misses.length}  rows skipped ${skipped}  (${seconds.toFixed(1)} s)\n`,
  );
}
process.exit(falsePositives.length > 0 ? 1 : 0);
