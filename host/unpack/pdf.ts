/**
 * PDF stream extractor. Walks the `N G obj ... endobj` objects in file order, takes each
 * `stream ... endstream` body, runs its /Filter chain (pdf-filters.ts) and yields the
 * decoded bytes: "obj-N" for ordinary streams, the file name for /EmbeddedFile streams
 * that a /Filespec names (clam.pdf stores clam.exe that way, unfiltered).
 *
 * Not a full PDF parser: no xref, no object streams' inner objects, no decryption. A
 * document with /Encrypt raises Heuristics.Encrypted.PDF and its streams are yielded raw.
 * The walk only moves forward (every search starts where the last one ended), so the
 * work is linear in the file size whatever the nesting or the lies in /Length.
 */
import { applyFilter, type DecodeParms } from "./pdf-filters.js";
import { UnpackError, type Child, type UnpackCtx, type Unpacker } from "./types.js";

export const ENCRYPTED_PDF = "Heuristics.Encrypted.PDF";

/** Acrobat accepts the %PDF- header anywhere in the first 1 KiB ([ISO 32000-1] notes
 *  the same); droppers pad it with junk to dodge magic checks. */
const HEADER_WINDOW = 1024;
/** Filters applied to one stream. Real files use 1-2; chains are a known evasion trick
 *  but each stage is capped anyway, this only stops pointless work. */
const MAX_FILTERS = 8;
/** Longest embedded file name we keep; Windows paths end at 260 characters. */
const MAX_NAME = 260;

interface StreamInfo {
  num: number;
  dict: string;
  start: number;
  end: number;
}

export function looksLikePdf(data: Uint8Array): boolean {
  const head = Buffer.from(data.buffer, data.byteOffset, Math.min(data.length, HEADER_WINDOW)).toString("latin1");
  return head.includes("%PDF-");
}

export const unpackPdf: Unpacker = function* (data: Uint8Array, ctx: UnpackCtx): Iterable<Child> {
  if (!looksLikePdf(data)) throw new UnpackError("pdf", "no %PDF- header");
  const text = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("latin1");
  if (/\/Encrypt[\s/<\d]/.test(text)) ctx.heuristic(ENCRYPTED_PDF);
  const { streams, fileNames } = scanObjects(text, ctx);
  for (const s of streams) {
    ctx.checkTime();
    const raw = data.subarray(s.start, s.end);
    const decoded = decode(raw, s.dict, ctx);
    ctx.charge(decoded.length);
    const name = fileNames.get(s.num) ?? (/\/Type\s*\/EmbeddedFile\b/.test(s.dict) ? `obj-${s.num}.embedded` : `obj-${s.num}`);
    yield { name, data: decoded };
  }
};

/** One forward pass: stream locations and the names /Filespec objects give them. */
function scanObjects(text: string, ctx: UnpackCtx): { streams: StreamInfo[]; fileNames: Map<number, string> } {
  const streams: StreamInfo[] = [];
  const fileNames = new Map<number, string>();
  // Objects holding a bare integer, for indirect /Length (often defined after the stream).
  const lengths = new Map<number, number>();
  for (const m of text.matchAll(/(\d{1,10})\s+\d{1,5}\s+obj\s*(\d{1,12})\s*endobj/g)) lengths.set(Number(m[1]), Number(m[2]));
  const nextObj = forwardFinder(text, /\d{1,10}\s+\d{1,5}\s+obj\b/g);
  const nextStream = forwardFinder(text, /(?<!end)stream[ \t]{0,4}(?:\r\n|\n|\r)/g);
  const nextEndobj = forwardFinder(text, /endobj/g);
  let count = 0;
  for (let o = nextObj(0); o; ) {
    if (++count % 1024 === 0) ctx.checkTime();
    const num = parseInt(o.text, 10);
    const bodyStart = o.index + o.text.length;
    const s = nextStream(bodyStart);
    const e = nextEndobj(bodyStart);
    const n = nextObj(bodyStart);
    const regionEnd = Math.min(e ? e.index : text.length, n ? n.index : text.length);
    if (s && s.index < regionEnd) {
      const dict = text.slice(bodyStart, s.index);
      const start = s.index + s.text.length;
      const end = streamEnd(text, dict, start, lengths);
      streams.push({ num, dict, start, end });
      // continue after the data: "N 0 obj" look-alikes inside it are not objects
      o = nextObj(text.startsWith("endstream", end) ? end + 9 : end);
    } else {
      collectFileNames(text.slice(bodyStart, regionEnd), fileNames);
      o = n;
    }
  }
  return { streams, fileNames };
}

/** Returns a search function for `re` that only ever moves forward: each call with a
 *  position at or before the last hit returns the cached hit, so repeated lookups over
 *  the whole file cost one scan in total. */
function forwardFinder(text: string, re: RegExp): (from: number) => { index: number; text: string } | null {
  let hit: { index: number; text: string } | null = null;
  let searchedFrom = -1;
  let exhausted = false;
  return (from: number) => {
    if (hit && hit.index >= from && searchedFrom <= from) return hit;
    if (exhausted && searchedFrom <= from) return null;
    re.lastIndex = from;
    const m = re.exec(text);
    searchedFrom = from;
    hit = m ? { index: m.index, text: m[0] } : null;
    exhausted = !m;
    return hit;
  };
}

/**
 * End of the stream data: start + /Length when "endstream" follows there (direct or
 * indirect length), else the next "endstream" minus its EOL, else the end of file.
 */
function streamEnd(text: string, dict: string, start: number, lengths: Map<number, number>): number {
  const lm = /\/Length\s+(\d{1,12})(?:\s+(\d{1,5})\s+R)?/.exec(dict);
  let len: number | undefined;
  if (lm) len = lm[2] !== undefined ? lengths.get(Number(lm[1])) : Number(lm[1]);
  if (len !== undefined && start + len <= text.length) {
    const tail = /^\s{0,4}endstream/.exec(text.slice(start + len, start + len + 16));
    if (tail) return start + len;
  }
  const es = text.indexOf("endstream", start);
  if (es < 0) return text.length;
  let end = es;
  if (text[end - 1] === "\n") end--;
  if (text[end - 1] === "\r") end--;
  return Math.max(start, end);
}

/** Runs the /Filter chain; stops at the first unknown filter or undecodable stage and
 *  returns the last good bytes. */
function decode(raw: Uint8Array, dict: string, ctx: UnpackCtx): Uint8Array {
  const filters = filterNames(dict).slice(0, MAX_FILTERS);
  const parms = decodeParms(dict);
  let cur = raw;
  for (const f of filters) {
    const next = applyFilter(f, cur, parms, ctx);
    if (!next) break;
    cur = next;
  }
  return cur;
}

function filterNames(dict: string): string[] {
  const m = /\/Filter\s*(\[[^\]]*\]|\/[^\s/[\]<>()]+)/.exec(dict);
  if (!m) return [];
  return [...m[1].matchAll(/\/([^\s/[\]<>()]+)/g)].map((x) => pdfName(x[1]));
}

/** Names may hide letters as #xx escapes ("/Fl#61teDecode"). */
function pdfName(n: string): string {
  return n.replace(/#([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}

function decodeParms(dict: string): DecodeParms {
  const num = (key: string) => {
    const m = new RegExp(`/${key}\\s+(\\d{1,9})`).exec(dict);
    return m ? Number(m[1]) : undefined;
  };
  return {
    predictor: num("Predictor"),
    colors: num("Colors"),
    bitsPerComponent: num("BitsPerComponent"),
    columns: num("Columns"),
    earlyChange: num("EarlyChange"),
  };
}

/** A /Filespec: /EF << /F 15 0 R >> plus /UF or /F (string) naming the file. */
function collectFileNames(body: string, names: Map<number, string>): void {
  const ef = /\/EF\s*<<([^>]*)>>/.exec(body);
  if (!ef) return;
  const nameAt = /\/UF\s*(?=[(<])/.exec(body) ?? /\/F\s*(?=[(<])/.exec(body);
  if (!nameAt) return;
  const name = sanitize(pdfString(body, nameAt.index + nameAt[0].length));
  if (!name) return;
  for (const ref of ef[1].matchAll(/(\d{1,10})\s+\d{1,5}\s+R/g)) names.set(Number(ref[1]), name);
}

/** Parses a literal "(...)" (with escapes and nested parentheses) or hex "<...>" string;
 *  UTF-16BE when it starts with a byte order mark. */
function pdfString(s: string, p: number): string {
  let bytes = "";
  if (s[p] === "<") {
    const end = s.indexOf(">", p);
    const hex = s.slice(p + 1, end < 0 ? Math.min(s.length, p + 2 * MAX_NAME) : end).replace(/[^0-9a-fA-F]/g, "");
    for (let i = 0; i + 1 < hex.length && bytes.length < 2 * MAX_NAME; i += 2) bytes += String.fromCharCode(parseInt(hex.slice(i, i + 2), 16));
  } else {
    let depth = 0;
    for (let i = p + 1; i < s.length && bytes.length < 2 * MAX_NAME; i++) {
      const c = s[i];
      if (c === "\\") {
        const n = s[++i] ?? "";
        const oct = /^[0-7]{1,3}/.exec(s.slice(i, i + 3));
        if (oct) {
          bytes += String.fromCharCode(parseInt(oct[0], 8) & 0xff);
          i += oct[0].length - 1;
        } else bytes += ({ n: "\n", r: "\r", t: "\t", b: "\b", f: "\f" } as Record<string, string>)[n] ?? n;
      } else if (c === "(") {
        depth++;
        bytes += c;
      } else if (c === ")") {
        if (depth-- === 0) break;
        bytes += c;
      } else bytes += c;
    }
  }
  if (!bytes.startsWith("\xfe\xff")) return bytes;
  let utf16 = "";
  for (let i = 2; i + 1 < bytes.length; i += 2) utf16 += String.fromCharCode((bytes.charCodeAt(i) << 8) | bytes.charCodeAt(i + 1));
  return utf16;
}

function sanitize(name: string): string {
  return (name.split(/[\\/]/).pop() ?? "").replace(/[\x00-\x1f]/g, "").slice(0, MAX_NAME);
}
