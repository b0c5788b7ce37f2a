// A character-level tokenizer for the synthetic tasks: one id per character, plus the special tokens
// and the four R1 tags as single tokens (so "<think>" costs one position of a ~96-token context).
// Layout: 0 <pad>, 1 <bos>, 2 <eos>, 3 <think>, 4 </think>, 5 <answer>, 6 </answer>, then the
// characters in code-point order. toTokenizerJson() writes the same vocabulary as a Hugging Face
// tokenizer.json (a BPE model with no merges: every character stays its own token; the seven
// strings above are added tokens, the tags non-special as in DeepSeek-R1's tokenizer), so a saved
// checkpoint carries a tokenizer that transformers and @huggingface/tokenizers load.
import { TAGS } from "./format.ts";

export const PAD = "<pad>";
export const BOS = "<bos>";
export const EOS = "<eos>";
/** Every multi-character token, in id order. */
export const SPECIAL_TOKENS: readonly string[] = [PAD, BOS, EOS, ...TAGS];

/** Printable ASCII and newline: a vocabulary that covers any English template. */
export const PRINTABLE_ASCII = `\n${Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join("")}`;

export class CharTokenizer {
  /** id -> token string. */
  readonly tokens: readonly string[];
  readonly padId = 0;
  readonly bosId = 1;
  readonly eosId = 2;
  private readonly ids: Map<string, number>;

  /** `chars`: the characters of the vocabulary (duplicates ignored); default printable ASCII + "\n". */
  constructor(chars: string = PRINTABLE_ASCII) {
    const uniq = [...new Set(Array.from(chars))].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
    this.tokens = [...SPECIAL_TOKENS, ...uniq];
    this.ids = new Map(this.tokens.map((t, i) => [t, i]));
  }

  /** The smallest tokenizer covering `texts` (tags and special tokens in them are not split into chars). */
  static forTexts(texts: Iterable<string>): CharTokenizer {
    const chars = new Set<string>();
    for (const text of texts) {
      let rest = text;
      for (const s of SPECIAL_TOKENS) rest = rest.split(s).join("");
      for (const c of rest) chars.add(c);
    }
    return new CharTokenizer([...chars].join(""));
  }

  /** Rebuild from a tokenizer.json written by toTokenizerJson() (e.g. from a checkpoint folder). */
  static fromTokenizerJson(json: any, source = "tokenizer.json"): CharTokenizer {
    const vocab = json?.model?.vocab;
    if (json?.model?.type !== "BPE" || typeof vocab !== "object" || vocab === null) {
      throw new Error(`${source}: not an r1lab character tokenizer (model.type must be "BPE" with a vocab)`);
    }
    const chars: string[] = [];
    for (const [tok, id] of Object.entries(vocab as Record<string, number>)) {
      const special = SPECIAL_TOKENS.indexOf(tok);
      if (special >= 0) {
        if (id !== special) throw new Error(`${source}: model.vocab["${tok}"] is ${id}, expected ${special}`);
      } else if (Array.from(tok).length === 1) {
        chars.push(tok);
      } else {
        throw new Error(
          `${source}: model.vocab has the multi-character token "${tok}": not a character tokenizer`,
        );
      }
    }
    const tok = new CharTokenizer(chars.join(""));
    for (const [t, id] of Object.entries(vocab as Record<string, number>)) {
      if (tok.ids.get(t) !== id)
        throw new Error(`${source}: model.vocab["${t}"] is ${id}, expected ${tok.ids.get(t)}`);
    }
    return tok;
  }

  get vocabSize(): number {
    return this.tokens.length;
  }

  tokenToId(token: string): number | undefined {
    return this.ids.get(token);
  }

  /** Ids of `text`; the special strings are matched first. Throws naming any character not in the vocabulary. */
  encode(text: string): number[] {
    const out: number[] = [];
    let i = 0;
    outer: while (i < text.length) {
      if (text[i] === "<") {
        for (let s = 0; s < SPECIAL_TOKENS.length; s++) {
          if (text.startsWith(SPECIAL_TOKENS[s], i)) {
            out.push(s);
            i += SPECIAL_TOKENS[s].length;
            continue outer;
          }
        }
      }
      const c = String.fromCodePoint(text.codePointAt(i)!);
      const id = this.ids.get(c);
      if (id === undefined) {
        const code = c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0");
        throw new Error(
          `char-tokenizer: character ${JSON.stringify(c)} (U+${code}) at index ${i} is not in the vocabulary`,
        );
      }
      out.push(id);
      i += c.length;
    }
    return out;
  }

  /** Text of `ids`; <pad>, <bos>, <eos> are dropped unless keepSpecial (the tags are always kept). */
  decode(ids: readonly number[], opts: { keepSpecial?: boolean } = {}): string {
    let out = "";
    for (const id of ids) {
      const t = this.tokens[id];
      if (t === undefined)
        throw new Error(`char-tokenizer: id ${id} is outside the vocabulary (size ${this.vocabSize})`);
      if (id <= this.eosId && !opts.keepSpecial) continue;
      out += t;
    }
    return out;
  }

  /** A Hugging Face tokenizer.json with this exact vocabulary and ids. */
  toTokenizerJson(): Record<string, unknown> {
    return {
      version: "1.0",
      truncation: null,
      padding: null,
      added_tokens: SPECIAL_TOKENS.map((content, id) => ({
        id,
        content,
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: id <= this.eosId,
      })),
      normalizer: null,
      pre_tokenizer: null,
      post_processor: null,
      decoder: { type: "Fuse" },
      model: {
        type: "BPE",
        dropout: null,
        unk_token: null,
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: false,
        byte_fallback: false,
        ignore_merges: false,
        vocab: Object.fromEntries(this.tokens.map((t, i) => [t, i])),
        merges: [],
      },
    };
  }

  /** The tokenizer_config.json transformers reads beside tokenizer.json. */
  toTokenizerConfigJson(modelMaxLength: number): Record<string, unknown> {
    return {
      tokenizer_class: "PreTrainedTokenizerFast",
      bos_token: BOS,
      eos_token: EOS,
      pad_token: PAD,
      model_max_length: modelMaxLength,
      clean_up_tokenization_spaces: false,
      add_bos_token: false,
      add_eos_token: false,
    };
  }
}
