/**
 * The daemon side of one private-command connection: read the request (metadata and stream,
 * bounded, frames.ts), then write one reply and close. The socket arrives from the clamd server
 * (host/clamd/server.ts `extensions`) paused, with the bytes read after the command.
 */
import type { Socket } from "node:net";
import { type ByteBudget, processStreamBudget } from "../clamd/byte-budget.js";
import { FramedMessageDecoder } from "./frames.js";
import { MAX_METADATA_FRAME } from "./protocol.js";

/** Longest silence while a request is being received; clamd's IdleTimeout (30 s), the same as
 *  the clamd server's own connections. */
export const REQUEST_IDLE_TIMEOUT_MS = 30_000;
/** Longest a whole request may take to arrive, however steadily it trickles in (slowloris) or
 *  goes on past max_file_size without its zero frame (drained, never stored). The agents give a
 *  whole request, scan included, 90 s (agents/common/daemon-client.ts DEFAULT_REQUEST_TIMEOUT_MS);
 *  past that no agent is waiting for the answer any more. */
export const REQUEST_TOTAL_TIMEOUT_MS = 90_000;
/** After the reply is written, how long a peer that does not close may keep the socket. */
const CLOSE_GRACE_MS = 2_000;

export interface Request {
  head: unknown;
  /** the stream as stored: at most maxBody bytes */
  body: Buffer;
  /** stream bytes received (stored or drained) */
  received: number;
  /** the stream was longer than maxBody */
  overflow: boolean;
  /** Give the body's stream-budget charge back: call once its scan is over (idempotent). */
  release: () => void;
}

/** Read one request. Rejects on a protocol error, a reset, an early end, the idle timeout or a
 *  stream the budget had no room for (drained to its end first); the message says which.
 *  Reading stops once the request is complete. The body is charged to `budget` until the
 *  Request's release() (a rejected request holds nothing). */
export function receiveRequest(sock: Socket, rest: Buffer, maxBody: number, totalMs = REQUEST_TOTAL_TIMEOUT_MS, budget: ByteBudget = processStreamBudget): Promise<Request> {
  return new Promise((resolve, reject) => {
    const dec = new FramedMessageDecoder({ maxHead: MAX_METADATA_FRAME, maxBody, hasBody: () => true, budget });
    let settled = false;
    const settle = (err: Error | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      sock.off("data", onData);
      sock.off("end", onEnd);
      sock.off("timeout", onTimeout);
      sock.setTimeout(0);
      sock.pause();
      if (err) {
        dec.release();
        reject(err);
      } else resolve({ head: dec.head, body: dec.body(), received: dec.received, overflow: dec.overflow, release: () => dec.release() });
    };
    const onData = (d: Buffer) => {
      dec.push(d);
      if (dec.error !== undefined) settle(new Error(`bad request: ${dec.error}`));
      else if (dec.complete) settle(dec.refused === undefined ? null : new Error(`stream not stored: ${dec.refused}`));
    };
    const onEnd = () => settle(new Error("the client closed the connection before the end of its request"));
    const onTimeout = () => settle(new Error(`no data from the client for ${REQUEST_IDLE_TIMEOUT_MS} ms`));
    const deadline = setTimeout(() => settle(new Error(`the request did not arrive whole within ${totalMs} ms`)), totalMs).unref();
    sock.on("error", (e) => settle(new Error(`connection error: ${e.message}`)));
    sock.setTimeout(REQUEST_IDLE_TIMEOUT_MS);
    sock.on("end", onEnd);
    sock.on("timeout", onTimeout);
    sock.on("data", onData);
    if (rest.length) onData(rest);
    if (!settled) sock.resume();
  });
}

/** Write the reply buffers, then close our side (and destroy the socket if the peer lingers). */
export function sendReply(sock: Socket, parts: Buffer[]): void {
  if (sock.destroyed || !sock.writable) return;
  // A peer that stops reading mid-reply is cut off after the idle time (each write that
  // completes restarts it); the grace below only starts once the whole reply has left, so a
  // slow reader of a large rewritten mail is not cut off while it is still reading.
  sock.setTimeout(REQUEST_IDLE_TIMEOUT_MS, () => sock.destroy());
  sock.cork(); // the frame headers and bodies leave in one writev, not one syscall each
  for (const p of parts) sock.write(p);
  sock.uncork();
  sock.end();
  sock.once("finish", () => setTimeout(() => sock.destroy(), CLOSE_GRACE_MS).unref());
}
