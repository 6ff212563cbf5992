/**
 * The header block of a raw mail as a latin1 string (byte-exact), found without decoding the body:
 * what received.ts and auth.ts read. Pure code.
 */
import { headerBlockEnd } from "../../unpack/mime-headers.js";

/** The bytes up to and including the blank line that ends the header, at most `maxBytes` (a
 *  header without an end within them is returned cut there). */
export function headerBlock(raw: Buffer, maxBytes: number): string {
  const scan = raw.subarray(0, maxBytes);
  const end = headerBlockEnd(scan);
  return scan.subarray(0, end < 0 ? scan.length : end).toString("latin1");
}
