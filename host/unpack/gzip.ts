/**
 * gzip unpacker (RFC 1952). Members are decoded one after another and joined into one
 * child, as gunzip does for concatenated files. We parse each member header ourselves
 * instead of calling zlib.gunzipSync: gunzip throws away all output when junk follows the
 * last member ("incorrect header check"), and a scanner must not lose the payload to a
 * trailing byte. The child is named after the first member's FNAME field, else "gunzip".
 *
 * Bounds: each member inflates under the cap left for the whole child (ctx.room() and
 * the expansion ratio against the whole file, see bounded.ts), so many small members add
 * up to the same cap as one big one.
 */
import { asBytes, inflateRawBounded, outputCap } from "./bounded.js";
import { UnpackError, type Unpacker } from "./types.js";

const FLAG_HCRC = 0x02;
const FLAG_EXTRA = 0x04;
const FLAG_NAME = 0x08;
const FLAG_COMMENT = 0x10;
/** FNAME is a zero-terminated path; longer than this is not a real name (PATH_MAX 4096),
 *  and it is only shown in the verdict path. */
const MAX_NAME_BYTES = 4096;
/** 8-byte trailer after each member's deflate data: CRC32 and ISIZE. */
const TRAILER_BYTES = 8;

interface MemberHeader {
  /** offset of the deflate data */
  dataStart: number;
  name?: string;
}

/** Parse the member header at pos; undefined if it is not a complete gzip/deflate header. */
function parseHeader(d: Uint8Array, pos: number): MemberHeader | undefined {
  if (pos + 10 > d.length || d[pos] !== 0x1f || d[pos + 1] !== 0x8b || d[pos + 2] !== 8) return undefined;
  const flags = d[pos + 3];
  let p = pos + 10;
  if (flags & FLAG_EXTRA) {
    if (p + 2 > d.length) return undefined;
    p += 2 + (d[p] | (d[p + 1] << 8));
  }
  let name: string | undefined;
  if (flags & FLAG_NAME) {
    const end = d.indexOf(0, p);
    if (end < 0) return undefined;
    name = Buffer.from(d.subarray(p, Math.min(end, p + MAX_NAME_BYTES))).toString("latin1");
    p = end + 1;
  }
  if (flags & FLAG_COMMENT) {
    const end = d.indexOf(0, p);
    if (end < 0) return undefined;
    p = end + 1;
  }
  if (flags & FLAG_HCRC) p += 2;
  return p <= d.length ? { dataStart: p, name } : undefined;
}

export const unpackGzip: Unpacker = function* (data, ctx) {
  const first = parseHeader(data, 0);
  if (!first) throw new UnpackError("gzip", "no gzip member header at offset 0");
  const parts: Uint8Array[] = [];
  let produced = 0;
  for (let header: MemberHeader | undefined = first; header; ) {
    ctx.checkTime();
    const cap = outputCap(ctx, data.length);
    cap.bytes = Math.max(0, cap.bytes - produced);
    const member = inflateRawBounded(data.subarray(header.dataStart), cap, "gzip member");
    if (member.data.length > 0) parts.push(member.data);
    produced += member.data.length;
    const next: number = header.dataStart + member.consumed + TRAILER_BYTES;
    // a member cut short, or junk after the last one, ends the file
    header = next < data.length ? parseHeader(data, next) : undefined;
    if (member.consumed === 0) break; // corrupt member: nothing more can be trusted
  }
  const out = parts.length === 1 ? parts[0] : Buffer.concat(parts, produced);
  ctx.charge(out.length);
  yield { name: first.name || "gunzip", data: asBytes(out) };
};
