// The overlap check `sft`, `distill` and `grpo` run before training: how many training rows share a
// token n-gram with the evaluation data they were given (the decontamination test of
// decontaminate.ts, on texts or files), printed as one warning line when there are any. It warns
// and never changes the data; `r1lab data decontaminate` removes such rows.
import { NgramIndex } from "./ngram-index.ts";
import { tokens } from "./normalise.ts";
import { rowText } from "./row-text.ts";
import { readRowsStream } from "./rows.ts";

/** A data file or dataset folder (every string of each row is checked), or the texts themselves. */
export type TextSource = string | Iterable<string> | AsyncIterable<string>;

export interface OverlapOptions {
  /** Tokens per n-gram. Default 8. */
  ngram?: number;
  /** Splits read from dataset folders. Defaults train and test. */
  trainSplit?: string;
  evalSplit?: string;
  /** Where the warning goes. Default: stderr. */
  log?: (line: string) => void;
  /** Names the two sides in the warning. Defaults: the paths, else "training data" / "evaluation data". */
  trainLabel?: string;
  evalLabel?: string;
}

export interface OverlapResult {
  rows: number;
  overlapping: number;
  ngram: number;
  /** The first overlapping training text (row number or file:line) and the n-gram it shares. */
  first: { where: string; ngram: string } | null;
}

async function* texts(src: TextSource, split: string): AsyncGenerator<{ text: string; where: string }> {
  if (typeof src === "string") {
    for await (const row of readRowsStream(src, { split }))
      yield { text: rowText(row, "all"), where: `${row.file}:${row.line}` };
    return;
  }
  let i = 0;
  for await (const text of src as AsyncIterable<string>) yield { text, where: `row ${++i}` };
}

/** Count training texts sharing an n-gram with the evaluation texts; print one warning line when any do. */
export async function warnOverlap(
  train: TextSource,
  evalData: TextSource,
  opts: OverlapOptions = {},
): Promise<OverlapResult> {
  const n = opts.ngram ?? 8;
  const index = new NgramIndex(n);
  let evalRows = 0;
  for await (const { text } of texts(evalData, opts.evalSplit ?? "test")) {
    index.add(tokens(text), 0, evalRows++);
  }
  let rows = 0;
  let overlapping = 0;
  let first: OverlapResult["first"] = null;
  for await (const { text, where } of texts(train, opts.trainSplit ?? "train")) {
    rows++;
    const toks = tokens(text);
    const hits = index.find(toks);
    if (hits.length === 0) continue;
    overlapping++;
    first ??= { where, ngram: toks.slice(hits[0].start, hits[0].start + hits[0].length).join(" ") };
  }
  if (overlapping > 0 && first) {
    const trainLabel = opts.trainLabel ?? (typeof train === "string" ? train : "training data");
    const evalLabel = opts.evalLabel ?? (typeof evalData === "string" ? evalData : "evaluation data");
    const pct = ((100 * overlapping) / rows).toFixed(1);
    const line = `warning: ${overlapping} of ${rows} training rows (${pct}%) of ${trainLabel} share a ${n}-gram with ${evalLabel} (first: ${first.where}, "${first.ngram}"); scores on it may be inflated. Remove them with \`r1lab data decontaminate\`.`;
    (opts.log ?? ((l: string) => process.stderr.write(`${l}\n`)))(line);
  }
  return { rows, overlapping, ngram: n, first };
}
