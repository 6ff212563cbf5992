/**
 * Sendmail milter protocol v6: packet framing, an incremental split-safe decoder, and the typed
 * MTA commands (parse and encode). Reply encoders are in ./replies.ts, constants in ./constants.ts.
 * Talks to: nothing (pure codec; the milter agent owns the sockets). Writes: nothing.
 * On failure: never throws from `MilterDecoder.push` or `parseCommand`; a bad packet becomes a
 * typed `MilterProtocolError`. Framing errors (length 0 or over the bound) are fatal: the byte
 * stream can no longer be trusted, the decoder stops, and the agent must tempfail and close.
 *
 * Wire format: u32 big-endian length (counts the command byte, not itself), one command byte,
 * then length-1 data bytes. Strings are NUL-terminated. All strings here are byte strings
 * decoded as latin1 (one char per byte), so header values and addresses round-trip exactly
 * whatever their charset; encoders refuse characters above U+00FF instead of mangling them.
 */
import {
  MILTER_LEN_BYTES, MILTER_MAX_DATA_SIZE, MILTER_OPTLEN, SMFIA_INET, SMFIA_INET6, SMFIA_UNIX, SMFIA_UNKNOWN,
  SMFIC_ABORT, SMFIC_BODY, SMFIC_BODYEOB, SMFIC_CONNECT, SMFIC_DATA, SMFIC_EOH, SMFIC_HEADER, SMFIC_HELO,
  SMFIC_MACRO, SMFIC_MAIL, SMFIC_OPTNEG, SMFIC_QUIT, SMFIC_QUIT_NC, SMFIC_RCPT, SMFIC_UNKNOWN,
} from "./constants.js";

/** One framed packet: its one-character code and its data bytes. */
export interface MilterPacket { code: string; data: Buffer }

export type MilterFamily = "unknown" | "unix" | "inet" | "inet6";

/** Every command an MTA sends, parsed. Strings are latin1 byte strings (see file comment). */
export type MilterCommand =
  | { kind: "optneg"; version: number; actions: number; protocol: number }
  | { kind: "macro"; forCommand: string; macros: Array<[name: string, value: string]> }
  | { kind: "connect"; hostname: string; family: "unknown" }
  | { kind: "connect"; hostname: string; family: "unix" | "inet" | "inet6"; port: number; address: string }
  | { kind: "helo"; name: string }
  | { kind: "mail"; sender: string; args: string[] }
  | { kind: "rcpt"; recipient: string; args: string[] }
  | { kind: "data" }
  | { kind: "header"; name: string; value: string }
  | { kind: "eoh" }
  | { kind: "body"; chunk: Buffer }
  | { kind: "bodyeob"; chunk: Buffer }
  | { kind: "abort" }
  | { kind: "quit" }
  | { kind: "quit_nc" }
  | { kind: "unknown"; line: string };

export type MilterErrorCode =
  | "empty-packet"      // length field 0: not even a command byte
  | "packet-too-large"  // length field over the negotiated bound
  | "unknown-command"   // a code this protocol version does not define for the MTA side
  | "malformed";        // right frame, wrong payload (short, unterminated string, extra bytes)

/** A typed protocol error. `fatal` means the stream is out of sync and must be closed. */
export class MilterProtocolError extends Error {
  constructor(readonly code: MilterErrorCode, message: string, readonly fatal: boolean, readonly command?: string) {
    super(message);
    this.name = "MilterProtocolError";
  }
}

export type DecodeResult = { ok: true; command: MilterCommand } | { ok: false; error: MilterProtocolError };

const FAMILIES: Record<string, MilterFamily> = {
  [SMFIA_UNKNOWN]: "unknown", [SMFIA_UNIX]: "unix", [SMFIA_INET]: "inet", [SMFIA_INET6]: "inet6",
};
const FAMILY_CODES: Record<MilterFamily, string> = { unknown: SMFIA_UNKNOWN, unix: SMFIA_UNIX, inet: SMFIA_INET, inet6: SMFIA_INET6 };

const showCode = (code: string): string => JSON.stringify(code);

/** Frame one packet: length (code byte + data), code, data. */
export function encodePacket(code: string, data: Buffer = Buffer.alloc(0)): Buffer {
  if (code.length !== 1 || code.charCodeAt(0) > 0x7f) throw new TypeError(`milter code must be one ASCII char, got ${showCode(code)}`);
  const head = Buffer.alloc(MILTER_LEN_BYTES + 1);
  head.writeUInt32BE(data.length + 1, 0);
  head[MILTER_LEN_BYTES] = code.charCodeAt(0);
  return Buffer.concat([head, data]);
}

/** Bytes of a latin1 byte string; refuses characters that latin1 cannot hold instead of mangling them. */
export function byteString(s: string, what: string): Buffer {
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) > 0xff) throw new TypeError(`${what}: character U+${s.charCodeAt(i).toString(16)} is not a byte (pass latin1 byte strings)`);
  }
  return Buffer.from(s, "latin1");
}

/** NUL-terminated strings; a NUL inside would end the field early and shift every later field. */
export function cstrings(what: string, ...parts: string[]): Buffer {
  return Buffer.concat(parts.map((p) => {
    if (p.includes("\0")) throw new TypeError(`${what}: a NUL byte inside a field would corrupt the packet`);
    return Buffer.concat([byteString(p, what), Buffer.from([0])]);
  }));
}

/**
 * Split data into NUL-terminated strings. Returns null when the last one has no NUL (truncated).
 */
function splitCStrings(data: Buffer): string[] | null {
  const out: string[] = [];
  let at = 0;
  while (at < data.length) {
    const nul = data.indexOf(0, at);
    if (nul < 0) return null;
    out.push(data.toString("latin1", at, nul));
    at = nul + 1;
  }
  return out;
}

/** Parse one framed packet sent by an MTA. Never throws. */
export function parseCommand(packet: MilterPacket): DecodeResult {
  const { code, data } = packet;
  const bad = (message: string): DecodeResult =>
    ({ ok: false, error: new MilterProtocolError("malformed", `${showCode(code)}: ${message}`, false, code) });
  const strings = (min: number, max: number, what: string): string[] | DecodeResult => {
    const s = splitCStrings(data);
    if (s === null) return bad(`${what}: string not NUL-terminated (truncated packet)`);
    if (s.length < min || s.length > max) return bad(`${what}: expected ${min === max ? min : `${min}..${max === Infinity ? "n" : max}`} strings, got ${s.length}`);
    return s;
  };
  const empty = (command: MilterCommand): DecodeResult =>
    data.length === 0 ? { ok: true, command } : bad(`expected no data, got ${data.length} bytes`);
  switch (code) {
    case SMFIC_OPTNEG:
      // libmilter accepts (and ignores) bytes after the three words; so do we.
      if (data.length < MILTER_OPTLEN) return bad(`OPTNEG needs ${MILTER_OPTLEN} bytes, got ${data.length}`);
      return { ok: true, command: { kind: "optneg", version: data.readUInt32BE(0), actions: data.readUInt32BE(4), protocol: data.readUInt32BE(8) } };
    case SMFIC_MACRO: {
      if (data.length < 1) return bad("MACRO without the command byte it belongs to");
      const s = splitCStrings(data.subarray(1));
      if (s === null) return bad("MACRO: string not NUL-terminated (truncated packet)");
      if (s.length % 2 !== 0) return bad(`MACRO: name without value (${s.length} strings)`);
      const macros: Array<[string, string]> = [];
      for (let i = 0; i < s.length; i += 2) macros.push([s[i], s[i + 1]]);
      return { ok: true, command: { kind: "macro", forCommand: String.fromCharCode(data[0]), macros } };
    }
    case SMFIC_CONNECT: {
      const nul = data.indexOf(0);
      if (nul < 0) return bad("CONNECT: hostname not NUL-terminated (truncated packet)");
      const hostname = data.toString("latin1", 0, nul);
      if (nul + 1 >= data.length) return bad("CONNECT: no address family");
      const family = FAMILIES[String.fromCharCode(data[nul + 1])];
      if (family === undefined) return bad(`CONNECT: unknown address family ${showCode(String.fromCharCode(data[nul + 1]))}`);
      const rest = data.subarray(nul + 2);
      if (family === "unknown") {
        if (rest.length !== 0) return bad("CONNECT: data after family 'U'");
        return { ok: true, command: { kind: "connect", hostname, family } };
      }
      if (rest.length < 2) return bad("CONNECT: port truncated");
      const addr = splitCStrings(rest.subarray(2));
      if (addr === null) return bad("CONNECT: address not NUL-terminated (truncated packet)");
      if (addr.length !== 1) return bad(`CONNECT: expected one address string, got ${addr.length}`);
      return { ok: true, command: { kind: "connect", hostname, family, port: rest.readUInt16BE(0), address: addr[0] } };
    }
    case SMFIC_HELO: {
      const s = strings(1, 1, "HELO");
      return Array.isArray(s) ? { ok: true, command: { kind: "helo", name: s[0] } } : s;
    }
    case SMFIC_MAIL: {
      const s = strings(1, Infinity, "MAIL");
      return Array.isArray(s) ? { ok: true, command: { kind: "mail", sender: s[0], args: s.slice(1) } } : s;
    }
    case SMFIC_RCPT: {
      const s = strings(1, Infinity, "RCPT");
      return Array.isArray(s) ? { ok: true, command: { kind: "rcpt", recipient: s[0], args: s.slice(1) } } : s;
    }
    case SMFIC_HEADER: {
      const s = strings(2, 2, "HEADER");
      return Array.isArray(s) ? { ok: true, command: { kind: "header", name: s[0], value: s[1] } } : s;
    }
    case SMFIC_UNKNOWN: {
      const s = strings(1, 1, "UNKNOWN");
      return Array.isArray(s) ? { ok: true, command: { kind: "unknown", line: s[0] } } : s;
    }
    case SMFIC_BODY: return { ok: true, command: { kind: "body", chunk: data } };
    // Postfix sends no data with EOB; libmilter treats data here as a last body chunk.
    case SMFIC_BODYEOB: return { ok: true, command: { kind: "bodyeob", chunk: data } };
    case SMFIC_DATA: return empty({ kind: "data" });
    case SMFIC_EOH: return empty({ kind: "eoh" });
    case SMFIC_ABORT: return empty({ kind: "abort" });
    case SMFIC_QUIT: return empty({ kind: "quit" });
    case SMFIC_QUIT_NC: return empty({ kind: "quit_nc" });
    default:
      return { ok: false, error: new MilterProtocolError("unknown-command", `unknown milter command ${showCode(code)}`, false, code) };
  }
}

/** Encode an MTA command (the inverse of parseCommand; used by tests and any MTA-side code). */
export function encodeCommand(c: MilterCommand): Buffer {
  switch (c.kind) {
    case "optneg": {
      const d = Buffer.alloc(MILTER_OPTLEN);
      d.writeUInt32BE(c.version >>> 0, 0); d.writeUInt32BE(c.actions >>> 0, 4); d.writeUInt32BE(c.protocol >>> 0, 8);
      return encodePacket(SMFIC_OPTNEG, d);
    }
    case "macro":
      return encodePacket(SMFIC_MACRO, Buffer.concat([byteString(c.forCommand.slice(0, 1), "macro command"),
        cstrings("macro", ...c.macros.flat())]));
    case "connect": {
      const head = Buffer.concat([cstrings("connect hostname", c.hostname), Buffer.from(FAMILY_CODES[c.family], "latin1")]);
      if (c.family === "unknown") return encodePacket(SMFIC_CONNECT, head);
      const port = Buffer.alloc(2); port.writeUInt16BE(c.port, 0);
      return encodePacket(SMFIC_CONNECT, Buffer.concat([head, port, cstrings("connect address", c.address)]));
    }
    case "helo": return encodePacket(SMFIC_HELO, cstrings("helo", c.name));
    case "mail": return encodePacket(SMFIC_MAIL, cstrings("mail", c.sender, ...c.args));
    case "rcpt": return encodePacket(SMFIC_RCPT, cstrings("rcpt", c.recipient, ...c.args));
    case "header": return encodePacket(SMFIC_HEADER, cstrings("header", c.name, c.value));
    case "unknown": return encodePacket(SMFIC_UNKNOWN, cstrings("unknown", c.line));
    case "body": return encodePacket(SMFIC_BODY, c.chunk);
    case "bodyeob": return encodePacket(SMFIC_BODYEOB, c.chunk);
    case "data": return encodePacket(SMFIC_DATA);
    case "eoh": return encodePacket(SMFIC_EOH);
    case "abort": return encodePacket(SMFIC_ABORT);
    case "quit": return encodePacket(SMFIC_QUIT);
    case "quit_nc": return encodePacket(SMFIC_QUIT_NC);
  }
}

/**
 * Incremental frame reader: feed it whatever the socket delivers, in any split, and it returns
 * the complete packets. It holds at most one packet plus one socket read, and refuses a length
 * over `maxDataSize` before buffering any of it.
 */
export class PacketDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Data length of the packet being read, once its 4-byte length has arrived. */
  private need = -1;
  private failure: MilterProtocolError | null = null;

  /** maxDataSize: data bytes allowed per packet; raise it only after negotiating SMFIP_MDS_*. */
  constructor(public maxDataSize: number = MILTER_MAX_DATA_SIZE) {}

  /** The fatal framing error that stopped this decoder, if any. */
  get error(): MilterProtocolError | null { return this.failure; }

  /** Bytes received but not yet returned as a packet (a clean end of stream has 0). */
  get pendingBytes(): number { return this.buffered; }

  /** Packets completed by these bytes; a framing error ends the list and stops the decoder. */
  push(bytes: Buffer): Array<MilterPacket | MilterProtocolError> {
    const out: Array<MilterPacket | MilterProtocolError> = [];
    if (this.failure) return out;
    if (bytes.length > 0) { this.chunks.push(bytes); this.buffered += bytes.length; }
    for (;;) {
      if (this.need < 0) {
        if (this.buffered < MILTER_LEN_BYTES) return out;
        const length = this.take(MILTER_LEN_BYTES).readUInt32BE(0);
        if (length === 0) return this.fail(out, new MilterProtocolError("empty-packet", "milter packet of length 0 (no command byte)", true));
        if (length - 1 > this.maxDataSize) {
          return this.fail(out, new MilterProtocolError("packet-too-large",
            `milter packet of ${length - 1} data bytes exceeds the limit of ${this.maxDataSize}`, true));
        }
        this.need = length; // code byte + data
      }
      if (this.buffered < this.need) return out;
      const packet = this.take(this.need);
      this.need = -1;
      out.push({ code: String.fromCharCode(packet[0]), data: packet.subarray(1) });
    }
  }

  private fail(out: Array<MilterPacket | MilterProtocolError>, e: MilterProtocolError): Array<MilterPacket | MilterProtocolError> {
    this.failure = e;
    this.chunks = []; this.buffered = 0;
    out.push(e);
    return out;
  }

  /** Remove and return the first n buffered bytes (n <= buffered). Concatenates only when split. */
  private take(n: number): Buffer {
    let head = this.chunks[0];
    if (head.length < n) {
      head = Buffer.concat(this.chunks, this.buffered);
      this.chunks = [head];
    }
    const taken = head.subarray(0, n);
    if (head.length === n) this.chunks.shift(); else this.chunks[0] = head.subarray(n);
    this.buffered -= n;
    return taken;
  }
}

/** Frames and parses MTA commands: the decoder the milter agent reads its socket with. */
export class MilterDecoder {
  readonly packets: PacketDecoder;
  constructor(maxDataSize: number = MILTER_MAX_DATA_SIZE) { this.packets = new PacketDecoder(maxDataSize); }
  get error(): MilterProtocolError | null { return this.packets.error; }
  get pendingBytes(): number { return this.packets.pendingBytes; }
  set maxDataSize(n: number) { this.packets.maxDataSize = n; }

  /** Commands (or typed errors) completed by these bytes. Never throws. */
  push(bytes: Buffer): DecodeResult[] {
    return this.packets.push(bytes).map((p) => (p instanceof MilterProtocolError ? { ok: false, error: p } : parseCommand(p)));
  }
}
