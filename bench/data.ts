// `pnpm tsx bench/data.ts [--rows 1000000] [--out DIR]`: what `r1lab data` costs and what it removes.
//  1. The corpora r1lab itself generates (src/tasks: R1-Zero's pretraining traces for countdown and
//     arithmetic, at the default preset's size): what dedup, decontaminate (against the task's test
//     split) and a quality classifier (worked, correct traces against bare guesses) remove.
//  2. A generated corpus of --rows rows (default 1M) of 40-80 word texts with planted exact
//     duplicates (case, spacing, punctuation changed) and near duplicates (one word changed), and
//     planted benchmark leaks: throughput (rows/s) and peak memory (max RSS) of each command.
// Every step runs the real CLI (bin/r1lab.js) in a child process under /usr/bin/time; the machine's
// load average is recorded before and after. Results: bench/results/data.json and a markdown table.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, createWriteStream } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { writeJsonAtomic } from "../src/engine/atomic.ts";
import { buildCorpus, DEFAULT_MIX } from "../src/tasks/corpus.ts";
import { getSyntheticTask } from "../src/tasks/registry.ts";
import { TaskRng } from "../src/engine/rng.ts";

const { values: args } = parseArgs({
  options: {
    rows: { type: "string", default: "1000000" },
    out: { type: "string" },
    "skip-large": { type: "boolean" },
  },
});
const ROOT = resolve(import.meta.dirname, "..");
const work = args.out ? resolve(args.out) : mkdtempSync(join(tmpdir(), "r1lab-bench-data-"));
mkdirSync(work, { recursive: true });
const load = () => loadavg().map((x) => Number(x.toFixed(2)));

interface Step {
  step: string;
  rows: number;
  seconds: number;
  rows_per_s: number;
  max_rss_mb: number;
  load_before: number[];
  report: Record<string, any>;
}

/** Run `r1lab data ...` under /usr/bin/time; returns wall seconds, max RSS and the command's report.json. */
function r1labData(step: string, argv: string[], out: string): Step {
  const before = load();
  const timeFile = join(work, "time.txt");
  execFileSync(
    "/usr/bin/time",
    [
      "-f",
      "%e %M",
      "-o",
      timeFile,
      process.execPath,
      join(ROOT, "bin/r1lab.js"),
      "data",
      ...argv,
      "--out",
      out,
      "-q",
    ],
    { stdio: ["ignore", "ignore", "inherit"], cwd: ROOT },
  );
  const [secs, kb] = readFileSync(timeFile, "utf8").trim().split(/\s+/).map(Number);
  const report = JSON.parse(readFileSync(join(out, "report.json"), "utf8"));
  const rows = report.rows ?? report.train_examples + report.heldout_examples;
  const s: Step = {
    step,
    rows,
    seconds: secs,
    rows_per_s: Math.round(rows / secs),
    max_rss_mb: Math.round(kb / 1024),
    load_before: before,
    report,
  };
  console.error(
    `${step}: ${rows} rows in ${secs} s (${s.rows_per_s} rows/s, max RSS ${s.max_rss_mb} MB, load ${before.join(" ")})`,
  );
  return s;
}

function writeJsonl(path: string, rows: unknown[]) {
  writeFileSync(path, `${rows.map((r) => JSON.stringify(r)).join("\n")}\n`);
}

// 1. r1lab's own corpora.
const synthetic: Record<string, Record<string, unknown>> = {};
for (const name of ["countdown", "arithmetic"]) {
  const task = getSyntheticTask(name);
  const problems = Math.min(264, task.countProblems?.("train") ?? 264);
  const items = buildCorpus({ task, problems, tracesPerProblem: 4, seed: 1 });
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  const corpus = join(dir, "corpus.jsonl");
  writeJsonl(
    corpus,
    items.map((it) => ({
      prompt: it.example.prompt,
      completion: it.completion,
      style: it.style,
      correct: it.correct,
    })),
  );
  const text = ["--field", "prompt+completion"];
  const exact = r1labData(`${name} dedup`, ["dedup", "--data", corpus, ...text], join(dir, "dedup"));
  const near = r1labData(
    `${name} dedup --near`,
    ["dedup", "--data", corpus, ...text, "--near"],
    join(dir, "dedup-near"),
  );
  const decon = r1labData(
    `${name} decontaminate`,
    ["decontaminate", "--data", corpus, "--benchmark", name],
    join(dir, "decon"),
  );
  // Quality: worked traces that end right (correct, recheck, wait) against bare guesses.
  const worked = items.filter((it) => it.correct && ["correct", "recheck", "wait"].includes(it.style));
  const guesses = items.filter((it) => it.style === "guess");
  writeJsonl(
    join(dir, "pos.jsonl"),
    worked.map((it) => ({ text: it.example.prompt + it.completion })),
  );
  writeJsonl(
    join(dir, "neg.jsonl"),
    guesses.map((it) => ({ text: it.example.prompt + it.completion })),
  );
  const train = r1labData(
    `${name} classify train`,
    [
      "classify",
      "train",
      "--positive",
      join(dir, "pos.jsonl"),
      "--negative",
      join(dir, "neg.jsonl"),
      "--holdout",
      "0.2",
      "--epochs",
      "3",
    ],
    join(dir, "clf"),
  );
  const apply = r1labData(
    `${name} classify apply`,
    ["classify", "apply", "--model", join(dir, "clf"), "--data", corpus, "--field", "prompt+completion"],
    join(dir, "clf-apply"),
  );
  const styles = Object.fromEntries(
    Object.keys(DEFAULT_MIX).map((s) => [s, items.filter((it) => it.style === s).length]),
  );
  synthetic[name] = {
    rows: items.length,
    problems,
    styles,
    dedup: {
      removed_exact: exact.report.removed_exact,
      removed_near: near.report.removed_near,
      kept_after_near: near.report.kept,
      clusters: near.report.clusters,
    },
    decontaminate: {
      removed: decon.report.removed,
      benchmark: decon.report.benchmarks[name] && {
        problems: decon.report.benchmarks[name].problems,
        problems_leaked: decon.report.benchmarks[name].problems_leaked,
      },
    },
    classify: {
      positives: worked.length,
      negatives: guesses.length,
      heldout: train.report.heldout,
      kept: apply.report.kept,
      removed: apply.report.removed,
    },
  };
}

// 2. The large generated corpus.
const large: Step[] = [];
let planted: Record<string, number> = {};
if (!args["skip-large"]) {
  const N = Number(args.rows);
  const rng = new TaskRng(42);
  // Zipf-like vocabulary: word i drawn with probability ~ 1/(i+10).
  const V = 20000;
  const cdf = new Float64Array(V);
  let acc = 0;
  for (let i = 0; i < V; i++) cdf[i] = acc += 1 / (i + 10);
  const word = () => {
    const u = rng.next() * acc;
    let lo = 0;
    let hi = V - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return `w${lo}`;
  };
  const path = join(work, "large.jsonl");
  const stream = createWriteStream(path);
  const recent: string[] = [];
  planted = { exact: 0, near: 0, leaks: 0 };
  const bench = Array.from({ length: 1319 }, (_, i) => ({
    question: `benchmark question ${i} ${Array.from({ length: 20 }, word).join(" ")}`,
    answer: `#### ${i}`,
  }));
  writeJsonl(join(work, "bench.jsonl"), bench);
  for (let i = 0; i < N; i++) {
    const u = rng.next();
    let text: string;
    if (u < 0.05 && recent.length) {
      text = `${recent[rng.int(0, recent.length - 1)].toUpperCase()} !`;
      planted.exact++;
    } else if (u < 0.1 && recent.length) {
      const w = recent[rng.int(0, recent.length - 1)].split(" ");
      w[rng.int(0, w.length - 1)] = "planted";
      text = w.join(" ");
      planted.near++;
    } else if (u < 0.101) {
      text = `${Array.from({ length: 10 }, word).join(" ")} ${bench[rng.int(0, bench.length - 1)].question}`;
      planted.leaks++;
    } else {
      text = Array.from({ length: rng.int(40, 80) }, word).join(" ");
      if (recent.length < 1000) recent.push(text);
      else recent[rng.int(0, 999)] = text;
    }
    stream.write(`${JSON.stringify({ id: i, text })}\n`);
  }
  await new Promise((r) => stream.end(r));
  const small = join(work, "sample");
  mkdirSync(small, { recursive: true });
  large.push(r1labData("1M dedup (exact)", ["dedup", "--data", path], join(work, "large-dedup")));
  large.push(r1labData("1M dedup --near", ["dedup", "--data", path, "--near"], join(work, "large-near")));
  large.push(
    r1labData(
      "1M decontaminate",
      ["decontaminate", "--data", path, "--benchmark", `gsm8k=${join(work, "bench.jsonl")}`],
      join(work, "large-decon"),
    ),
  );
  large.push(
    r1labData(
      "1M classify apply",
      ["classify", "apply", "--model", join(work, "arithmetic", "clf"), "--data", path, "--field", "text"],
      join(work, "large-clf"),
    ),
  );
}

const result = {
  date: new Date().toISOString(),
  cpus: cpus().length,
  cpu: cpus()[0]?.model,
  node: process.version,
  load_after: load(),
  synthetic,
  large: {
    planted,
    steps: large.map(({ report, ...s }) => ({
      ...s,
      removed_exact: report.removed_exact,
      removed_near: report.removed_near,
      removed: report.removed,
      kept: report.kept,
    })),
  },
};
writeJsonAtomic(join(ROOT, "bench/results/data.json"), result);
console.log(JSON.stringify(result, null, 2));
if (!args.out) rmSync(work, { recursive: true, force: true });
