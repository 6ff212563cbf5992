/**
 * Encoders for the milter's replies to the MTA (SMFIR_*), and a parser for them (tests and any
 * MTA-side code). Talks to: nothing. Writes: nothing.
 * On failure: encoders throw TypeError/RangeError only for a programming error (a NUL inside a
 * field, a reply code that is not 4xx/5xx, a non-byte character); parseReply never throws.
 */
import {
  MILTER_CHUNK_SIZE, MILTER_OPTLEN, SMFIC_OPTNEG, SMFIR_ACCEPT, SMFIR_ADDHEADER, SMFIR_CHGHEADER, SMFIR_CONTINUE,
  SMFIR_DISCARD, SMFIR_INSHEADER, SMFIR_PROGRESS, SMFIR_QUARANTINE, SMFIR_REJECT, SMFIR_REPLBODY,
  SMFIR_REPLYCODE, SMFIR_SKIP, SMFIR_TEMPFAIL,
} from "./constants.js";
import { cstrings, encodePacket, type MilterPacket, MilterProtocolError } from "./protocol.js";

export interface OptnegReply {
  version: number;
  /** SMFIF_* the milter wants: must be a subset of what the MTA offered (Postfix fails it otherwise). */
  actions: number;
  /** SMFIP_* steps the milter does not want / will not answer. */
  protocol: number;
  /** Macros wanted per stage (SMFIM_* -> names such as "i", "{mail_addr}"). */
  macros?: Partial<Record<number, string[]>>;
}

/** SMFIC_OPTNEG answer: the three words, then optional (u32 stage, "names\0") macro lists. */
export function encodeOptneg(r: OptnegReply): Buffer {
  const words = Buffer.alloc(MILTER_OPTLEN);
  words.writeUInt32BE(r.version >>> 0, 0); words.writeUInt32BE(r.actions >>> 0, 4); words.writeUInt32BE(r.protocol >>> 0, 8);
  const parts: Buffer[] = [words];
  for (const [stage, names] of Object.entries(r.macros ?? {})) {
    if (!names || names.length === 0) continue;
    if (names.some((n) => n === "" || /\s/.test(n))) throw new TypeError(`macro names must be non-empty without spaces: ${JSON.stringify(names)}`);
    const s = Buffer.alloc(4); s.writeUInt32BE(Number(stage), 0);
    parts.push(s, cstrings("macro list", names.join(" ")));
  }
  return encodePacket(SMFIC_OPTNEG, Buffer.concat(parts)); // the answer reuses the command code
}

export const encodeContinue = (): Buffer => encodePacket(SMFIR_CONTINUE);
export const encodeAccept = (): Buffer => encodePacket(SMFIR_ACCEPT);
export const encodeReject = (): Buffer => encodePacket(SMFIR_REJECT);
export const encodeTempfail = (): Buffer => encodePacket(SMFIR_TEMPFAIL);
export const encodeDiscard = (): Buffer => encodePacket(SMFIR_DISCARD);
/** Keepalive during a long scan: resets the MTA's timeout (Postfix command timeout is 30 s). */
export const encodeProgress = (): Buffer => encodePacket(SMFIR_PROGRESS);
/** Only in answer to BODY, and only when SMFIP_SKIP was negotiated. */
export const encodeSkip = (): Buffer => encodePacket(SMFIR_SKIP);

/**
 * SMFIR_REPLYCODE "rcode xcode text": one line. MTAs run the text through a printf-like
 * expansion (Postfix: "%%" -> "%", a lone "%" removed), so every "%" is doubled to arrive as-is.
 */
export function encodeReplyCode(rcode: string, xcode: string | null, text: string): Buffer {
  if (!/^[45][0-9][0-9]$/.test(rcode)) throw new RangeError(`milter reply code must be 4xx or 5xx, got ${JSON.stringify(rcode)}`);
  if (xcode !== null && !new RegExp(`^${rcode[0]}\\.[0-9]{1,3}\\.[0-9]{1,3}$`).test(xcode)) {
    throw new RangeError(`enhanced status ${JSON.stringify(xcode)} must be ${rcode[0]}.x.y to match ${rcode}`);
  }
  if (/[\r\n]/.test(text)) throw new RangeError("milter reply text must be a single line");
  const line = [rcode, xcode, text.replace(/%/g, "%%")].filter((p) => p !== null && p !== "").join(" ");
  return encodePacket(SMFIR_REPLYCODE, cstrings("replycode", line));
}

/** Header names: non-empty printable ASCII without ":" (RFC 5322 field-name). */
function checkName(name: string): void {
  if (!/^[\x21-\x39\x3b-\x7e]+$/.test(name)) throw new TypeError(`invalid header field name ${JSON.stringify(name)}`);
}
function index32(index: number): Buffer {
  if (!Number.isInteger(index) || index < 0 || index > 0xffffffff) throw new RangeError(`header index must be a u32, got ${index}`);
  const b = Buffer.alloc(4); b.writeUInt32BE(index, 0); return b;
}

/** SMFIR_ADDHEADER (needs SMFIF_ADDHDRS): append a header field at EOM. */
export function encodeAddHeader(name: string, value: string): Buffer {
  checkName(name);
  return encodePacket(SMFIR_ADDHEADER, cstrings("addheader", name, value));
}
/** SMFIR_INSHEADER (needs SMFIF_ADDHDRS): insert at position `index` (0 = first). */
export function encodeInsHeader(index: number, name: string, value: string): Buffer {
  checkName(name);
  return encodePacket(SMFIR_INSHEADER, Buffer.concat([index32(index), cstrings("insheader", name, value)]));
}
/** SMFIR_CHGHEADER (needs SMFIF_CHGHDRS): change the index-th (1-based) field `name`; "" deletes it. */
export function encodeChgHeader(index: number, name: string, value: string): Buffer {
  checkName(name);
  return encodePacket(SMFIR_CHGHEADER, Buffer.concat([index32(index), cstrings("chgheader", name, value)]));
}
/** SMFIR_QUARANTINE (needs SMFIF_QUARANTINE): not final, follow it with accept/continue. */
export function encodeQuarantine(reason: string): Buffer {
  return encodePacket(SMFIR_QUARANTINE, cstrings("quarantine", reason));
}
/**
 * SMFIR_REPLBODY (needs SMFIF_CHGBODY): the new body (CRLF line ends) as packets of at most
 * MILTER_CHUNK_SIZE data bytes, the size MTAs are built to take. Send them back to back: Postfix
 * rejects REPLBODY packets interleaved with other replies. An empty body is one empty packet.
 */
export function encodeReplBody(body: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < body.length || out.length === 0; at += MILTER_CHUNK_SIZE) {
    out.push(encodePacket(SMFIR_REPLBODY, body.subarray(at, at + MILTER_CHUNK_SIZE)));
  }
  return out;
}

/** A reply as the MTA sees it. */
export type MilterReply =
  | { kind: "optneg"; version: number; actions: number; protocol: number; macros: Record<number, string[]> }
  | { kind: "continue" | "accept" | "reject" | "tempfail" | "discard" | "progress" | "skip" }
  | { kind: "replycode"; text: string }
  | { kind: "addheader"; name: string; value: string }
  | { kind: "insheader" | "chgheader"; index: number; name: string; value: string }
  | { kind: "quarantine"; reason: string }
  | { kind: "replbody"; chunk: Buffer };

const SIMPLE: Record<string, MilterReply["kind"]> = {
  [SMFIR_CONTINUE]: "continue", [SMFIR_ACCEPT]: "accept", [SMFIR_REJECT]: "reject", [SMFIR_TEMPFAIL]: "tempfail",
  [SMFIR_DISCARD]: "discard", [SMFIR_PROGRESS]: "progress", [SMFIR_SKIP]: "skip",
};

function nulStrings(data: Buffer): string[] | null {
  if (data.length === 0 || data[data.length - 1] !== 0) return null;
  return data.subarray(0, data.length - 1).toString("latin1").split("\0");
}

/** Parse a reply packet (the MTA side of the codec). Never throws. */
export function parseReply(p: MilterPacket): { ok: true; reply: MilterReply } | { ok: false; error: MilterProtocolError } {
  const bad = (m: string) => ({ ok: false as const, error: new MilterProtocolError("malformed", `${JSON.stringify(p.code)}: ${m}`, false, p.code) });
  const simple = SIMPLE[p.code];
  if (simple) return p.data.length === 0 ? { ok: true, reply: { kind: simple } as MilterReply } : bad("expected no data");
  switch (p.code) {
    case SMFIC_OPTNEG: {
      if (p.data.length < MILTER_OPTLEN) return bad("OPTNEG reply too short");
      const macros: Record<number, string[]> = {};
      let at = MILTER_OPTLEN;
      while (at < p.data.length) {
        if (at + 4 > p.data.length) return bad("macro stage truncated");
        const nul = p.data.indexOf(0, at + 4);
        if (nul < 0) return bad("macro list not NUL-terminated");
        macros[p.data.readUInt32BE(at)] = p.data.toString("latin1", at + 4, nul).split(" ").filter(Boolean);
        at = nul + 1;
      }
      return { ok: true, reply: { kind: "optneg", version: p.data.readUInt32BE(0), actions: p.data.readUInt32BE(4), protocol: p.data.readUInt32BE(8), macros } };
    }
    case SMFIR_REPLYCODE: {
      const s = nulStrings(p.data);
      return s && s.length === 1 ? { ok: true, reply: { kind: "replycode", text: s[0] } } : bad("expected one NUL-terminated string");
    }
    case SMFIR_QUARANTINE: {
      const s = nulStrings(p.data);
      return s && s.length === 1 ? { ok: true, reply: { kind: "quarantine", reason: s[0] } } : bad("expected one NUL-terminated string");
    }
    case SMFIR_ADDHEADER: {
      const s = nulStrings(p.data);
      return s && s.length === 2 ? { ok: true, reply: { kind: "addheader", name: s[0], value: s[1] } } : bad("expected name and value");
    }
    case SMFIR_INSHEADER: case SMFIR_CHGHEADER: {
      const s = p.data.length >= 4 ? nulStrings(p.data.subarray(4)) : null;
      if (!s || s.length !== 2) return bad("expected index, name and value");
      return { ok: true, reply: { kind: p.code === SMFIR_INSHEADER ? "insheader" : "chgheader", index: p.data.readUInt32BE(0), name: s[0], value: s[1] } };
    }
    case SMFIR_REPLBODY: return { ok: true, reply: { kind: "replbody", chunk: p.data } };
    default: return { ok: false, error: new MilterProtocolError("unknown-command", `unknown milter reply ${JSON.stringify(p.code)}`, false, p.code) };
  }
}
