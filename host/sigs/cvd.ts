/**
 * ClamAV signature containers .cvd / .cld / .cud (ClamAV libclamav/cvd.c):
 * a 512-byte header `ClamAV-VDB:time:version:sigs:flevel:md5:dsig:builder:stime` padded with
 * spaces, then a ustar archive of database files, gzip-compressed for .cvd/.cud and usually
 * plain for .cld (we accept either, by the gzip magic).
 *
 * For .cvd and .cud the MD5 of everything after byte 512 must equal the header's MD5 field,
 * otherwise the whole container is rejected (a truncated or tampered download). We do NOT
 * verify the RSA `dsig` (nor 1.5's detached .sign files): the MD5 proves integrity, not
 * origin. Signatures from .cvd/.cld are treated as official (no `.UNOFFICIAL` suffix), those
 * from an unsigned .cud as unofficial. .cld is written locally by freshclam after patching
 * and its header MD5 is that of the original .cvd, so it is not checked.
 */
import { createHash } from "node:crypto";
import { gunzipSync, gzipSync } from "node:zlib";

/** Unpacked size bound: the official main.cvd unpacks to a few hundred MB; more than this is
 *  a decompression bomb, not a signature database. */
export const MAX_CVD_UNPACKED_BYTES = 1024 * 1024 * 1024;
/** Member bound: official containers hold about 20 files. */
export const MAX_CVD_MEMBERS = 1_000;
export const CVD_HEADER_BYTES = 512;
const TAR_BLOCK = 512;

export interface CvdMember {
  name: string;
  data: Buffer;
}

export interface CvdContents {
  header: { version: number; sigs: number; flevel: number; md5: string; builder: string };
  members: CvdMember[];
}

/** Parse and verify a container; throws Error(reason) on anything wrong. */
export function unpackCvd(buf: Buffer, checkMd5: boolean): CvdContents {
  if (buf.length < CVD_HEADER_BYTES) throw new Error("file shorter than the 512-byte CVD header");
  const head = buf.subarray(0, CVD_HEADER_BYTES).toString("latin1").trimEnd();
  if (!head.startsWith("ClamAV-VDB:")) throw new Error("not a CVD: header does not start with 'ClamAV-VDB:'");
  const f = head.split(":");
  if (f.length < 8) throw new Error("CVD header has too few fields");
  const header = { version: Number(f[2]), sigs: Number(f[3]), flevel: Number(f[4]), md5: f[5].toLowerCase(), builder: f[7] };
  const body = buf.subarray(CVD_HEADER_BYTES);
  if (checkMd5) {
    const md5 = createHash("md5").update(body).digest("hex");
    if (md5 !== header.md5) throw new Error(`MD5 mismatch: header says ${header.md5 || "(none)"}, content is ${md5}`);
  }
  let tar: Buffer;
  if (body.length >= 2 && body[0] === 0x1f && body[1] === 0x8b) {
    try {
      tar = gunzipSync(body, { maxOutputLength: MAX_CVD_UNPACKED_BYTES });
    } catch (e) {
      throw new Error(`cannot decompress: ${e instanceof Error ? e.message : e}`);
    }
  } else tar = body;
  return { header, members: readTar(tar) };
}

function octal(b: Buffer, off: number, len: number): number {
  const s = b.subarray(off, off + len).toString("latin1").replace(/[\0 ]+$/, "").trim();
  if (!/^[0-7]*$/.test(s)) throw new Error(`bad tar number '${s}'`);
  return s ? parseInt(s, 8) : 0;
}

/** Regular files of a ustar archive (no directories: ClamAV forbids '/' in CVD members). */
export function readTar(tar: Buffer): CvdMember[] {
  const out: CvdMember[] = [];
  for (let off = 0; off + TAR_BLOCK <= tar.length; ) {
    const h = tar.subarray(off, off + TAR_BLOCK);
    if (h.every((x) => x === 0)) break; // end-of-archive block
    const nul = h.indexOf(0);
    const name = h.subarray(0, nul < 0 || nul > 100 ? 100 : nul).toString("latin1");
    const size = octal(h, 124, 12);
    const type = h[156];
    const dataOff = off + TAR_BLOCK;
    if (dataOff + size > tar.length) throw new Error(`tar member '${name}' runs past the end`);
    if (type === 0x30 || type === 0) {
      if (name.includes("/")) throw new Error(`'/' in member name '${name}' (not allowed in a CVD)`);
      if (out.length >= MAX_CVD_MEMBERS) throw new Error(`more than ${MAX_CVD_MEMBERS} members`);
      out.push({ name, data: tar.subarray(dataOff, dataOff + size) });
    }
    off = dataOff + Math.ceil(size / TAR_BLOCK) * TAR_BLOCK;
  }
  return out;
}

/** Build a container (used by tests and by anyone publishing a private database). */
export function buildCvd(members: CvdMember[], opts: { gzip: boolean; md5?: string; version?: number }): Buffer {
  const blocks: Buffer[] = [];
  for (const m of members) {
    const h = Buffer.alloc(TAR_BLOCK);
    h.write(m.name, 0, 100, "latin1");
    h.write("0000644\0", 100, "latin1");
    h.write("0000000\0", 108, "latin1");
    h.write("0000000\0", 116, "latin1");
    h.write(m.data.length.toString(8).padStart(11, "0") + "\0", 124, "latin1");
    h.write("00000000000\0", 136, "latin1");
    h.write("0", 156, "latin1");
    h.write("ustar\0" + "00", 257, "latin1");
    h.write("        ", 148, "latin1");
    let sum = 0;
    for (const x of h) sum += x;
    h.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, "latin1");
    blocks.push(h, m.data, Buffer.alloc((TAR_BLOCK - (m.data.length % TAR_BLOCK)) % TAR_BLOCK));
  }
  blocks.push(Buffer.alloc(2 * TAR_BLOCK));
  const tar = Buffer.concat(blocks);
  const body = opts.gzip ? gzipSync(tar) : tar;
  const md5 = opts.md5 ?? createHash("md5").update(body).digest("hex");
  const head = `ClamAV-VDB:01 Jan 2025 00-00 +0000:${opts.version ?? 1}:${members.length}:${90}:${md5}:nodsig:bulwark:1735689600`;
  return Buffer.concat([Buffer.from(head.padEnd(CVD_HEADER_BYTES, " "), "latin1"), body]);
}

