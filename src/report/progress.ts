// A progress line for long loops (pretraining, GRPO steps, evaluation):
//   grpo  120/400 [#######.............]  30% reward 0.312 acc 0.250 kl 0.00121 tok/s 9.87k  01:02<02:25
// On a terminal it redraws in place with \r at most every minIntervalMs; in a log (CI, a file) it
// prints a plain line each time another logEveryPercent of the total is done, so logs stay short.
// The clock and the stream are injectable so tests can drive it.

export type ProgressFields = Record<string, number | string>;

export interface ProgressStream {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  total: number;
  label?: string;
  /** Default process.stderr. */
  stream?: ProgressStream;
  /** Milliseconds clock; default performance.now. */
  now?: () => number;
  /** Least time between TTY redraws. Default 100 (10 per second). */
  minIntervalMs?: number;
  /** Non-TTY: print a line every this many percent. Default 10. */
  logEveryPercent?: number;
  /** Bar width in characters. Default 20. */
  barWidth?: number;
}

/** 0.312, 0.00121, 12.3, 9.87k, 1.2M: about three significant digits; integers below 10k in full. */
export function formatValue(v: number | string): string {
  if (typeof v === "string") return v;
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a >= 1e6) return `${(v / 1e6).toPrecision(3)}M`;
  if (a >= 1e4 || (a >= 1e3 && !Number.isInteger(v))) return `${(v / 1e3).toPrecision(3)}k`;
  if (Number.isInteger(v)) return String(v);
  if (a >= 100) return v.toFixed(1);
  if (a >= 1e-3) return v.toPrecision(3);
  return v === 0 ? "0" : v.toExponential(2);
}

/** 75 -> "01:15", 4000 -> "1:06:40" (seconds in). */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "--:--";
  const s = Math.round(seconds);
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = s % 60;
  const two = (n: number) => String(n).padStart(2, "0");
  return hh > 0 ? `${hh}:${two(mm)}:${two(ss)}` : `${two(mm)}:${two(ss)}`;
}

export class Progress {
  readonly total: number;
  readonly label: string;
  current = 0;
  fields: ProgressFields = {};
  private readonly stream: ProgressStream;
  private readonly now: () => number;
  private readonly start: number;
  private readonly minIntervalMs: number;
  private readonly logEvery: number;
  private readonly barWidth: number;
  private lastDraw = Number.NEGATIVE_INFINITY;
  private lastLoggedBucket = 0;
  private finished = false;

  constructor(o: ProgressOptions) {
    if (!(Number.isFinite(o.total) && o.total > 0))
      throw new Error(`Progress: total must be > 0, got ${o.total}`);
    this.total = o.total;
    this.label = o.label ?? "";
    this.stream = o.stream ?? process.stderr;
    this.now = o.now ?? (() => performance.now());
    this.start = this.now();
    this.minIntervalMs = o.minIntervalMs ?? 100;
    this.logEvery = o.logEveryPercent ?? 10;
    this.barWidth = o.barWidth ?? 20;
  }

  /** Advance by n (default 1) and merge `fields` into the shown values. */
  tick(n = 1, fields?: ProgressFields): void {
    this.update(this.current + n, fields);
  }

  /** Set the absolute position (e.g. the optimizer step) and merge `fields`. */
  update(current: number, fields?: ProgressFields): void {
    this.current = Math.min(this.total, Math.max(0, current));
    if (fields) this.fields = { ...this.fields, ...fields };
    const t = this.now();
    if (this.stream.isTTY) {
      if (t - this.lastDraw >= this.minIntervalMs || this.current >= this.total) {
        this.lastDraw = t;
        this.stream.write(`\r${this.fitWidth(this.line())}\x1b[K`);
      }
    } else {
      const bucket = Math.floor(((this.current / this.total) * 100) / this.logEvery);
      if (bucket > this.lastLoggedBucket) {
        this.lastLoggedBucket = bucket;
        this.stream.write(`${this.line()}\n`);
      }
    }
  }

  /** Final line (with the total time) and a newline; further calls do nothing. */
  done(fields?: ProgressFields): void {
    if (this.finished) return;
    this.finished = true;
    if (fields) this.fields = { ...this.fields, ...fields };
    const line = this.line(true);
    this.stream.write(this.stream.isTTY ? `\r${this.fitWidth(line)}\x1b[K\n` : `${line}\n`);
  }

  /** The progress line as it would be printed now. */
  line(final = false): string {
    const elapsed = (this.now() - this.start) / 1000;
    const frac = this.current / this.total;
    const filled = Math.round(frac * this.barWidth);
    const bar = `[${"#".repeat(filled)}${".".repeat(this.barWidth - filled)}]`;
    const pct = `${Math.floor(frac * 100)}%`.padStart(4);
    const width = String(this.total).length;
    const pos = `${String(this.current).padStart(width)}/${this.total}`;
    const vals = Object.entries(this.fields)
      .map(([k, v]) => `${k} ${formatValue(v)}`)
      .join(" ");
    const eta = this.current > 0 ? (elapsed / this.current) * (this.total - this.current) : Number.NaN;
    const time = final
      ? `${formatDuration(elapsed)} total`
      : `${formatDuration(elapsed)}<${formatDuration(eta)}`;
    return [this.label, pos, bar, pct, vals, time].filter((s) => s.length > 0).join(" ");
  }

  private fitWidth(line: string): string {
    const cols = this.stream.columns;
    return cols && line.length > cols - 1 ? line.slice(0, cols - 1) : line;
  }
}
