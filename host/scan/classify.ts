/**
 * Object typing for the scanner: which ClamAV target type an object has (for target-typed
 * signatures) and which unpacker opens it. Magic bytes first (host/unpack/filetype.ts),
 * then the text formats (mail, mbox, BinHex, uuencode, HTML), then plain text.
 * The name only matters for heuristics, never for choosing an unpacker: attackers name files.
 */
import { looksLikeBinhex, unpackBinhex } from "../unpack/binhex.js";
import { unpackBzip2 } from "../unpack/bzip2.js";
import { unpackCpio } from "../unpack/cpio.js";
import { detectType, isExecutable, targetTypeOf, type FileType } from "../unpack/filetype.js";
import { unpackGzip } from "../unpack/gzip.js";
import { looksLikeHtml, unpackHtml } from "../unpack/html.js";
import { looksLikeMail, looksLikeMbox, unpackMail, unpackMbox } from "../unpack/mime.js";
import { unpackOle2 } from "../unpack/ole2.js";
import { unpackPdf } from "../unpack/pdf.js";
import { unpackRtf } from "../unpack/rtf.js";
import { unpackExecutable } from "../unpack/executable.js";
import { unpackSevenZip } from "../unpack/sevenzip.js";
import { unpackSis } from "../unpack/sis.js";
import { unpackSzdd } from "../unpack/szdd.js";
import { unpackTar } from "../unpack/tar.js";
import { looksLikeTnef, unpackTnef } from "../unpack/tnef.js";
import type { Unpacker } from "../unpack/types.js";
import { looksLikeUuencode, unpackUuencode } from "../unpack/uuencode.js";
import { unpackZip } from "../unpack/zip.js";

export interface Classification {
  type: FileType | "mail" | "mbox" | "html" | "text" | "binhex" | "uuencode";
  target: number;
  unpack: Unpacker | null;
  executable: boolean;
}

const BY_TYPE: Partial<Record<Classification["type"], Unpacker>> = {
  zip: unpackZip,
  gzip: unpackGzip,
  bzip2: unpackBzip2,
  tar: unpackTar,
  cpio: unpackCpio,
  ole2: unpackOle2,
  pdf: unpackPdf,
  rtf: unpackRtf,
  szdd: unpackSzdd,
  sis: unpackSis,
  // executables may carry what they install or unpack: UPX, InstallShield, 7-Zip-readable
  // installers (NSIS, SFX), and PE files carved out of them
  pe: unpackExecutable,
  tnef: unpackTnef,
  "7z": unpackSevenZip,
  arj: unpackSevenZip,
  cab: unpackSevenZip,
  chm: unpackSevenZip,
  mail: unpackMail,
  mbox: unpackMbox,
  html: unpackHtml,
  binhex: unpackBinhex,
  uuencode: unpackUuencode,
};

/** Bytes looked at to call an object text: enough to see past a header. */
const TEXT_SNIFF = 4096;

function looksLikeText(data: Uint8Array): boolean {
  const n = Math.min(data.length, TEXT_SNIFF);
  if (n === 0) return false;
  let odd = 0;
  for (let i = 0; i < n; i++) {
    const b = data[i];
    if (b === 0) return false;
    if (b < 9 || (b > 13 && b < 32) || b === 127) odd++;
  }
  return odd * 100 < n; // under 1% control bytes
}

export function classify(data: Uint8Array): Classification {
  let type: Classification["type"] = detectType(data);
  if (type === "binary") {
    if (looksLikeMbox(data)) type = "mbox";
    else if (looksLikeMail(data)) type = "mail";
    else if (looksLikeTnef(data)) type = "tnef";
    else if (looksLikeBinhex(data)) type = "binhex";
    else if (looksLikeUuencode(data)) type = "uuencode";
    else if (looksLikeHtml(data)) type = "html";
    else if (looksLikeText(data)) type = "text";
  }
  const executable = type === "pe" || type === "elf" || type === "macho" || isExecutable(data);
  const unpack = BY_TYPE[type] ?? null;
  const target = type === "mbox" ? targetTypeOf("mail") : type === "binhex" || type === "uuencode" ? targetTypeOf("text") : targetTypeOf(type as FileType);
  return { type, target, unpack, executable };
}
