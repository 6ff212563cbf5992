/**
 * File-type detection by content (magic bytes), never by name: an attachment called
 * "invoice.pdf" that starts with "MZ" is an executable. Types follow ClamAV's ftypes where
 * they overlap, and `targetTypeOf` maps them onto ClamAV signature target types (the
 * TargetType field of .ndb/.ldb signatures). Text, mail and HTML detection live elsewhere;
 * their names are accepted by targetTypeOf so the orchestrator has one mapping.
 */

export type FileType =
  | "zip" | "gzip" | "bzip2" | "tar" | "cpio" | "7z" | "arj" | "cab" | "chm" | "szdd"
  | "ole2" | "pdf" | "rtf" | "pe" | "elf" | "macho" | "png" | "gif" | "jpeg" | "tiff"
  | "swf" | "java" | "tnef" | "sis" | "binary";

/** ClamAV looks for "%PDF-" in the first 1024 bytes, not only at offset 0: PDF readers
 *  accept leading junk, so malware prepends some to dodge offset-0 checks. */
const PDF_SEARCH_BYTES = 1024;

/** A Mach-O universal binary and a Java class both start CA FE BA BE; the next 32-bit
 *  big-endian word is the architecture count (small) or the class minor/major version
 *  (major >= 45, so the word is >= 45). Real fat binaries carry a handful of slices. */
const MAX_FAT_ARCHS = 30;

function startsWith(d: Uint8Array, magic: readonly number[], at = 0): boolean {
  if (d.length < at + magic.length) return false;
  for (let i = 0; i < magic.length; i++) if (d[at + i] !== magic[i]) return false;
  return true;
}

function ascii(s: string): number[] {
  return Array.from(s, (c) => c.charCodeAt(0));
}

/** [type, magic, offset] checked in order; first match wins. */
const MAGICS: ReadonlyArray<readonly [FileType, readonly number[], number]> = [
  ["zip", ascii("PK\x03\x04"), 0],
  ["zip", ascii("PK\x05\x06"), 0], // empty archive
  ["zip", ascii("PK\x07\x08PK\x03\x04"), 0], // spanned-archive marker before the first entry
  ["gzip", [0x1f, 0x8b], 0],
  ["7z", [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c], 0],
  ["arj", [0x60, 0xea], 0],
  ["cab", ascii("MSCF\0\0\0\0"), 0],
  ["chm", ascii("ITSF"), 0],
  ["szdd", [0x53, 0x5a, 0x44, 0x44, 0x88, 0xf0, 0x27, 0x33], 0],
  ["ole2", [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1], 0],
  ["rtf", ascii("{\\rtf"), 0],
  ["elf", [0x7f, 0x45, 0x4c, 0x46], 0],
  ["macho", [0xfe, 0xed, 0xfa, 0xce], 0],
  ["macho", [0xfe, 0xed, 0xfa, 0xcf], 0],
  ["macho", [0xce, 0xfa, 0xed, 0xfe], 0],
  ["macho", [0xcf, 0xfa, 0xed, 0xfe], 0],
  ["png", [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 0],
  ["gif", ascii("GIF87a"), 0],
  ["gif", ascii("GIF89a"), 0],
  ["jpeg", [0xff, 0xd8, 0xff], 0],
  ["tiff", ascii("II*\0"), 0],
  ["tiff", ascii("MM\0*"), 0],
  ["swf", ascii("FWS"), 0],
  ["swf", ascii("CWS"), 0],
  ["swf", ascii("ZWS"), 0],
  ["tnef", [0x78, 0x9f, 0x3e, 0x22], 0],
  ["sis", [0x19, 0x04, 0x00, 0x10], 8], // EPOC SIS: UID3 0x10000419 (little-endian)
  ["sis", [0x7a, 0x1a, 0x20, 0x10], 0], // Symbian 9 SIS
  ["cpio", ascii("070701"), 0], // newc
  ["cpio", ascii("070702"), 0], // newc with CRC
  ["cpio", ascii("070707"), 0], // odc (portable ASCII)
  ["cpio", [0xc7, 0x71], 0], // old binary, little-endian 070707
  ["cpio", [0x71, 0xc7], 0], // old binary, big-endian
];

export function detectType(data: Uint8Array): FileType {
  if (isPe(data)) return "pe";
  if (startsWith(data, [0xca, 0xfe, 0xba, 0xbe])) {
    if (data.length < 8) return "binary";
    const word = ((data[4] << 24) | (data[5] << 16) | (data[6] << 8) | data[7]) >>> 0;
    return word >= 1 && word <= MAX_FAT_ARCHS ? "macho" : "java";
  }
  if (isBzip2(data)) return "bzip2";
  for (const [type, magic, at] of MAGICS) if (startsWith(data, magic, at)) return type;
  if (isTar(data)) return "tar";
  if (hasPdfHeader(data)) return "pdf";
  return "binary";
}

/** PE, ELF or Mach-O: for the "name.pdf.exe" double-extension heuristic. */
export function isExecutable(data: Uint8Array): boolean {
  const t = detectType(data);
  return t === "pe" || t === "elf" || t === "macho";
}

/** ClamAV signature target types (docs: FileTypes.md, matcher.h cli_mtargets). */
export function targetTypeOf(t: FileType | "mail" | "html" | "text"): number {
  switch (t) {
    case "pe": return 1;
    case "ole2": return 2;
    case "html": return 3;
    case "mail": return 4;
    case "png": case "gif": case "jpeg": case "tiff": return 5;
    case "elf": return 6;
    case "text": return 7;
    case "macho": return 9;
    case "pdf": return 10;
    case "swf": return 11;
    case "java": return 12;
    default: return 0;
  }
}

/** "MZ" is ClamAV's MSEXE magic: DOS stubs and PE files alike are executables. */
function isPe(d: Uint8Array): boolean {
  return startsWith(d, [0x4d, 0x5a]);
}

/** "BZh" + block size '1'..'9' + block magic (pi) or end-of-stream magic (sqrt pi). */
function isBzip2(d: Uint8Array): boolean {
  if (!startsWith(d, ascii("BZh")) || d.length < 10 || d[3] < 0x31 || d[3] > 0x39) return false;
  return startsWith(d, [0x31, 0x41, 0x59, 0x26, 0x53, 0x59], 4) || startsWith(d, [0x17, 0x72, 0x45, 0x38, 0x50, 0x90], 4);
}

/** ustar/GNU magic at 257, or a pre-POSIX (v7) header whose checksum adds up. */
function isTar(d: Uint8Array): boolean {
  if (d.length < 512) return false;
  if (startsWith(d, ascii("ustar"), 257)) return true;
  return tarChecksumOk(d.subarray(0, 512)) && d[0] !== 0;
}

/** Header checksum: sum of the 512 bytes with the checksum field read as spaces.
 *  Exported for tar.ts. */
export function tarChecksumOk(block: Uint8Array): boolean {
  let stored = 0;
  let digits = 0;
  for (let i = 148; i < 156; i++) {
    const c = block[i];
    if (c >= 0x30 && c <= 0x37) {
      stored = stored * 8 + (c - 0x30);
      digits++;
    } else if (c !== 0x20 && c !== 0) return false;
    else if (digits > 0) break;
  }
  if (digits === 0) return false;
  // historic tar implementations summed signed chars; accept either reading
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < 512; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : block[i];
    unsigned += b;
    signed += b < 128 ? b : b - 256;
  }
  return unsigned === stored || signed === stored;
}

function hasPdfHeader(d: Uint8Array): boolean {
  const end = Math.min(d.length, PDF_SEARCH_BYTES) - 5;
  for (let i = 0; i <= end; i++) {
    if (d[i] === 0x25 && d[i + 1] === 0x50 && d[i + 2] === 0x44 && d[i + 3] === 0x46 && d[i + 4] === 0x2d) return true;
  }
  return false;
}
