/**
 * Shared pieces of the text database loaders (.ndb .ldb .hdb .hsb .fp .sfp .ign .ign2):
 * line iteration, FLEVEL filtering, naming, error recording.
 *
 * Line rules (ClamAV readdb.c): a line starting with `#` is a comment; trailing CR/LF is
 * dropped. ClamAV errors on blank lines and aborts the whole file on the first bad line; we
 * skip blank lines and record each bad line in `errors` and go on (one typo in a third-party
 * database must not disable the rest of it).
 */
import { HashList } from "./hash-list.js";
import type { LoadError, SignatureSet } from "./types.js";

/** Functionality level we claim. ClamAV 1.4.6 is 216 (measured: `:216` loads, `:218` does
 *  not); we implement at least what the formats up to 220 need, so lines that require more
 *  or allow at most less are skipped silently, as ClamAV does. */
export const ENGINE_FLEVEL = 220;

/** ClamAV reads .ndb/.hdb/.ign lines with an 8 KiB buffer (FILEBUFF) and .ldb lines with
 *  32 KiB (CLI_DEFAULT_LSIG_BUFSIZE); longer lines are broken up and fail there. */
export const MAX_LINE_CHARS = 8_192;
export const MAX_LDB_LINE_CHARS = 32_768;

export interface DbSource {
  set: SignatureSet;
  /** path shown in errors and SourceRef (a member of a .cvd shows as `x.cvd/member.ndb`) */
  file: string;
  /** signatures from a verified .cvd/.cld keep their names; all others get `.UNOFFICIAL` */
  official: boolean;
}

export function addError(set: SignatureSet, file: string, line: number, reason: string): void {
  const e: LoadError = { file, line, reason };
  set.errors.push(e);
}

/**
 * Call `fn(line, lineNo)` for every non-comment, non-blank line; records an empty file and
 * over-long lines as errors. `fn` throws to report the line as bad (message = reason).
 */
export function eachLine(src: DbSource, text: string, maxChars: number, fn: (line: string, no: number) => void): void {
  if (text.length === 0) {
    addError(src.set, src.file, 0, "empty database file");
    return;
  }
  let no = 0;
  for (let from = 0; from < text.length; ) {
    let nl = text.indexOf("\n", from);
    if (nl < 0) nl = text.length;
    let end = nl;
    if (end > from && text.charCodeAt(end - 1) === 13) end--;
    no++;
    const first = text.charCodeAt(from);
    if (end > from && first !== 35 /* # */) {
      if (end - from > maxChars) addError(src.set, src.file, no, `line longer than ${maxChars} characters (ClamAV's limit)`);
      else {
        const line = text.slice(from, end);
        if (line.trim() !== "")
          try {
            fn(line, no);
          } catch (e) {
            addError(src.set, src.file, no, e instanceof Error ? e.message : String(e));
          }
      }
    }
    from = nl + 1;
  }
}

export function isDigits(s: string): boolean {
  if (s.length === 0 || s.length > 10) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** A line's optional `:minfl[:maxfl]` tail: true when our FLEVEL is outside it (skip). */
export function flevelExcludes(min: string | undefined, max: string | undefined): boolean {
  if (min === undefined) return false;
  if (!isDigits(min)) throw new Error(`minimum FLEVEL '${min}' is not a number`);
  if (Number(min) > ENGINE_FLEVEL) return true;
  if (max === undefined) return false;
  if (!isDigits(max)) throw new Error(`maximum FLEVEL '${max}' is not a number`);
  return Number(max) < ENGINE_FLEVEL;
}

/** Reported name: ClamAV drops a " (Clam)" suffix and marks unofficial signatures. */
export function sigName(raw: string, official: boolean): string {
  const clam = raw.indexOf(" (Clam)");
  const name = clam >= 0 ? raw.slice(0, clam) : raw;
  if (!name) throw new Error("empty signature name");
  return official ? name : `${name}.UNOFFICIAL`;
}

/** Name as compared with .ign/.ign2 entries (ClamAV cli_signorm strips `.UNOFFICIAL`). */
export function ignoreKey(name: string): string {
  return name.endsWith(".UNOFFICIAL") ? name.slice(0, -11) : name;
}

export function emptySet(): SignatureSet {
  return { ndb: [], ldb: [], hashes: new HashList(), allow: new HashList(), ignored: new Set(), errors: [], files: [] };
}
