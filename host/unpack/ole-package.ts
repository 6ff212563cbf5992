/**
 * The OLE "Package" object (packager.exe) that wraps an arbitrary file dropped into an
 * Office document: found in OLE2 `\x01Ole10Native` streams and in OLE1 objects inside
 * RTF `\objdata`. Shared by ole2.ts and rtf.ts.
 *
 * Layout (all little-endian, no alignment):
 *   u16 type (2) | label\0 | source path\0 | u32 flags (0x00030000 = embedded file)
 *   | u32 n | temp path (n bytes, \0-terminated) | u32 size | size bytes of the file
 * Ole10Native streams prefix this with a u32 total size.
 */

export interface PackagedFile {
  name: string;
  data: Uint8Array;
}

/** Longest label / path we scan for its NUL: Windows paths stop at 260 characters
 *  (MAX_PATH); a little slack for producers that append junk. */
const MAX_PATH_SCAN = 1024;

/**
 * Parses package native data starting at `off`. Returns null when it is not in package
 * layout (other classes store their own native format). A size past the end of the
 * buffer yields the bytes that are there (a truncated object is still worth scanning).
 */
export function parsePackage(d: Uint8Array, off = 0): PackagedFile | null {
  let p = off + 2;
  const label = cString(d, p);
  if (!label) return null;
  p = label.next;
  const source = cString(d, p);
  if (!source) return null;
  p = source.next;
  if (p + 8 > d.length) return null;
  const flags = u32(d, p);
  if (flags >>> 16 !== 3) return null; // 1 = link to a file, not an embedded copy
  const tempLen = u32(d, p + 4);
  p += 8;
  if (tempLen > MAX_PATH_SCAN || p + tempLen + 4 > d.length) return null;
  const temp = latin1(d.subarray(p, p + tempLen)).replace(/\0.*$/s, "");
  p += tempLen;
  const size = u32(d, p);
  p += 4;
  const data = d.subarray(p, Math.min(d.length, p + size));
  const name = baseName(source.text) || baseName(temp) || label.text || "package";
  return { name, data };
}

/** Ole10Native stream: u32 total size, then package data (or, for non-Package classes,
 *  the class's raw native bytes, returned under the name "native"). */
export function parseOle10Native(d: Uint8Array): PackagedFile | null {
  if (d.length < 4) return null;
  const total = u32(d, 0);
  const body = d.subarray(4, Math.min(d.length, 4 + total));
  return parsePackage(body) ?? (body.length > 0 ? { name: "native", data: body } : null);
}

function cString(d: Uint8Array, p: number): { text: string; next: number } | null {
  const end = Math.min(d.length, p + MAX_PATH_SCAN);
  for (let i = p; i < end; i++) {
    if (d[i] === 0) return { text: latin1(d.subarray(p, i)), next: i + 1 };
  }
  return null;
}

function baseName(path: string): string {
  return path.split(/[\\/]/).pop() ?? "";
}

function latin1(b: Uint8Array): string {
  let s = "";
  for (const c of b) s += String.fromCharCode(c);
  return s;
}

function u32(d: Uint8Array, off: number): number {
  return (d[off] | (d[off + 1] << 8) | (d[off + 2] << 16) | (d[off + 3] << 24)) >>> 0;
}
