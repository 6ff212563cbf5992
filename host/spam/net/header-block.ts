/**
 * The header block of a raw mail as a latin1 string (byte-exact), found without decoding the body:
 * what received.ts and auth.ts read. Pure code.
 */

/** The bytes up to and including the blank line that ends the header, at most `maxBytes` (a
 *  header without an end within them is returned cut there). */
export function headerBlock(raw: Buffer, maxBytes: number): string {
  const scan = raw.subarray(0, maxBytes);
  const crlf = scan.indexOf("\r\n\r\n");
  const lf = scan.indexOf("\n\n");
  let end = scan.length;
  if (crlf >= 0 && (lf < 0 || crlf < lf)) end = crlf + 4;
  else if (lf >= 0) end = lf + 2;
  return scan.subarray(0, end).toString("latin1");
}
