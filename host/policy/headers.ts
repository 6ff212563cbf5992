/**
 * The header fields Bulwark adds to a scanned mail (SPEC §4): the verdict, the engine version and
 * the signature version. Pure functions from a verdict and version strings to (name, value) pairs.
 *
 * Values are built from strings an attacker can influence (detection paths come from attachment
 * names; a version string comes from a signature file), so every value goes through
 * `sanitizeHeaderValue`: a CR or LF in a value would let a mail smuggle its own header fields (or
 * end the header section) through our output.
 */
import type { Verdict } from "../scan/verdict.js";

export const HEADER_VERDICT = "X-Bulwark-Verdict";
export const HEADER_ENGINE = "X-Bulwark-Engine";
export const HEADER_SIGNATURES = "X-Bulwark-Signatures";

/** Max characters of one value. RFC 5322 §2.1.1 limits a line to 998 characters; we stay far
 *  below so a field never needs folding, whatever the name, and a mail with thousands of
 *  detections cannot grow its header without bound. */
export const MAX_HEADER_VALUE = 400;
/** Max detection names listed in the verdict field; the rest is counted ("+N more"). */
export const MAX_HEADER_NAMES = 10;

export interface Versions {
  /** Bulwark's version, e.g. "0.3.0" */
  product: string;
  /** engine build, e.g. the WASM module's version or digest prefix */
  engine: string;
  /** signature set version, e.g. "daily 27501, 1100000 signatures" */
  signatures: string;
}

export interface HeaderField {
  name: string;
  value: string;
}

/**
 * One line of printable US-ASCII: every control character (CR, LF, TAB, NUL, DEL, C1) becomes a
 * space, every other non-ASCII character becomes "?", runs of spaces collapse, ends are trimmed,
 * and the result is cut at `max` characters (ending in "..." when cut).
 */
export function sanitizeHeaderValue(input: unknown, max: number = MAX_HEADER_VALUE): string {
  const s = typeof input === "string" ? input : String(input ?? "");
  let out = "";
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c < 0x20 || c === 0x7f || (c >= 0x80 && c <= 0x9f)) out += " ";
    else if (c > 0x7e) out += "?";
    else out += ch;
    // Stop early: a 100 MB hostile name must not cost 100 MB of work here.
    if (out.length > max * 2 + 16) break;
  }
  out = out.replace(/ {2,}/g, " ").trim();
  if (out.length > max) out = out.slice(0, Math.max(0, max - 3)).trimEnd() + "...";
  return out;
}

function listed(items: string[]): string {
  const shown = items.slice(0, MAX_HEADER_NAMES).join(", ");
  return items.length > MAX_HEADER_NAMES ? `${shown} (+${items.length - MAX_HEADER_NAMES} more)` : shown;
}

/** The verdict field's value: "clean", "infected; A, B", "cleaned; A", "not-scanned; reasons", "error". */
export function verdictFieldValue(verdict: Verdict, cleaned = false): string {
  switch (verdict?.status) {
    case "clean":
      return "clean";
    case "infected":
      return sanitizeHeaderValue(`${cleaned ? "cleaned" : "infected"}; ${listed(verdict.names ?? [])}`);
    case "not_scanned": {
      const names = [...new Set((verdict.notScanned ?? []).map((n) => n.name))];
      return sanitizeHeaderValue(`not-scanned; ${listed(names)}`);
    }
    case "error":
      return "error";
    default:
      // never claim "clean" for something we do not understand
      return "unknown";
  }
}

/** The fields for one scanned mail, in the order they are to be written. */
export function scanHeaderFields(verdict: Verdict, versions: Versions, cleaned = false): HeaderField[] {
  return [
    { name: HEADER_VERDICT, value: verdictFieldValue(verdict, cleaned) },
    { name: HEADER_ENGINE, value: sanitizeHeaderValue(`Bulwark ${versions.product} (engine ${versions.engine})`) },
    { name: HEADER_SIGNATURES, value: sanitizeHeaderValue(versions.signatures) },
  ];
}

/** The fields as header lines ready to prepend to a message, each ending in `eol`. */
export function formatHeaderFields(fields: HeaderField[], eol: "\r\n" | "\n" = "\r\n"): string {
  for (const f of fields) {
    // RFC 5322 §3.6.8 field-name: printable ASCII except ":" and space
    if (!/^[\x21-\x39\x3b-\x7e]+$/.test(f.name)) throw new Error(`invalid header field name ${JSON.stringify(f.name)}`);
  }
  return fields.map((f) => `${f.name}: ${sanitizeHeaderValue(f.value)}${eol}`).join("");
}
