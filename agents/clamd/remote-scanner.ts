/**
 * A Scanner (host/api.ts) that scans nothing itself: each object is streamed to the manager on
 * daemon_socket_path with the private zBWSCAN command (host/service/protocol.ts) and the reply's
 * Verdict is returned. Paths are opened and read here, in the agent's process, so a clamd
 * client's SCAN reads files with the agent's permissions, not the manager's. Bytes go out as
 * they are read (a large file is never held whole in the agent).
 *
 * Never rejects: a manager that cannot be reached, goes silent, closes early or answers garbage
 * gives a Verdict with status "error" (clamd reply `... ERROR`), never "clean".
 */
import fs from "node:fs";
import net from "node:net";
import type { Scanner } from "../../host/api.js";
import type { AgentSection } from "../../host/config/schema.js";
import type { Verdict } from "../../host/scan/verdict.js";
import { FramedMessageDecoder, WRITE_FRAME_BYTES, encodeMessage } from "../../host/service/frames.js";
import { BWSCAN, MAX_RESULT_FRAME } from "../../host/service/protocol.js";

const STATUSES = new Set(["clean", "infected", "not_scanned", "error"]);

export function errorVerdict(message: string): Verdict {
  return { status: "error", infected: false, names: [], detections: [], notScanned: [], objects: 0, bytesScanned: 0, error: message };
}

/** A reply's Verdict, checked enough that the clamd reply built from it cannot lie: a known
 *  status, and name lists of strings. */
function checkVerdict(v: unknown): Verdict {
  const o = v as Partial<Verdict> | null;
  const strings = (a: unknown) => Array.isArray(a) && a.every((x) => typeof x === "string");
  const entries = (a: unknown) => Array.isArray(a) && a.every((x) => typeof x === "object" && x !== null && typeof (x as { name?: unknown }).name === "string");
  if (typeof o !== "object" || o === null || !STATUSES.has(String(o.status)) || !strings(o.names) || !entries(o.notScanned) || !entries(o.detections)) {
    return errorVerdict("the daemon sent a malformed verdict");
  }
  if (o.status === "infected" && o.names!.length === 0) return errorVerdict("the daemon sent an infected verdict without a name");
  return o as Verdict;
}

export class RemoteScanner implements Scanner {
  readonly signatureCount = 0;
  readonly loadErrors = [];
  readonly loadMs = 0;

  constructor(
    private readonly socketPath: string,
    private readonly agent: AgentSection,
    /** longest silence of the manager (no reply, no progress) before the request fails */
    private readonly idleTimeoutMs: number,
  ) {}

  async scan(input: Uint8Array | NodeJS.ReadableStream | string): Promise<Verdict> {
    if (typeof input !== "string") return this.send(input instanceof Uint8Array ? [input] : (input as AsyncIterable<Uint8Array>));
    let file: fs.ReadStream;
    try {
      file = await openForReading(input);
    } catch (e) {
      return errorVerdict((e as Error).message);
    }
    return this.send(file);
  }

  async close(): Promise<void> {}

  private send(source: AsyncIterable<Uint8Array> | Uint8Array[]): Promise<Verdict> {
    return new Promise<Verdict>((resolve) => {
      const sock = net.createConnection({ path: this.socketPath });
      const dec = new FramedMessageDecoder({ maxHead: MAX_RESULT_FRAME, maxBody: 0, hasBody: () => false });
      let settled = false;
      const finish = (v: Verdict) => {
        if (settled) return;
        settled = true;
        sock.destroy();
        (source as { destroy?: () => void }).destroy?.();
        resolve(v);
      };
      sock.setTimeout(this.idleTimeoutMs);
      sock.on("timeout", () => finish(errorVerdict(`no answer from the Bulwark daemon within ${this.idleTimeoutMs} ms`)));
      sock.on("error", (e) => finish(errorVerdict(`cannot talk to the Bulwark daemon at ${this.socketPath}: ${e.message}`)));
      sock.on("end", () => finish(errorVerdict("the Bulwark daemon closed the connection without a verdict")));
      sock.on("data", (d: Buffer) => {
        dec.push(d);
        if (dec.error !== undefined) finish(errorVerdict(`bad reply from the Bulwark daemon: ${dec.error}`));
        else if (dec.complete) finish(checkVerdict(dec.head));
      });
      sock.on("connect", () => {
        void this.stream(sock, source).catch((e: Error) => finish(errorVerdict(`cannot send the object: ${e.message}`)));
      });
    });
  }

  /** Write the command, the request frame, the object as frames and the zero frame, waiting for
   *  the socket to drain so that a fast reader never fills the agent's memory. */
  private async stream(sock: net.Socket, source: AsyncIterable<Uint8Array> | Uint8Array[]): Promise<void> {
    const write = async (parts: Buffer[]) => {
      let ok = true;
      for (const p of parts) ok = sock.write(p) && ok;
      if (!ok && !sock.destroyed) await drained(sock);
    };
    await write([Buffer.from(`z${BWSCAN}\0`, "latin1"), ...encodeMessage({ agent: this.agent })]);
    const header = Buffer.alloc(4);
    for await (const chunk of source) {
      if (sock.destroyed) return;
      const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      for (let off = 0; off < buf.length; off += WRITE_FRAME_BYTES) {
        const piece = buf.subarray(off, Math.min(off + WRITE_FRAME_BYTES, buf.length));
        const h = Buffer.from(header);
        h.writeUInt32BE(piece.length);
        await write([h, piece]);
      }
    }
    if (!sock.destroyed) await write([Buffer.alloc(4)]);
  }
}

/** Resolves when the socket's buffer drained or the socket closed. */
function drained(sock: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      sock.off("drain", done);
      sock.off("close", done);
      resolve();
    };
    sock.on("drain", done);
    sock.on("close", done);
  });
}

/** Open a file for streaming; rejects with the reason (e.g. "No such file or directory") when
 *  it cannot be opened. */
function openForReading(file: string): Promise<fs.ReadStream> {
  return new Promise((resolve, reject) => {
    const s = fs.createReadStream(file, { highWaterMark: WRITE_FRAME_BYTES });
    s.once("open", () => resolve(s));
    s.once("error", (e: NodeJS.ErrnoException) => {
      const text =
        e.code === "ENOENT" ? "No such file or directory"
        : e.code === "EACCES" || e.code === "EPERM" ? "Permission denied"
        : e.code === "EISDIR" ? "Is a directory"
        : e.message;
      reject(new Error(text));
    });
  });
}
