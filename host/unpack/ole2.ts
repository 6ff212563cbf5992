/**
 * OLE2 / Compound File unpacker (.doc .xls .ppt .msi, embedded OLE objects).
 * Yields every stream (name = storage path) and, on top of the raw streams, the files
 * hidden inside them:
 * - `\x01Ole10Native` streams: the "Package" object wrapping a dropped-in file
 *   (Word/Excel ObjectPool) -> the file itself, named after its original file name;
 * - the "PowerPoint Document" stream: embedded OLE objects are ExOleObjStg records,
 *   usually zlib-compressed -> the embedded compound file (the orchestrator unpacks it
 *   again, which finds its Ole10Native).
 * - VBA projects: each module's decompressed source (vba.ts), named "<storage>/<module>.vba".
 * A `VBA` storage or `_VBA_PROJECT` stream raises Heuristics.OLE2.ContainsMacros.VBA;
 * a password-protected document (encrypted OOXML package, Word fEncrypted, Excel
 * FILEPASS) raises Heuristics.Encrypted.OLE2, since its content cannot be scanned.
 */
import { boundedInflate } from "./bounded-inflate.js";
import { looksLikeCfb, readCfb, type CfbFile } from "./cfb-reader.js";
import { parseOle10Native } from "./ole-package.js";
import type { Child, UnpackCtx, Unpacker } from "./types.js";
import { vbaModules } from "./vba.js";

export const MACROS_VBA = "Heuristics.OLE2.ContainsMacros.VBA";
export const ENCRYPTED_OLE2 = "Heuristics.Encrypted.OLE2";

/** [MS-PPT] record types we act on */
const RT_EX_OLE_OBJ_STG = 0x1011;
const RECORD_HEADER = 8;
/** Container nesting followed in the PowerPoint record tree. Real files nest ~6 deep
 *  (Document > Slide > Drawing > ...); the walk is linear anyway, this only stops a
 *  crafted file from making a deep stack of pending ranges. */
const MAX_PPT_DEPTH = 32;

export function looksLikeOle2(data: Uint8Array): boolean {
  return looksLikeCfb(data);
}

export const unpackOle2: Unpacker = function* (data: Uint8Array, ctx: UnpackCtx): Iterable<Child> {
  const cfb = readCfb(data, ctx);
  const macros = hasVbaProject(cfb);
  if (macros) ctx.heuristic(MACROS_VBA);
  if (isEncrypted(cfb)) ctx.heuristic(ENCRYPTED_OLE2);
  for (const stream of cfb.streams) {
    const name = displayPath(stream.path);
    yield { name, data: stream.data };
    const leaf = stream.path[stream.path.length - 1];
    if (leaf === "\x01Ole10Native") {
      const pkg = parseOle10Native(stream.data);
      if (pkg) {
        ctx.charge(pkg.data.length);
        yield { name: `${name}/${pkg.name}`, data: pkg.data };
      }
    } else if (leaf === "PowerPoint Document") {
      let n = 0;
      for (const obj of pptEmbeddedObjects(stream.data, ctx)) yield { name: `${name}/ExOleObjStg-${n++}`, data: obj };
    }
  }
  if (macros) {
    for (const m of vbaModules(cfb, ctx)) yield { name: `${displayPath(m.path)}.vba`, data: m.source };
  }
};

/** A VBA project is a `VBA` storage (Word: Macros/VBA, Excel: _VBA_PROJECT_CUR/VBA,
 *  vbaProject.bin: VBA) holding a `_VBA_PROJECT` stream; either alone is enough. */
export function hasVbaProject(cfb: CfbFile): boolean {
  const isVba = (n: string) => n.toLowerCase() === "vba";
  if (cfb.storages.some((p) => isVba(p[p.length - 1]))) return true;
  return cfb.streams.some((s) => s.path[s.path.length - 1].toLowerCase() === "_vba_project");
}

/** Records of a BIFF8 Workbook stream looked at for FILEPASS: it follows BOF and a few
 *  header records; Excel writes it within the first handful. */
const FILEPASS_SEARCH_RECORDS = 32;

/** Password-protected Office documents: OOXML in an encrypted CFB package ([MS-OFFCRYPTO]
 *  EncryptionInfo + EncryptedPackage), Word's FIB fEncrypted bit, Excel's FILEPASS. */
export function isEncrypted(cfb: CfbFile): boolean {
  const top = new Map(cfb.streams.filter((s) => s.path.length === 1).map((s) => [s.path[0], s.data]));
  if (top.has("EncryptedPackage") && top.has("EncryptionInfo")) return true;
  const word = top.get("WordDocument");
  // FibBase: wIdent 0xA5EC at 0, flags at 0x0A with fEncrypted = bit 8
  if (word && word.length >= 12 && word[0] === 0xec && word[1] === 0xa5 && word[11] & 0x01) return true;
  const book = top.get("Workbook") ?? top.get("Book");
  if (book) {
    for (let off = 0, n = 0; off + 4 <= book.length && n < FILEPASS_SEARCH_RECORDS; n++) {
      const type = book[off] | (book[off + 1] << 8);
      if (type === 0x002f) return true;
      off += 4 + (book[off + 2] | (book[off + 3] << 8));
    }
  }
  return false;
}

/**
 * Walks the record tree of a "PowerPoint Document" stream and returns the payload of
 * each ExOleObjStg record: recInstance 1 = u32 decompressed size + zlib data, 0 = stored.
 */
export function pptEmbeddedObjects(doc: Uint8Array, ctx: UnpackCtx): Uint8Array[] {
  const found: Uint8Array[] = [];
  const ranges: Array<[start: number, end: number, depth: number]> = [[0, doc.length, 0]];
  let records = 0;
  while (ranges.length > 0) {
    const [start, end, depth] = ranges.pop()!;
    for (let off = start; off + RECORD_HEADER <= end; ) {
      if (++records % 4096 === 0) ctx.checkTime();
      const verInstance = doc[off] | (doc[off + 1] << 8);
      const type = doc[off + 2] | (doc[off + 3] << 8);
      const len = (doc[off + 4] | (doc[off + 5] << 8) | (doc[off + 6] << 16) | (doc[off + 7] << 24)) >>> 0;
      const bodyStart = off + RECORD_HEADER;
      const bodyEnd = Math.min(end, bodyStart + len);
      if ((verInstance & 0xf) === 0xf) {
        if (depth < MAX_PPT_DEPTH) ranges.push([bodyStart, bodyEnd, depth + 1]);
      } else if (type === RT_EX_OLE_OBJ_STG) {
        const body = doc.subarray(bodyStart, bodyEnd);
        if (verInstance >> 4 === 1) {
          const inflated = body.length > 4 ? boundedInflate(body.subarray(4), ctx) : null;
          if (inflated) {
            ctx.charge(inflated.length);
            found.push(inflated);
          }
        } else if (body.length > 0) {
          ctx.charge(body.length);
          found.push(body);
        }
      }
      off = bodyEnd;
    }
  }
  return found;
}

/** Storage path for verdicts: MSI's packed stream names decoded, control characters
 *  (\x01Ole, \x05SummaryInformation) dropped so names stay printable. */
function displayPath(path: string[]): string {
  return path.map((p) => decodeMsiName(p).replace(/[\x00-\x1f]/g, "")).join("/");
}

const MSI_CHARSET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz._";

/** Windows Installer packs two name characters from a 64-character set into one code
 *  unit in U+3800..U+47FF (one character in U+4800..U+483F); U+4840 marks table streams. */
export function decodeMsiName(name: string): string {
  let out = "";
  for (const ch of name) {
    const c = ch.charCodeAt(0);
    if (c >= 0x3800 && c < 0x4800) out += MSI_CHARSET[(c - 0x3800) & 0x3f] + MSI_CHARSET[((c - 0x3800) >> 6) & 0x3f];
    else if (c >= 0x4800 && c < 0x4840) out += MSI_CHARSET[c - 0x4800];
    else if (c === 0x4840) out += "!";
    else out += ch;
  }
  return out;
}
