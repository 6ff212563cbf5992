/**
 * A small clamd client: one request per connection to a socket that speaks clamd's protocol
 * (the daemon's daemon_socket_path, host/clamd/server.ts; PING, VERSION, RELOAD ...). The
 * agents scan and judge mail through the daemon's private commands instead
 * (daemon-client.ts), which carry the agent's name and the full verdict. INSTREAM
 * sends the object in chunks and reads the one reply line; the reply is turned back into a
 * Verdict so the agents can feed host/policy. Every failure (no daemon, timeout, garbled reply,
 * `... ERROR`) is a Verdict with status "error", which the policy turns into defer.
 */
import net from "node:net";
import type { Verdict } from "../../host/scan/verdict.js";

/** Bytes per INSTREAM chunk. clamd reads chunks of any size up to StreamMaxLength; 64 KiB keeps
 *  each write small enough not to hold much memory in the socket buffers. */
export const INSTREAM_CHUNK = 64 * 1024;
/** Longest reply we read. A clamd reply is one short line; more is garbage or an attack. */
export const MAX_REPLY_BYTES = 64 * 1024;
/** Default time for a whole request. Below Postfix's 100 s pipe/filter timeout (the daemon's
 *  own max_scan_time default is 60 s), so the MTA hears our defer rather than timing us out. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 90_000;

/** Names the daemon uses for "could not be scanned" (limits, encryption, zip tricks); every
 *  other FOUND name is a detection. */
const NOT_SCANNED_PREFIXES = ["Heuristics.Limits.Exceeded.", "Heuristics.Encrypted.", "Heuristics.Zip.OverlappingFiles"];

export function isNotScannedName(name: string): boolean {
  return NOT_SCANNED_PREFIXES.some((p) => name.startsWith(p));
}

const base = (): Omit<Verdict, "status"> => ({ infected: false, names: [], detections: [], notScanned: [], objects: 1, bytesScanned: 0 });

export function errorVerdict(message: string): Verdict {
  return { ...base(), status: "error", objects: 0, error: message };
}

/** A `stream: ...` reply line (no terminator) as a Verdict. */
export function verdictFromReply(line: string): Verdict {
  const m = /^stream: (.*)$/.exec(line);
  if (!m) return errorVerdict(`unexpected daemon reply: ${JSON.stringify(line.slice(0, 200))}`);
  const rest = m[1];
  if (rest === "OK") return { ...base(), status: "clean" };
  const found = /^(.+) FOUND$/.exec(rest);
  if (found) {
    const name = found[1];
    if (isNotScannedName(name)) return { ...base(), status: "not_scanned", notScanned: [{ name, path: "", reason: name }] };
    return { ...base(), status: "infected", infected: true, names: [name], detections: [{ name, path: "", kind: "signature" }] };
  }
  if (rest.endsWith(" ERROR")) return errorVerdict(`daemon: ${rest.slice(0, -" ERROR".length)}`);
  return errorVerdict(`unexpected daemon reply: ${JSON.stringify(line.slice(0, 200))}`);
}

/** One clamd request on a fresh connection: `z<command>\0`, then `body` (for INSTREAM, raw
 *  bytes that this function frames), then the reply up to its NUL. Rejects on any failure. */
export function clamdRequest(socketPath: string, command: string, body?: Uint8Array, timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.createConnection({ path: socketPath });
    const parts: Buffer[] = [];
    let got = 0;
    let settled = false;
    const finish = (err: Error | null, line?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(line!);
    };
    const timer = setTimeout(() => finish(new Error(`no answer from the daemon within ${timeoutMs} ms`)), timeoutMs);
    sock.on("error", (e) => finish(new Error(`cannot talk to the daemon at ${socketPath}: ${e.message}`)));
    sock.on("data", (d: Buffer) => {
      parts.push(d);
      got += d.length;
      const all = Buffer.concat(parts);
      const nul = all.indexOf(0);
      if (nul >= 0) finish(null, all.subarray(0, nul).toString("utf8"));
      else if (got > MAX_REPLY_BYTES) finish(new Error("daemon reply too long"));
    });
    sock.on("end", () => finish(new Error("the daemon closed the connection without an answer")));
    sock.on("connect", () => {
      sock.write(`z${command}\0`);
      if (body) {
        for (let off = 0; off < body.length; off += INSTREAM_CHUNK) {
          const chunk = body.subarray(off, Math.min(off + INSTREAM_CHUNK, body.length));
          const len = Buffer.alloc(4);
          len.writeUInt32BE(chunk.length);
          sock.write(len);
          sock.write(chunk);
        }
        sock.write(Buffer.alloc(4)); // zero-length chunk ends the stream
      }
    });
  });
}

/** Scan `data` through the daemon. Never rejects: failures are an "error" verdict. */
export async function scanViaDaemon(socketPath: string, data: Uint8Array, timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS): Promise<Verdict> {
  try {
    return verdictFromReply(await clamdRequest(socketPath, "INSTREAM", data, timeoutMs));
  } catch (e) {
    return errorVerdict((e as Error).message);
  }
}
