// The text of one completion as its tokens arrive: incremental detokenisation (a character split
// over several byte-level tokens is held back until it is whole, as transformers' TextStreamer
// does), stop strings (the completion ends before the first one, which is not part of it, as in the
// OpenAI API and vLLM), and the part that is safe to stream (a tail that could still become a stop
// string is held back). EOS tokens end the completion and add no text.

export class ChoiceText {
  /** Every generated token id, EOS included (usage counts them). */
  readonly ids: number[] = [];
  private readonly textIds: number[] = [];
  private prefixOffset = 0;
  private readOffset = 0;
  private text = "";
  private sent = 0;
  private readonly holdBack: number;
  stopped = false;

  constructor(
    private readonly decode: (ids: number[]) => string,
    private readonly eos: ReadonlySet<number>,
    private readonly stops: readonly string[],
  ) {
    this.holdBack = stops.length ? Math.max(...stops.map((s) => s.length)) - 1 : 0;
  }

  /** Add a token; returns true when it completes a stop string (the completion ends). */
  push(id: number): boolean {
    this.ids.push(id);
    if (this.stopped || this.eos.has(id)) return this.stopped;
    this.textIds.push(id);
    const prefix = this.decode(this.textIds.slice(this.prefixOffset, this.readOffset));
    const full = this.decode(this.textIds.slice(this.prefixOffset));
    if (full.length <= prefix.length || full.endsWith("\uFFFD")) return false;
    this.prefixOffset = this.readOffset;
    this.readOffset = this.textIds.length;
    return this.append(full.slice(prefix.length));
  }

  private append(piece: string): boolean {
    const from = Math.max(0, this.text.length - this.holdBack);
    this.text += piece;
    let cut = -1;
    for (const s of this.stops) {
      const at = this.text.indexOf(s, from);
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    if (cut >= 0) {
      this.text = this.text.slice(0, cut);
      this.stopped = true;
    }
    return this.stopped;
  }

  /** The completion is over: add what the decoder still held (an unfinished character). */
  finish(): void {
    if (this.stopped) return;
    const prefix = this.decode(this.textIds.slice(this.prefixOffset, this.readOffset));
    const full = this.decode(this.textIds.slice(this.prefixOffset));
    if (full.length > prefix.length) this.append(full.slice(prefix.length));
    this.prefixOffset = this.readOffset = this.textIds.length;
    this.stopped = true;
  }

  /** The text so far (final once finish() was called). */
  get value(): string {
    return this.text;
  }

  /** New text that can be streamed now (everything, once the completion is over). */
  delta(): string {
    const upTo = this.stopped ? this.text.length : Math.max(this.sent, this.text.length - this.holdBack);
    const d = this.text.slice(this.sent, upTo);
    this.sent = upTo;
    return d;
  }
}
