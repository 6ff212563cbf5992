/**
 * Line-end normalisation for mail the SMTP agent relays (pure code). smtp-server ends DATA only
 * on <CRLF>.<CRLF> but passes bare CR and bare LF through unchanged. So every bare CR and bare
 * LF is made a CRLF here, before the mail is scanned and relayed: the next hop then receives
 * only CRLF line ends (next-hop.ts dot-stuffs after each CRLF), and a "." alone after a bare
 * line end is body text, never a second end-of-data (SMTP smuggling, CVE-2023-51764).
 */
const CR = 0x0d;
const LF = 0x0a;

/** A copy of `data` where CRLF stays, and a bare CR or bare LF becomes CRLF. */
export function normaliseLineEnds(data: Uint8Array): Buffer {
  let bare = 0;
  for (let i = 0; i < data.length; i++) {
    if (data[i] === CR && data[i + 1] !== LF) bare++;
    else if (data[i] === LF && (i === 0 || data[i - 1] !== CR)) bare++;
  }
  if (bare === 0) return Buffer.from(data.buffer, data.byteOffset, data.length);
  const out = Buffer.alloc(data.length + bare);
  let o = 0;
  for (let i = 0; i < data.length; i++) {
    const b = data[i];
    if (b === CR) {
      out[o++] = CR;
      out[o++] = LF;
      if (data[i + 1] === LF) i++;
    } else if (b === LF) {
      out[o++] = CR;
      out[o++] = LF;
    } else out[o++] = b;
  }
  return out.subarray(0, o);
}
