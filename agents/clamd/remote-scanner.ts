/**
 * A Scanner (host/api.ts) that scans nothing itself: each object is streamed to the manager on
 * daemon_socket_path with the private zBWSCAN command (host/service/protocol.ts) and the reply's
 * Verdict is returned. Paths are opened and read here, in the agent's process, so a clamd
 * client's SCAN reads files with the agent's permissions, not the manager's. Bytes go out as
 * they are read (a large file is never held whole in the agent), and an INSTREAM's chunks as
 * they arrive from the client (openStream, host/clamd/streaming.ts), with back-pressure.
 *
 * Never rejects: a manager that cannot be reached, goes silent, closes early or answers garbage
 * gives a Verdict with status "error" (clamd reply `... ERROR`), never "clean".
 */
import fs from "node:fs";
import net from "node:net";
import type { ScanStream, StreamingScanner } from "../../host/clamd/streaming.js";
import type { AgentSection } from "../../host/config/schema.js";
import type { Verdict } from "../../host/scan/verdict.js";
import { FramedMessageDecoder, WRITE_FRAME_BYTES, encodeMessage } from "../../host/service/frames.js";
import { BWSCAN, MAX_RESULT_FRAME } from "../../host/service/protocol.js";

/** Bytes a forwarded stream may have waiting in its socket to the manager before the client is
 *  paused. Node's default (16 KiB) is below one INSTREAM chunk (64 KiB), so every chunk would
 *  pause and resume the client socket; 256 KiB lets a few chunks flow while the manager reads,
 *  and still bounds what the agent holds per stream (plus the one read being forwarded). */
const FORWARD_HIGH_WATER_BYTES = 256 * 1024;

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

export class RemoteScanner implements StreamingScanner {
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
    let source: AsyncIterable<Uint8Array> | Uint8Array[];
    if (typeof input !== "string") source = input instanceof Uint8Array ? [input] : (input as AsyncIterable<Uint8Array>);
    else {
      try {
        source = await openForReading(input);
      } catch (e) {
        return errorVerdict((e as Error).message);
      }
    }
    const stream = this.openStream();
    try {
      for await (const chunk of source) {
        if (stream.settled) break;
        if (!stream.write(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength))) {
          await new Promise<void>((resolve) => stream.onDrain(resolve));
        }
      }
    } catch (e) {
      stream.fail(`cannot read the object: ${(e as Error).message}`);
    } finally {
      (source as { destroy?: () => void }).destroy?.();
    }
    return stream.end();
  }

  /** One zBWSCAN request whose object is written as it comes (INSTREAM chunks as they arrive). */
  openStream(): RemoteStream {
    return new RemoteStream(this.socketPath, this.agent, this.idleTimeoutMs);
  }

  async close(): Promise<void> {}
}

/**
 * One zBWSCAN request on its own connection to the manager (the private protocol answers one
 * request per connection; a connect on a unix socket costs well under 0.1 ms, see
 * bench/RESULTS.md). Writes are sent at once (command and request frame on creation, each
 * chunk as a frame, header and bytes in one writev); `write` returns false while the socket's
 * buffer is over its high-water mark, so the agent holds at most about one chunk per stream.
 * Once the verdict is known (reply, error, timeout) further writes are dropped and drain
 * callbacks released, so the sender never waits on a dead request.
 */
export class RemoteStream implements ScanStream {
  private readonly sock: net.Socket;
  private readonly verdict: Promise<Verdict>;
  private resolveVerdict!: (v: Verdict) => void;
  private drainWaiters: Array<() => void> = [];
  settled = false;

  constructor(private readonly socketPath: string, agent: AgentSection, idleTimeoutMs: number) {
    this.verdict = new Promise<Verdict>((resolve) => (this.resolveVerdict = resolve));
    // writableHighWaterMark is a Duplex option that net.Socket passes on (@types/node omits it)
    const options = { path: socketPath, writableHighWaterMark: FORWARD_HIGH_WATER_BYTES };
    const sock = (this.sock = net.createConnection(options));
    const dec = new FramedMessageDecoder({ maxHead: MAX_RESULT_FRAME, maxBody: 0, hasBody: () => false });
    sock.setTimeout(idleTimeoutMs);
    sock.on("timeout", () => this.fail(`no answer from the Bulwark daemon within ${idleTimeoutMs} ms`));
    sock.on("error", (e) => this.fail(`cannot talk to the Bulwark daemon at ${this.socketPath}: ${e.message}`));
    sock.on("end", () => this.fail("the Bulwark daemon closed the connection without a verdict"));
    sock.on("close", () => this.fail("the connection to the Bulwark daemon closed without a verdict"));
    sock.on("drain", () => this.releaseWaiters());
    sock.on("data", (d: Buffer) => {
      dec.push(d);
      if (dec.error !== undefined) this.fail(`bad reply from the Bulwark daemon: ${dec.error}`);
      else if (dec.complete) this.settle(checkVerdict(dec.head));
    });
    sock.cork();
    sock.write(Buffer.from(`z${BWSCAN}\0`, "latin1"));
    for (const part of encodeMessage({ agent })) sock.write(part);
    sock.uncork();
  }

  write(bytes: Buffer): boolean {
    if (this.settled) return true;
    let ok = true;
    for (let off = 0; off < bytes.length; off += WRITE_FRAME_BYTES) {
      const piece = bytes.subarray(off, Math.min(off + WRITE_FRAME_BYTES, bytes.length));
      const header = Buffer.allocUnsafe(4);
      header.writeUInt32BE(piece.length);
      this.sock.cork();
      this.sock.write(header);
      ok = this.sock.write(piece) && ok;
      this.sock.uncork();
    }
    return ok || this.settled;
  }

  onDrain(cb: () => void): void {
    if (this.settled || !this.sock.writableNeedDrain) cb();
    else this.drainWaiters.push(cb);
  }

  end(): Promise<Verdict> {
    if (!this.settled) this.sock.write(Buffer.alloc(4));
    return this.verdict;
  }

  abort(): void {
    this.settle(errorVerdict("the stream was abandoned"));
  }

  /** End the request with an error verdict (a failure is never "clean"). */
  fail(message: string): void {
    this.settle(errorVerdict(message));
  }

  private settle(v: Verdict): void {
    if (this.settled) return;
    this.settled = true;
    this.sock.destroy();
    this.resolveVerdict(v);
    this.releaseWaiters();
  }

  private releaseWaiters(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const cb of waiters) cb();
  }
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
