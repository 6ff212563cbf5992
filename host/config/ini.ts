/**
 * The INI syntax of bulwark.cfg (SPEC §3): `[section]`, `key = value`, double-quoted strings with
 * backslash escapes, bare tokens (yes/no, numbers, words), `#` comments. The parser keeps every
 * line's original text, so serializeIni() gives the file back byte for byte and setIniValue()
 * changes one value without disturbing comments, blank lines, order or line endings.
 * This layer knows syntax only; the schema checks (unknown key, bad type) are in load.ts.
 */
import type { RawValue } from "./values.js";

/** Largest configuration file accepted: real ones are a few tens of KiB; a bigger file is a
 *  mistake (a wrong path, a log) and reading it whole would waste memory. */
export const MAX_CONFIG_BYTES = 1024 * 1024;
/** Longest line accepted: long enough for scheduler_tasks strings, short enough that a binary
 *  file given by mistake fails fast with a clear error. */
export const MAX_LINE_LENGTH = 64 * 1024;

export interface ConfigError {
  file: string;
  /** 1-based line number; 0 when the error is about the file as a whole. */
  line: number;
  reason: string;
  /** Section the error belongs to (undefined outside any section or for the whole file). */
  section?: string;
}

export function formatConfigError(e: ConfigError): string {
  return `${e.file}:${e.line}: ${e.reason}`;
}

export type IniLine =
  | { kind: "blank" | "comment" | "invalid"; text: string; section?: string }
  | { kind: "section"; text: string; section: string }
  | {
      kind: "entry";
      text: string;
      section?: string;
      key: string;
      value: RawValue;
      /** Offsets in `text` of the value as written (quotes included), for in-place edits. */
      valueStart: number;
      valueEnd: number;
    };

export interface IniDocument {
  file: string;
  /** Line texts exactly as in the file, without the "\n" (a "\r" stays part of the text). */
  lines: IniLine[];
}

const SECTION_LINE = /^\s*\[([^\]]*)\]\s*(#.*)?$/;
const ENTRY_START = /^(\s*)([A-Za-z_][A-Za-z0-9_]*)\s*=\s*/;
const ESCAPES: Record<string, string> = { '"': '"', "\\": "\\", n: "\n", t: "\t", r: "\r" };

type ValueScan = { ok: true; value: RawValue; end: number } | { ok: false; reason: string };

/** Read the value starting at `at` in `s` (line text without "\r"), up to a comment or the end. */
function scanValue(s: string, at: number): ValueScan {
  if (s[at] === '"') {
    let out = "";
    for (let i = at + 1; i < s.length; i++) {
      const c = s[i];
      if (c === '"') {
        const rest = s.slice(i + 1).trim();
        if (rest !== "" && !rest.startsWith("#")) return { ok: false, reason: `unexpected text after the closing quote: ${JSON.stringify(rest)}` };
        return { ok: true, value: { text: out, quoted: true }, end: i + 1 };
      }
      if (c === "\\") {
        const e = s[++i];
        if (e === undefined) break;
        if (!(e in ESCAPES)) return { ok: false, reason: `unknown escape \\${e} in a quoted string (use \\\\ for a backslash)` };
        out += ESCAPES[e];
      } else out += c;
    }
    return { ok: false, reason: "unterminated quoted string (missing closing \")" };
  }
  const hash = s.indexOf("#", at);
  const bare = (hash < 0 ? s.slice(at) : s.slice(at, hash)).trimEnd();
  if (bare.includes('"')) return { ok: false, reason: `stray double quote in an unquoted value: ${JSON.stringify(bare)}` };
  return { ok: true, value: { text: bare, quoted: false }, end: at + bare.length };
}

/**
 * Parse INI text. Syntax errors (malformed line, unterminated quote, key outside a section,
 * duplicate key in a section) are returned, not thrown; the offending line is kept as
 * kind "invalid" so the document still serializes to the original text.
 */
export function parseIni(text: string, file: string): { doc: IniDocument; errors: ConfigError[] } {
  const errors: ConfigError[] = [];
  const lines: IniLine[] = [];
  if (Buffer.byteLength(text) > MAX_CONFIG_BYTES) {
    errors.push({ file, line: 0, reason: `file is larger than ${MAX_CONFIG_BYTES} bytes` });
    return { doc: { file, lines: [] }, errors };
  }
  const seen = new Map<string, Set<string>>();
  let section: string | undefined;
  const raw = text.split("\n");
  raw.forEach((lineText, i) => {
    const n = i + 1;
    const s = lineText.endsWith("\r") ? lineText.slice(0, -1) : lineText;
    const bad = (reason: string) => {
      errors.push({ file, line: n, reason, section });
      lines.push({ kind: "invalid", text: lineText, section });
    };
    if (s.length > MAX_LINE_LENGTH) return bad(`line is longer than ${MAX_LINE_LENGTH} characters`);
    const trimmed = s.trim();
    if (trimmed === "") return lines.push({ kind: "blank", text: lineText, section });
    if (trimmed.startsWith("#")) return lines.push({ kind: "comment", text: lineText, section });
    if (trimmed.startsWith("[")) {
      const m = SECTION_LINE.exec(s);
      if (!m || m[1].trim() === "") return bad(`malformed section header ${JSON.stringify(trimmed)} (expected [name])`);
      section = m[1].trim();
      return lines.push({ kind: "section", text: lineText, section });
    }
    const m = ENTRY_START.exec(s);
    if (!m) return bad(`malformed line ${JSON.stringify(trimmed.slice(0, 80))} (expected key = value, [section] or # comment)`);
    const key = m[2];
    if (section === undefined) return bad(`key ${key} outside any section (put it under [global] or an agent section)`);
    const v = scanValue(s, m[0].length);
    if (!v.ok) return bad(v.reason);
    const keys = seen.get(section) ?? seen.set(section, new Set()).get(section)!;
    if (keys.has(key)) return bad(`duplicate key ${key} in [${section}]`);
    keys.add(key);
    lines.push({ kind: "entry", text: lineText, section, key, value: v.value, valueStart: m[0].length, valueEnd: v.end });
  });
  return { doc: { file, lines }, errors };
}

/** The document's text; identical to the parsed text when nothing was changed. */
export function serializeIni(doc: IniDocument): string {
  return doc.lines.map((l) => l.text).join("\n");
}

/** The line ending the file uses, so inserted lines match it. */
function eolOf(doc: IniDocument): string {
  return doc.lines.some((l) => l.text.endsWith("\r")) ? "\r" : "";
}

/**
 * Set `key` in `[section]` to `valueText` (already INI-formatted, e.g. `"abc"` or `yes`).
 * An existing entry keeps its indentation, spacing and trailing comment; a new entry goes right
 * after a commented-out `# key = ...` line of that section when there is one, else after the
 * section's last entry; a missing section is appended at the end of the file.
 */
export function setIniValue(doc: IniDocument, section: string, key: string, valueText: string): void {
  const cr = eolOf(doc);
  const existing = doc.lines.findIndex((l) => l.kind === "entry" && l.section === section && l.key === key);
  if (existing >= 0) {
    const l = doc.lines[existing] as Extract<IniLine, { kind: "entry" }>;
    const text = l.text.slice(0, l.valueStart) + valueText + l.text.slice(l.valueEnd);
    doc.lines[existing] = { ...l, text, valueEnd: l.valueStart + valueText.length };
    return;
  }
  const entry = (): IniLine => ({
    kind: "entry", text: `${key} = ${valueText}${cr}`, section, key,
    value: { text: valueText, quoted: valueText.startsWith('"') },
    valueStart: `${key} = `.length, valueEnd: `${key} = `.length + valueText.length,
  });
  const headers = doc.lines.flatMap((l, i) => (l.kind === "section" && l.section === section ? [i] : []));
  if (headers.length === 0) {
    const last = doc.lines.length - 1;
    // Keep a final newline final: insert before the empty string that follows it.
    const at = last >= 0 && doc.lines[last].text === "" ? last : doc.lines.length;
    const block: IniLine[] = [];
    if (at > 0 && doc.lines[at - 1].text.trim() !== "") block.push({ kind: "blank", text: cr });
    block.push({ kind: "section", text: `[${section}]${cr}`, section }, entry());
    if (at === doc.lines.length) block.push({ kind: "blank", text: "" });
    doc.lines.splice(at, 0, ...block);
    return;
  }
  const commented = new RegExp(`^\\s*#\\s*${key}\\s*=`);
  let after = -1;
  for (const h of headers) {
    for (let i = h + 1; i < doc.lines.length && doc.lines[i].kind !== "section"; i++) {
      if (doc.lines[i].kind === "comment" && commented.test(doc.lines[i].text)) after = i;
    }
  }
  if (after < 0) {
    after = headers[headers.length - 1];
    for (let i = after + 1; i < doc.lines.length && doc.lines[i].kind !== "section"; i++) {
      if (doc.lines[i].kind === "entry") after = i;
    }
  }
  doc.lines.splice(after + 1, 0, entry());
}
