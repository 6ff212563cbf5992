/**
 * TNEF (winmail.dat, application/ms-tnef): Outlook's wrapper for attachments.
 * Layout: signature 0x223E9F78 (LE), a 2-byte key, then attributes:
 *   level (1: message, 2: attachment) | id (u32 LE: type << 16 | tag) | length (u32 LE) |
 *   data | checksum (u16)
 * An attachment starts at attAttachRendData; its name is attAttachTitle and its bytes are
 * attAttachData. Like ClamAV's tnef.c we read those three and skip the MAPI property
 * blocks. Attachment bytes are yielded as views of the input (no copy).
 */
import { asBuffer } from "./base64.js";
import type { Child, UnpackCtx, Unpacker } from "./types.js";
import { UnpackError } from "./types.js";

const TNEF_SIGNATURE = 0x223e9f78;
const TAG_ATTACH_REND_DATA = 0x9002;
const TAG_ATTACH_TITLE = 0x8010;
const TAG_ATTACH_DATA = 0x800f;

/** level + id + length before an attribute's data, and its checksum after it */
const ATTR_HEADER = 9;
const ATTR_CHECKSUM = 2;

/** Attributes read between two time checks. */
const ATTRS_PER_TIME_CHECK = 4096;

export function looksLikeTnef(data: Uint8Array): boolean {
  return data.length >= 6 && asBuffer(data).readUInt32LE(0) === TNEF_SIGNATURE;
}

interface Attachment {
  title: string;
  data: Buffer | null;
}

export const unpackTnef: Unpacker = function* (data: Uint8Array, ctx: UnpackCtx) {
  const buf = asBuffer(data);
  if (!looksLikeTnef(buf)) throw new UnpackError("tnef", "bad signature");
  let n = 0;
  let current: Attachment | null = null;
  function* flush(): Generator<Child> {
    if (current?.data && current.data.length > 0) {
      n++;
      ctx.charge(current.data.length);
      yield { name: current.title || `attachment-${n}`, data: current.data };
    }
    current = null;
  }
  let pos = 6;
  for (let count = 1; pos + ATTR_HEADER <= buf.length; count++) {
    if (count % ATTRS_PER_TIME_CHECK === 0) ctx.checkTime();
    const tag = buf.readUInt32LE(pos + 1) & 0xffff;
    const length = buf.readUInt32LE(pos + 5);
    const start = pos + ATTR_HEADER;
    // a length past the end is truncation: keep what is there, then stop
    const end = Math.min(buf.length, start + length);
    if (tag === TAG_ATTACH_REND_DATA) {
      yield* flush();
      current = { title: "", data: null };
    } else if (tag === TAG_ATTACH_TITLE) {
      current ??= { title: "", data: null };
      current.title = cleanTitle(buf.toString("latin1", start, end));
    } else if (tag === TAG_ATTACH_DATA) {
      current ??= { title: "", data: null };
      current.data = buf.subarray(start, end);
    }
    if (start + length > buf.length) break;
    pos = start + length + ATTR_CHECKSUM;
  }
  yield* flush();
};

/** attAttachTitle is a NUL-terminated 8-bit string; keep a displayable base name. */
function cleanTitle(raw: string): string {
  const s = raw.split("\0")[0];
  const base = s.slice(Math.max(s.lastIndexOf("/"), s.lastIndexOf("\\")) + 1);
  // eslint-disable-next-line no-control-regex
  return base.replace(/[\u0000-\u001f\u007f]/g, "_").trim().slice(0, 255);
}
