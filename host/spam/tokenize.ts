/**
 * features: the statistical filter's view of a parsed mail (SPEC §6), as unique 53-bit
 * feature hashes (feature-hash.ts). What a feature is:
 * - words of the body text (plain parts and the visible text of HTML parts), case-folded;
 * - optionally (off by default, see OSB_WINDOW) sparse word pairs: each word with each of
 *   the next OSB_WINDOW-1 words, the distance in the key;
 * - words of the header fields (but numbers), keyed by the field name ("subject:free" is
 *   not "free"), plus the names of the fields present (list mail carries List-Id, spam carries
 *   X-Priority ...), the Message-ID and sender domains;
 * - the hosts of the URIs and their parent domains;
 * - a few meta tokens: html-only, image-only HTML, attachment types and extensions, counts
 *   in buckets.
 * Header-field features are emitted in the header lane (feature-hash.ts HEADER_LANE), the rest
 * outside it, so the filter can weigh the two kinds of evidence apart (bayes.ts).
 * Deterministic: the same mail gives the same sorted list. Bounded: MAX_BODY_WORDS and
 * MAX_RAW_FEATURES cap the work per mail.
 */
import { emit, full, hashPair, headerLane, hashRange, hashString, lastHi, lastLo, reset, seedOf, take, wasTruncated } from "./feature-hash.js";
import type { MailHeader, ParsedMail } from "./types.js";
import { uriHost } from "./uris.js";

/** Body words tokenized per mail. ~ 20 KB of text (the corpus p95 is 16 KB); words further
 *  down a long mail rarely change a verdict but cost lookups. */
export const MAX_BODY_WORDS = 3000;
/** Words of one header field value (long References / Received chains are noise after this). */
const MAX_HEADER_WORDS = 60;
/** Word pairs: each word with the next OSB_WINDOW - 1 words; 0 = off. Off by default:
 *  cross-validation on the corpus train half (bench/spam-tune.mjs) found pairs (adjacent
 *  or OSB up to 5) no better than single words, while they multiply the features per mail
 *  by 2-3 and the database by 4-8. */
export const OSB_WINDOW = 0;
/** Words shorter than 3 characters are mostly noise ("a", "to", "of"); longer than 40 are
 *  ids, base64 or hashes, kept only as a "long word starting with ..." feature of their
 *  first LONG_PREFIX characters. Chosen by cross-validation (2 and 16/30 were no better). */
export const MIN_WORD = 3;
export const MAX_WORD = 40;
const LONG_PREFIX = 6;

export interface TokenizerOptions {
  osbWindow: number;
  minWord: number;
  maxWord: number;
  fold: boolean;
  headerWords: boolean;
  headerNames: boolean;
  uriHosts: boolean;
  meta: boolean;
  htmlTags: boolean;
  headerNumbers: boolean;
}

export const DEFAULT_TOKENIZER: TokenizerOptions = {
  osbWindow: OSB_WINDOW, minWord: MIN_WORD, maxWord: MAX_WORD, fold: true,
  headerWords: true, headerNames: true, uriHosts: true, meta: true, htmlTags: false, headerNumbers: false,
};

const BODY = seedOf("body");
const LONG = seedOf("long");
const HNAME = seedOf("hname");
const URIHOST = seedOf("uri");
const META = seedOf("meta");
const HTML_TAG = seedOf("html-tag");

/** Words taken from inside HTML tags per mail: a 5 KB HTML mail has ~500; padding beyond
 *  that is repetition. */
const MAX_HTML_TAG_WORDS = 1500;
/** Characters of one tag tokenized (long style attributes repeat themselves). */
const MAX_TAG_CHARS = 512;

/** Fields written by the corpus collector's or a recipient's mail client, or by filters,
 *  never by the sender: they say nothing about the mail and would teach the filter the
 *  collector's habits (X-Keywords, Status) or an earlier filter's verdict (X-Spam-*). */
function ignoredHeader(lname: string): boolean {
  return lname.startsWith("x-spam") || lname.startsWith("x-bulwark") || lname === "x-keywords" ||
    lname === "status" || lname === "x-status" || lname === "x-uid" || lname === "delivery-date" ||
    lname === "content-length" || lname === "lines" || lname === "x-virus-scanned";
}

/** Header-name seeds remembered. Real mail uses a few hundred names; hostile mail can invent
 *  any number, and a daemon must not grow a cache for ever (a miss only costs a short hash). */
const MAX_CACHED_SEEDS = 2048;
const headerSeeds = new Map<string, readonly [number, number]>();
function headerSeed(lname: string): readonly [number, number] {
  let s = headerSeeds.get(lname);
  if (s === undefined) {
    s = seedOf("h:" + lname);
    if (headerSeeds.size < MAX_CACHED_SEEDS) headerSeeds.set(lname, s);
  }
  return s;
}

/** Unique feature hashes of `mail`, sorted ascending. */
export function features(mail: ParsedMail, opts: TokenizerOptions = DEFAULT_TOKENIZER): number[] {
  reset();
  const ring = new Ring(opts.osbWindow);
  let budget = MAX_BODY_WORDS;
  for (const t of mail.textParts) budget = words(t, BODY, opts, ring, budget);
  for (const t of mail.htmlText) budget = words(t, BODY, opts, ring, budget);
  if (opts.htmlTags) {
    let tagBudget = MAX_HTML_TAG_WORDS;
    for (const html of mail.htmlParts) tagBudget = tagWords(html, opts, tagBudget);
  }
  headerLane(true);
  for (const h of mail.headers) headerFeatures(h, opts);
  headerLane(false);
  if (opts.uriHosts) for (const u of mail.uris) hostFeatures(uriHost(u));
  if (opts.meta) metaFeatures(mail, budget <= 0 || wasTruncated());
  return take();
}

/** Words inside HTML tags (names, attributes, colours, fonts), as bogofilter does: the
 *  markup of bulk mail (FONT color=#ff6600, TD style=...) looks telling, but
 *  cross-validation found it slightly worse, so the option is off by default. */
function tagWords(html: string, opts: TokenizerOptions, budget: number): number {
  let lt = html.indexOf("<");
  while (lt >= 0 && budget > 0 && !full()) {
    const gt = html.indexOf(">", lt + 1);
    const end = gt < 0 ? html.length : gt;
    if (html.charCodeAt(lt + 1) !== 0x2f /* end tags add nothing new */) {
      budget = words(html, HTML_TAG, opts, NO_PAIRS, budget, lt + 1, Math.min(end, lt + 1 + MAX_TAG_CHARS));
    }
    if (gt < 0) break;
    lt = html.indexOf("<", gt + 1);
  }
  return budget;
}

function headerFeatures(h: MailHeader, opts: TokenizerOptions): void {
  const l = h.lname;
  if (ignoredHeader(l)) return;
  if (opts.headerNames) {
    hashString(l, HNAME[0], HNAME[1]);
    emit(lastLo, lastHi);
  }
  if (!opts.headerWords) return;
  const seed = headerSeed(l);
  // numbers in header fields are dates, times, queue ids and sizes: they teach the filter
  // when the training mail was sent, not what it is (cross-validation: slightly better without)
  const ring = l === "subject" && opts.osbWindow > 1 ? new Ring(opts.osbWindow) : NO_PAIRS;
  words(h.value, seed, opts, ring, MAX_HEADER_WORDS, 0, h.value.length, opts.headerNumbers || l === "subject");
  if (l === "message-id" || l === "from" || l === "return-path" || l === "reply-to") {
    const at = h.value.lastIndexOf("@");
    if (at >= 0) {
      const end = h.value.indexOf(">", at);
      domainFeatures(h.value.slice(at + 1, end < 0 ? h.value.length : end).trim().toLowerCase(), seed);
    }
  }
}

/** The host and each parent domain with at least two labels (a.b.example.com -> also
 *  b.example.com, example.com): spam rotates host names under one registered domain. */
function domainFeatures(host: string, seed: readonly [number, number]): void {
  if (host === "" || host.length > 253) return;
  let dot = -1;
  for (let i = 0; i < 6; i++) {
    const rest = host.slice(dot + 1);
    if (rest.indexOf(".") < 0) break;
    hashString(rest, seed[0], seed[1]);
    emit(lastLo, lastHi);
    dot = host.indexOf(".", dot + 1);
    if (dot < 0) break;
  }
}

function hostFeatures(host: string): void {
  if (/^\d+\.\d+\.\d+\.\d+$/.test(host)) meta("uri-ip");
  domainFeatures(host, URIHOST);
}

function meta(name: string): void {
  hashString(name, META[0], META[1]);
  emit(lastLo, lastHi);
}

function bucket(n: number): string {
  return n === 0 ? "0" : n < 3 ? "1-2" : n < 10 ? "3-9" : n < 30 ? "10-29" : "30+";
}

/** Visible characters below which an HTML mail counts as having no text. */
const MIN_VISIBLE_TEXT = 40;
/** <img tags counted per part (the bucket tops out at 30 anyway). */
const MAX_IMAGES_COUNTED = 30;

function countImages(html: string): number {
  let n = 0;
  for (let at = html.indexOf("<"); at >= 0 && n < MAX_IMAGES_COUNTED; at = html.indexOf("<", at + 1)) {
    if ((html.charCodeAt(at + 1) | 0x20) === 0x69 && html.slice(at + 1, at + 4).toLowerCase() === "img") n++;
  }
  return n;
}

function metaFeatures(mail: ParsedMail, cut: boolean): void {
  const text = mail.textParts.length > 0;
  const html = mail.htmlParts.length > 0;
  meta(text && html ? "text+html" : html ? "html-only" : text ? "text-only" : "no-text");
  if (html) {
    // image-only HTML: the words are in the picture, so the filter has only this to go on
    let visible = 0;
    for (const t of mail.htmlText) visible += t.trim().length;
    let images = 0;
    for (const h of mail.htmlParts) images += countImages(h);
    meta("html-images:" + bucket(images));
    if (visible < MIN_VISIBLE_TEXT) meta("html-no-text");
  }
  meta("uris:" + bucket(mail.uris.length));
  meta("attachments:" + bucket(mail.attachments.length));
  for (const a of mail.attachments.slice(0, 10)) {
    meta("att-type:" + a.contentType);
    const dot = a.filename.lastIndexOf(".");
    if (dot >= 0) meta("att-ext:" + a.filename.slice(dot + 1).toLowerCase());
  }
  if (mail.truncated || cut) meta("truncated");
}

/** Ring of the last words' lanes, for word pairs. */
class Ring {
  readonly lo: Int32Array;
  readonly hi: Int32Array;
  n = 0;
  constructor(readonly size: number) {
    this.lo = new Int32Array(Math.max(1, size));
    this.hi = new Int32Array(Math.max(1, size));
  }
}

/** The ring of fields without word pairs (never written: its size is 0). */
const NO_PAIRS = new Ring(0);

function isWordChar(c: number): boolean {
  if (c < 0x80) return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x24;
  // Latin-1 punctuation and symbols, general punctuation, CJK punctuation, specials
  if (c < 0xc0) return c === 0xaa || c === 0xb5 || c === 0xba;
  if (c === 0xd7 || c === 0xf7) return false;
  if (c >= 0x2000 && c <= 0x2bff) return false;
  if (c >= 0x3000 && c <= 0x303f) return false;
  return c < 0xfe00 || c >= 0xff10;
}

function allDigits(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/** Characters kept inside a word ("don't", "e-mail", "3.5", "x_y", "a@b.c") but not at its ends. */
function isJoiner(c: number): boolean {
  return c === 0x27 || c === 0x2d || c === 0x2e || c === 0x5f || c === 0x40;
}

/**
 * Emit the words of `s` (and their pairs through `ring`) under `seed`; returns the word
 * budget left. A word is a run of word characters and inner joiners.
 */
function words(s: string, seed: readonly [number, number], opts: TokenizerOptions, ring: Ring, budget: number, from = 0, to = s.length, numbers = true): number {
  const len = to;
  const sLo = seed[0];
  const sHi = seed[1];
  let i = from;
  while (i < len && budget > 0 && !full()) {
    let c = s.charCodeAt(i);
    if (!isWordChar(c)) {
      i++;
      continue;
    }
    const start = i;
    let end = i + 1;
    i++;
    while (i < len) {
      c = s.charCodeAt(i);
      if (isWordChar(c)) end = ++i;
      else if (isJoiner(c)) i++;
      else break;
    }
    const wlen = end - start;
    if (wlen < opts.minWord) continue;
    if (!numbers && allDigits(s, start, end)) continue;
    budget--;
    if (wlen > opts.maxWord) {
      hashRange(s, start, start + LONG_PREFIX, LONG[0], LONG[1] ^ sLo, opts.fold);
      emit(lastLo, lastHi);
      continue;
    }
    hashRange(s, start, end, sLo, sHi, opts.fold);
    const lo = lastLo;
    const hi = lastHi;
    emit(lo, hi);
    const w = ring.size;
    if (w > 1) {
      for (let d = 1; d < w && d <= ring.n; d++) {
        const k = (ring.n - d) % w;
        hashPair(ring.lo[k], ring.hi[k], lo, hi, d);
        emit(lastLo, lastHi);
      }
      const k = ring.n % w;
      ring.lo[k] = lo;
      ring.hi[k] = hi;
      ring.n++;
    }
  }
  return budget;
}
