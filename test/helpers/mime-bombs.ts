/**
 * Generators of hostile mail, built at test time (never committed): the MIME bombs of the
 * reliability goal R6 (100,000-deep nesting, 1,000,000 headers, 100,000 parts, 1 MB
 * boundary, 10 MB single-line header). Each ends with a small base64 attachment holding
 * `payload`, so a test can tell whether the parser still reached content past the bomb.
 */

const CRLF = "\r\n";

function base64Lines(payload: Buffer): string {
  return (payload.toString("base64").match(/.{1,76}/g) ?? []).join(CRLF);
}

function attachment(boundary: string, payload: Buffer): string {
  return (
    `--${boundary}${CRLF}Content-Type: application/octet-stream; name="payload.bin"${CRLF}` +
    `Content-Transfer-Encoding: base64${CRLF}${CRLF}${base64Lines(payload)}${CRLF}`
  );
}

/** `depth` multiparts, each the first part of the one around it; the innermost holds payload. */
export function deepMimeNesting(depth: number, payload = Buffer.from("innermost")): Buffer {
  const open: string[] = [`From: bomb@example.com${CRLF}Subject: deep${CRLF}MIME-Version: 1.0${CRLF}`];
  const close: string[] = [];
  for (let i = 0; i < depth; i++) {
    open.push(`Content-Type: multipart/mixed; boundary="b${i}"${CRLF}${CRLF}--b${i}${CRLF}`);
    close.push(`${CRLF}--b${i}--${CRLF}`);
  }
  open.push(`Content-Type: application/octet-stream${CRLF}Content-Transfer-Encoding: base64${CRLF}${CRLF}`);
  open.push(base64Lines(payload));
  return Buffer.from(open.join("") + close.reverse().join(""), "latin1");
}

/** A message with `count` header fields before Content-Type. */
export function manyHeaders(count: number, payload = Buffer.from("after headers")): Buffer {
  const head = `From: bomb@example.com${CRLF}` + `X-H: v${CRLF}`.repeat(count);
  return Buffer.from(
    `${head}Content-Type: application/octet-stream${CRLF}Content-Transfer-Encoding: base64${CRLF}${CRLF}` +
      base64Lines(payload) + CRLF,
    "latin1",
  );
}

/** One multipart with `count` small text parts, then the payload part. */
export function manyParts(count: number, payload = Buffer.from("last part")): Buffer {
  const b = "p";
  const part = `--${b}${CRLF}Content-Type: text/plain${CRLF}${CRLF}x${CRLF}`;
  return Buffer.from(
    `From: bomb@example.com${CRLF}Content-Type: multipart/mixed; boundary=${b}${CRLF}${CRLF}` +
      part.repeat(count) + attachment(b, payload) + `--${b}--${CRLF}`,
    "latin1",
  );
}

/** A multipart whose boundary is `length` bytes long. */
export function longBoundary(length: number, payload = Buffer.from("long boundary")): Buffer {
  const b = "x".repeat(length);
  return Buffer.from(
    `From: bomb@example.com${CRLF}Content-Type: multipart/mixed; boundary="${b}"${CRLF}${CRLF}` +
      attachment(b, payload) + `--${b}--${CRLF}`,
    "latin1",
  );
}

/** A Subject header `length` bytes long on one line, then an ordinary attachment. */
export function longHeaderLine(length: number, payload = Buffer.from("long header")): Buffer {
  return Buffer.from(
    `From: bomb@example.com${CRLF}Subject: ${"s".repeat(length)}${CRLF}` +
      `Content-Type: multipart/mixed; boundary=q${CRLF}${CRLF}` + attachment("q", payload) + `--q--${CRLF}`,
    "latin1",
  );
}
