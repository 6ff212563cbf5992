/**
 * An optional Scanner capability for INSTREAM: take the stream's bytes while they arrive instead
 * of after the zero chunk. The [clamd] agent's RemoteScanner has it (it forwards each chunk to
 * the manager at once, so the agent never holds a whole mail and the manager receives while the
 * client sends); a local Scanner has not, and ClamdConnection collects the stream for it.
 */
import type { Scanner } from "../api.js";
import type { Verdict } from "../scan/verdict.js";

export interface ScanStream {
  /** Send the next bytes (the stream may keep a reference to them: pass bytes nobody reuses).
   *  false: the other side is behind; write more only after `onDrain` calls back. */
  write(bytes: Buffer): boolean;
  /** Call `cb` once when writing may go on (at once if it already may). */
  onDrain(cb: () => void): void;
  /** The stream is complete: the verdict (never rejects; a failure is an "error" verdict). */
  end(): Promise<Verdict>;
  /** The stream will not be completed (client gone, limit broken): drop it without a verdict. */
  abort(): void;
}

export interface StreamingScanner extends Scanner {
  openStream(): ScanStream;
}

export function canStream(s: Scanner): s is StreamingScanner {
  return typeof (s as Partial<StreamingScanner>).openStream === "function";
}
