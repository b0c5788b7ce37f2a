// A Hugging Face tokenizer folder (tokenizer.json + tokenizer_config.json [+ chat_template.jinja])
// as r1lab uses it: encode/decode with @huggingface/tokenizers (the same BPE/pre-tokenizer pipeline as
// the Rust `tokenizers`), the special tokens named in tokenizer_config.json, the chat template, and a
// StreamDecoder that yields text only once it is whole UTF-8. saveTokenizer copies the files back
// out atomically, byte for byte, so a checkpoint carries exactly the tokenizer it was trained with.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { Tokenizer as HfTokenizer } from "@huggingface/tokenizers";
import { writeFileAtomic } from "../engine/atomic.ts";
import {
  ADDITIONAL_TEMPLATES_DIR,
  CHAT_TEMPLATE_FILE,
  type ChatMessage,
  type ChatTemplateOptions,
  type ChatTemplates,
  readChatTemplates,
  renderChatTemplate,
  templatesFromConfig,
} from "./chat-template.ts";

export interface EncodeOptions {
  /** Let tokenizer.json's post_processor add BOS/EOS etc. (transformers' default: true). */
  addSpecialTokens?: boolean;
}
export interface DecodeOptions {
  skipSpecialTokens?: boolean;
}

const SPECIAL_KEYS = ["bos_token", "eos_token", "pad_token", "unk_token"] as const;
type SpecialKey = (typeof SPECIAL_KEYS)[number];

/** Tokenizer models the tokenizer library runs; an unknown type would be guessed from the vocab's shape. */
const MODEL_TYPES = ["BPE", "WordPiece", "Unigram"];

/** The library's tokenizer; an error names the file and the field (model.type, normalizer.type, ...). */
function buildHfTokenizer(json: any, config: Record<string, unknown>, file: string): HfTokenizer {
  const model = json?.model;
  if (model === null || typeof model !== "object" || Array.isArray(model))
    throw new Error(
      `${file}: field 'model' must be an object (the tokenizer model: BPE, WordPiece or Unigram)`,
    );
  if (model.type !== undefined && !MODEL_TYPES.includes(model.type))
    throw new Error(
      `${file}: model.type ${JSON.stringify(model.type)} is not supported (supported: ${MODEL_TYPES.join(", ")})`,
    );
  try {
    return new HfTokenizer(json, { clean_up_tokenization_spaces: false, ...config });
  } catch (e) {
    const msg = (e as Error).message;
    const part = /Unknown (Normalizer|PreTokenizer|PostProcessor|Decoder) type/.exec(msg)?.[1];
    const field = part
      ? `${{ Normalizer: "normalizer", PreTokenizer: "pre_tokenizer", PostProcessor: "post_processor", Decoder: "decoder" }[part]}.type: `
      : "";
    throw new Error(`${file}: ${field}cannot build the tokenizer (${msg})`);
  }
}

export class Tokenizer {
  /** Ids 0 .. vocabSize-1 (the model's embedding may be larger, padded). */
  readonly vocabSize: number;
  readonly bosToken: string | null;
  readonly bosTokenId: number | null;
  readonly eosToken: string | null;
  /** The tokenizer's eos id as a list (empty when it has none); merge with generation_config's. */
  readonly eosTokenIds: number[];
  readonly padToken: string | null;
  readonly padTokenId: number | null;
  readonly unkToken: string | null;
  /** Added tokens marked special in tokenizer.json, in id order. */
  readonly specialTokens: { content: string; id: number }[];
  readonly chatTemplates: ChatTemplates;
  private readonly hf: HfTokenizer;
  private readonly special: Record<SpecialKey, string | null>;

  /**
   * `files`: the raw text of the files to save with it, by path relative to the folder (at least
   * tokenizer.json and tokenizer_config.json). `source` names the tokenizer in errors.
   */
  constructor(
    readonly files: ReadonlyMap<string, string>,
    chatTemplates: ChatTemplates,
    readonly source: string,
  ) {
    const json = parseJson(files.get("tokenizer.json"), `${source}/tokenizer.json`);
    const config = parseJson(files.get("tokenizer_config.json") ?? "{}", `${source}/tokenizer_config.json`);
    // transformers 5 (and 4.x since 4.45) does not "clean up" spaces before punctuation unless asked.
    this.hf = buildHfTokenizer(json, config, `${source}/tokenizer.json`);
    this.chatTemplates = chatTemplates;
    let maxId = -1;
    for (const id of this.hf.get_vocab(true).values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
    this.special = Object.fromEntries(
      SPECIAL_KEYS.map((k) => [k, specialTokenString(config[k], `${source}/tokenizer_config.json`, k)]),
    ) as Record<SpecialKey, string | null>;
    const idOf = (k: SpecialKey): number | null => {
      const s = this.special[k];
      if (s === null) return null;
      const id = this.hf.token_to_id(s);
      if (id === undefined)
        throw new Error(
          `${source}/tokenizer_config.json: ${k} ${JSON.stringify(s)} is not in the vocabulary`,
        );
      return id;
    };
    this.bosToken = this.special.bos_token;
    this.bosTokenId = idOf("bos_token");
    this.eosToken = this.special.eos_token;
    const eos = idOf("eos_token");
    this.eosTokenIds = eos === null ? [] : [eos];
    this.padToken = this.special.pad_token;
    this.padTokenId = idOf("pad_token");
    this.unkToken = this.special.unk_token;
    this.specialTokens = [...this.hf.get_added_tokens_decoder().values()]
      .filter((t) => t.special)
      .map((t) => ({ content: t.content, id: t.id }))
      .sort((a, b) => a.id - b.id);
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    return this.hf.encode(text, { add_special_tokens: opts.addSpecialTokens ?? true }).ids;
  }

  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    if (ids.length === 0) return "";
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new Error(
          `${this.source}: cannot decode token id ${id} (vocabulary has ids 0..${this.vocabSize - 1})`,
        );
      }
    }
    return this.hf.decode([...ids], { skip_special_tokens: opts.skipSpecialTokens ?? false });
  }

  tokenToId(token: string): number | undefined {
    return this.hf.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.hf.id_to_token(id);
  }

  /** The prompt text for `messages`, rendered with the model's chat template. */
  applyChatTemplate(messages: readonly ChatMessage[], opts: ChatTemplateOptions = {}): string {
    return renderChatTemplate(this.chatTemplates, messages, this.special, opts, this.source);
  }

  /** Token ids of the templated prompt; the template writes BOS itself, so no special tokens are added. */
  encodeChat(messages: readonly ChatMessage[], opts: ChatTemplateOptions = {}): number[] {
    return this.encode(this.applyChatTemplate(messages, opts), { addSpecialTokens: false });
  }

  streamDecoder(opts: DecodeOptions = {}): StreamDecoder {
    return new StreamDecoder(this, opts);
  }
}

/**
 * Incremental detokenization for streaming. Byte-level BPE splits a multi-byte character over several
 * tokens, and some decoders drop a leading space at the start of a decode, so the new text is taken
 * as decode(prefix + new) minus decode(prefix), over a short window, and held back while it ends in an
 * incomplete character (U+FFFD).
 */
export class StreamDecoder {
  private readonly ids: number[] = [];
  private prefixOffset = 0;
  private readOffset = 0;
  private emitted = "";

  constructor(
    private readonly tok: Tokenizer,
    private readonly opts: DecodeOptions = {},
  ) {}

  /** Add generated token ids; returns the text they complete ("" while a character is unfinished). */
  push(ids: number | readonly number[]): string {
    for (const id of typeof ids === "number" ? [ids] : ids) this.ids.push(id);
    const prefix = this.tok.decode(this.ids.slice(this.prefixOffset, this.readOffset), this.opts);
    const full = this.tok.decode(this.ids.slice(this.prefixOffset), this.opts);
    if (full.length <= prefix.length || full.endsWith("\uFFFD")) return "";
    this.prefixOffset = this.readOffset;
    this.readOffset = this.ids.length;
    return this.emit(full.slice(prefix.length));
  }

  /** The text still held back (an unfinished character decodes as U+FFFD). Call once at the end. */
  flush(): string {
    const prefix = this.tok.decode(this.ids.slice(this.prefixOffset, this.readOffset), this.opts);
    const full = this.tok.decode(this.ids.slice(this.prefixOffset), this.opts);
    this.prefixOffset = this.readOffset = this.ids.length;
    return this.emit(full.slice(prefix.length));
  }

  /** Everything returned so far. */
  get text(): string {
    return this.emitted;
  }

  private emit(s: string): string {
    this.emitted += s;
    return s;
  }
}

function parseJson(text: string | undefined, file: string): Record<string, unknown> {
  if (text === undefined)
    throw new Error(`${file}: missing (r1lab reads the fast-tokenizer file tokenizer.json)`);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v))
    throw new Error(`${file}: expected a JSON object`);
  return v as Record<string, unknown>;
}

/** tokenizer_config.json writes special tokens as a string or as {"content": ..., ...} (AddedToken). */
function specialTokenString(v: unknown, file: string, key: string): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v === "string") return v;
  const content = (v as { content?: unknown }).content;
  if (typeof content === "string") return content;
  throw new Error(`${file}: ${key} must be a string, {"content": string} or null, got ${JSON.stringify(v)}`);
}

/** A tokenizer from in-memory JSON (e.g. one r1lab built), saved later as these two files. */
export function tokenizerFromJson(
  tokenizerJson: unknown,
  tokenizerConfig: Record<string, unknown> = {},
  source = "tokenizer",
): Tokenizer {
  const files = new Map([
    ["tokenizer.json", `${JSON.stringify(tokenizerJson, null, 2)}\n`],
    ["tokenizer_config.json", `${JSON.stringify(tokenizerConfig, null, 2)}\n`],
  ]);
  return new Tokenizer(
    files,
    templatesFromConfig(tokenizerConfig, `${source}/tokenizer_config.json`),
    source,
  );
}

const OPTIONAL_FILES = ["tokenizer_config.json", "special_tokens_map.json", CHAT_TEMPLATE_FILE];

/** Load the tokenizer in folder `dir` (a checkpoint or a Hub snapshot). */
export async function loadTokenizer(dir: string): Promise<Tokenizer> {
  const files = new Map<string, string>();
  const main = join(dir, "tokenizer.json");
  if (!existsSync(main)) {
    throw new Error(
      `${dir}: no tokenizer.json (r1lab needs the fast-tokenizer file; convert slow tokenizers with transformers first)`,
    );
  }
  files.set("tokenizer.json", await readFile(main, "utf8"));
  for (const f of OPTIONAL_FILES)
    if (existsSync(join(dir, f))) files.set(f, await readFile(join(dir, f), "utf8"));
  const config = parseJson(files.get("tokenizer_config.json") ?? "{}", join(dir, "tokenizer_config.json"));
  const templates = readChatTemplates(dir, config);
  const extraDir = join(dir, ADDITIONAL_TEMPLATES_DIR);
  for (const name of Object.keys(templates)) {
    const path = join(extraDir, `${name}.jinja`);
    if (existsSync(path)) files.set(relative(dir, path), templates[name]);
  }
  return new Tokenizer(files, templates, dir);
}

/** Write the tokenizer's files into `dir`, each atomically (the folder is created if needed). */
export function saveTokenizer(tok: Tokenizer, dir: string): void {
  for (const [name, text] of tok.files) writeFileAtomic(join(dir, name), text);
}
