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

/** Write and wait until the data is handed to the OS (or the write failed). */
export function writeAll(out: Writable, data: Uint8Array | string): Promise<void> {
  return new Promise((resolve, reject) => {
    out.write(data, (err) => (err ? reject(err) : resolve()));
  });
}
