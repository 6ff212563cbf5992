/** Small I/O helpers shared by the agent programs. */
import type { Readable, Writable } from "node:stream";

export class TooLarge extends Error {}

/** Read a whole stream, failing with TooLarge past `max` bytes (the limit is the configured
 *  max_file_size: a larger mail would not be scanned anyway, and holding it costs memory). */
export async function readBounded(input: Readable, max: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of input) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    n += b.length;
    if (n > max) throw new TooLarge(`input is larger than max_file_size (${max} bytes)`);
    parts.push(b);
  }
  return Buffer.concat(parts, n);
}

/**
 * Read `input` until it ends or more than `max` bytes have come, whichever is first. In the
 * second case reading stops (the stream is paused with the rest unread, for the caller to pass
 * on or leave) and `more` is true; at most one read beyond `max` (a pipe buffer, 64 KiB) is
 * held, never the whole input.
 */
export function readUpTo(input: Readable, max: number): Promise<{ data: Buffer; more: boolean }> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let n = 0;
    const done = (err: Error | null, more = false) => {
      input.off("data", onData);
      input.off("end", onEnd);
      input.off("error", onError);
      input.pause();
      if (err) reject(err);
      else resolve({ data: Buffer.concat(parts, n), more });
    };
    const onData = (chunk: Buffer | string) => {
      const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
      parts.push(b);
      n += b.length;
      if (n > max) done(null, true);
    };
    const onEnd = () => done(null);
    const onError = (e: Error) => done(e);
    input.on("data", onData);
    input.on("end", onEnd);
    input.on("error", onError);
  });
}

/** Copy what is left of `input` to `out`, waiting for each write (memory stays one chunk). */
export async function copyRest(input: Readable, out: Writable): Promise<void> {
  for await (const chunk of input) await writeAll(out, chunk as Buffer);
}

/** Write and wait until the data is handed to the OS (or the write failed). */
export function writeAll(out: Writable, data: Uint8Array | string): Promise<void> {
  return new Promise((resolve, reject) => {
    out.write(data, (err) => (err ? reject(err) : resolve()));
  });
}
