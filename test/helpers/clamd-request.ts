/**
 * Test helper: one clamd request on a fresh connection (`z<command>\0`, an optional INSTREAM
 * body framed here, the reply up to its NUL). The product's agents talk to the daemon with the
 * private commands (agents/common/daemon-client.ts); tests use this to speak plain clamd.
 */
import net from "node:net";

const INSTREAM_CHUNK = 64 * 1024;
/** A clamd reply is one short line; more is garbage. */
const MAX_REPLY_BYTES = 64 * 1024;
const DEFAULT_REQUEST_TIMEOUT_MS = 90_000;

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
