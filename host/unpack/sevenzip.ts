/**
 * Unpacker for the formats we have no native code for, through 7-Zip compiled to WASM
 * (sevenzip-runtime.ts): 7z, ARJ, CAB, CHM, NSIS installers, RAR, ISO/UDF, LZH, WIM ...
 * and archives embedded in executables (SFX stubs, installers).
 *
 * Per archive: write it into the in-memory FS, list it (`7zz l -slt`), refuse before
 * extracting when the listing is over a limit (files, sizes, ratio, dictionary), extract
 * with a deliberately wrong password (encrypted members fail instead of prompting) under
 * MEMFS hooks that enforce the same limits on what is actually written, read the files
 * back, delete everything, then yield. Encrypted members raise Heuristics.Encrypted.*.
 */
import { LimitExceeded } from "../limits.js";
import { run7z, sevenZip, discard, type RunBudget } from "./sevenzip-runtime.js";
import { UnpackError, type Child, type UnpackCtx, type Unpacker } from "./types.js";

/** Given to every 7-Zip run so an encrypted member fails with "Wrong password" instead of
 *  prompting on stdin. Knowing it only lets an attacker have their archive scanned. */
const WRONG_PASSWORD = "-pbulwark-no-password";
/** 7-Zip "Type" values we extract. Deliberately no PE/ELF/Mach-O (7-Zip would split any
 *  executable into sections) and no disk images (FAT, NTFS, VHD ...: huge, rare in mail). */
const ACCEPTED_TYPES = new Set(
  ["7z", "arj", "cab", "chm", "hxs", "nsis", "rar", "rar5", "lzh", "iso", "udf", "wim", "xar", "zip", "gzip", "bzip2",
    "xz", "lzma", "lzma86", "zstd", "z", "lzip", "tar", "cpio", "squashfs", "dmg"],
);
/** Largest LZMA/PPMd/LZX dictionary we let 7-Zip allocate. 7-Zip's own maximum preset
 *  (-mx9) uses 64 MiB; a crafted header can ask for 1.5 GiB of WASM heap, which never
 *  shrinks for the life of the instance. */
const MAX_DICTIONARY = 256 * 1024 * 1024;
/** Directory nesting read back after extraction; deeper trees are a bomb, not an archive. */
const MAX_TREE_DEPTH = 64;

const ENCRYPTED_NAMES: Record<string, string> = { "7z": "7Zip", rar: "RAR", rar5: "RAR", zip: "Zip" };

export type SevenZipFormat = "7z" | "arj" | "cab" | "chm" | "nsis";

/** Formats routed to 7-Zip by magic. NSIS is a PE whose overlay starts with the
 *  "NullsoftInst" first-header signature. */
export function sevenZipFormat(d: Uint8Array): SevenZipFormat | null {
  const at = (off: number, ...bytes: number[]) => bytes.every((b, i) => d[off + i] === b);
  if (at(0, 0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c)) return "7z";
  if (at(0, 0x60, 0xea) && d.length > 10) return "arj";
  if (at(0, 0x4d, 0x53, 0x43, 0x46, 0, 0, 0, 0)) return "cab";
  if (at(0, 0x49, 0x54, 0x53, 0x46)) return "chm";
  if (at(0, 0x4d, 0x5a) && Buffer.from(d.buffer, d.byteOffset, d.byteLength).includes("NullsoftInst")) return "nsis";
  return null;
}

export function looksLikeSevenZip(data: Uint8Array): boolean {
  return sevenZipFormat(data) !== null;
}

/** AES-256 + SHA-256 coder ID in 7z headers */
const AES_CODER = [0x06, 0xf1, 0x07, 0x01];
/** The encoded-header stream info is a few dozen bytes; more is not a real header. */
const MAX_ENCODED_HEADER_INFO = 4096;

/**
 * A 7z archive whose header is encrypted (-mhe=on): the next header is a kEncodedHeader
 * (0x17) whose coders include AES. 7-Zip cannot even list it without the password (and
 * this WASM build aborts on the wrong one), so we decide from the bytes.
 */
export function sevenZipHeaderEncrypted(d: Uint8Array): boolean {
  if (sevenZipFormat(d) !== "7z" || d.length < 32) return false;
  const view = new DataView(d.buffer, d.byteOffset, d.byteLength);
  const offset = Number(view.getBigUint64(12, true));
  const size = Number(view.getBigUint64(20, true));
  const start = 32 + offset;
  if (!Number.isSafeInteger(start) || start >= d.length || d[start] !== 0x17) return false;
  const info = d.subarray(start, Math.min(d.length, start + Math.min(size, MAX_ENCODED_HEADER_INFO)));
  for (let i = 0; i + AES_CODER.length <= info.length; i++) {
    if (AES_CODER.every((b, k) => info[i + k] === b)) return true;
  }
  return false;
}

interface Listing {
  type: string | null;
  archiveMethods: string[];
  items: Array<{ path: string; size: number | null; folder: boolean; encrypted: boolean; method: string }>;
}

let jobSeq = 0;

export const unpackSevenZip: Unpacker = async function* (data: Uint8Array, ctx: UnpackCtx): AsyncIterable<Child> {
  if (data.length > ctx.limits.maxFileSize) throw new LimitExceeded("MaxFileSize", `archive of ${data.length} bytes`);
  if (sevenZipHeaderEncrypted(data)) {
    ctx.heuristic(encryptedName("7z"));
    return;
  }
  const format = sevenZipFormat(data);
  const inst = await sevenZip();
  const fs = inst.module.FS;
  const dir = `/job${++jobSeq}`;
  const input = `${dir}/in`;
  // Everything is read back before the first yield: the instance is shared, and another
  // archive may run on it while our consumer awaits.
  const children: Child[] = [];
  let limit: LimitExceeded | null = null;
  fs.mkdir(dir);
  try {
    fs.writeFile(input, data);
    const list = run7z(inst, ["l", "-slt", WRONG_PASSWORD, "-y", "--", input], budget(ctx, 0, 0, 0));
    if (list.tripped) throw new LimitExceeded(list.tripped === "MaxScanTime" ? "MaxScanTime" : "MaxFiles", "7z listing");
    const listing = parseListing(list.stdout);
    const errors = [...list.stdout, ...list.stderr].filter((l) => /ERROR|Wrong password|Can not open|Cannot open/i.test(l));
    if (errors.some((l) => /Wrong password|encrypted archive/i.test(l))) {
      ctx.heuristic(encryptedName(listing.type ?? "7z")); // headers encrypted: nothing to list
      return;
    }
    if (!listing.type) {
      const why = list.aborted !== null ? "7-Zip aborted on this input" : errors.join(" ").slice(0, 200) || "cannot open";
      if (format && format !== "nsis") throw new UnpackError("7z", why);
      return; // an executable without an archive inside: nothing to unpack
    }
    if (!ACCEPTED_TYPES.has(listing.type.toLowerCase())) return;
    const files = listing.items.filter((i) => !i.folder);
    if (files.some((f) => f.encrypted)) ctx.heuristic(encryptedName(listing.type));
    const maxBytes = checkListing(listing, files, data.length, ctx);

    const extract = run7z(inst, ["x", "-y", WRONG_PASSWORD, "-aou", "-bd", `-o${dir}/out`, "--", input], budget(ctx, maxBytes, files.length, 1));
    if ([...extract.stdout, ...extract.stderr].some((l) => /Wrong password/i.test(l)) && !files.some((f) => f.encrypted)) {
      ctx.heuristic(encryptedName(listing.type));
    }
    if (extract.tripped) limit = new LimitExceeded(extract.tripped === "Output" ? "MaxFiles" : extract.tripped, "7z extraction");
    readTree(fs, `${dir}/out`, "", 0, children, ctx);
  } finally {
    removeTree(fs, dir);
    if (fs.readdir("/").some((n) => n.startsWith("job"))) discard(inst); // could not clean up: start afresh
  }
  for (const c of children) {
    ctx.charge(c.data.length);
    yield c;
  }
  if (limit) throw limit;
};

/** Hook budget for one run; `slackFiles` lets 7-Zip create one file more than listed so
 *  an overrun shows as MaxFiles in the hook rather than as a silent stop. */
function budget(ctx: UnpackCtx, maxBytes: number, files: number, slackFiles: number): RunBudget {
  return {
    maxBytes,
    maxFileBytes: ctx.limits.maxFileSize,
    maxFiles: Math.min(ctx.limits.maxFiles, files + slackFiles),
    checkTime: () => ctx.checkTime(),
  };
}

/**
 * Refuses, before extraction, an archive whose listing is over a limit, and returns the
 * number of bytes extraction may write: the listed total (members with an unknown size,
 * as in NSIS, may each take up to maxFileSize), capped by the scan budget and the ratio.
 */
function checkListing(listing: Listing, files: Listing["items"], inputSize: number, ctx: UnpackCtx): number {
  const { maxFiles, maxFileSize, maxScanSize, maxRatio } = ctx.limits;
  if (files.length > maxFiles) throw new LimitExceeded("MaxFiles", `${files.length} members`);
  let known = 0;
  let unknown = 0;
  for (const f of files) {
    if (f.size === null) unknown++;
    else if (f.size > maxFileSize) throw new LimitExceeded("MaxFileSize", `${f.path}: ${f.size} bytes`);
    else known += f.size;
  }
  const room = ctx.room();
  const scanBudget = room < maxFileSize ? room : maxScanSize; // room() below maxFileSize is the budget left
  if (known > scanBudget) throw new LimitExceeded("MaxScanSize", `members total ${known} bytes`);
  const ratioCap = Math.max(1, inputSize) * maxRatio;
  if (known > ratioCap) throw new LimitExceeded("MaxRatio", `${known} bytes from ${inputSize}`);
  const dict = Math.max(0, ...[...listing.archiveMethods, ...files.map((f) => f.method)].map(dictionaryBytes));
  if (dict > MAX_DICTIONARY) throw new LimitExceeded("MaxFileSize", `7z dictionary of ${dict} bytes`);
  return Math.min(scanBudget, ratioCap, known + unknown * maxFileSize);
}

/** `7zz l -slt`: archive properties after "--", one block per member after "----------". */
export function parseListing(lines: string[]): Listing {
  const listing: Listing = { type: null, archiveMethods: [], items: [] };
  let section: "preamble" | "archive" | "items" = "preamble";
  let cur = new Map<string, string>();
  const flush = () => {
    if (section === "items" && cur.has("Path")) {
      const size = cur.get("Size");
      listing.items.push({
        path: cur.get("Path")!,
        size: size && /^\d+$/.test(size) ? Number(size) : null,
        folder: cur.get("Folder") === "+" || /^D/.test(cur.get("Attributes") ?? ""),
        encrypted: cur.get("Encrypted") === "+",
        method: cur.get("Method") ?? "",
      });
    }
    cur = new Map();
  };
  for (const line of lines) {
    if (line === "--") section = "archive";
    else if (line === "----------") {
      section = "items";
      cur = new Map();
    } else if (line === "") flush();
    else {
      const m = /^([^=]+?) = (.*)$/.exec(line);
      if (!m) continue;
      if (section === "archive" && m[1] === "Type") listing.type = m[2];
      if (section === "archive" && m[1] === "Method") listing.archiveMethods.push(m[2]);
      cur.set(m[1], m[2]);
    }
  }
  flush();
  return listing;
}

/** Largest dictionary/memory figure in a 7-Zip method string: "LZMA2:26" is 2^26 bytes,
 *  "LZMA:1536m" and "PPMD:o32:mem192m" carry a unit. */
export function dictionaryBytes(method: string): number {
  let max = 0;
  for (const m of method.matchAll(/:(?:mem)?(\d+)([bkmg]?)\b/gi)) {
    const n = Number(m[1]);
    const unit = m[2].toLowerCase();
    const bytes = unit === "" ? (n <= 40 ? 2 ** n : n) : n * { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[unit]!;
    max = Math.max(max, bytes);
  }
  return max;
}

function encryptedName(type: string): string {
  return `Heuristics.Encrypted.${ENCRYPTED_NAMES[type.toLowerCase()] ?? type}`;
}

type Fs = Awaited<ReturnType<typeof sevenZip>>["module"]["FS"];

/** Reads extracted regular files (never symlinks or devices) into `out`. */
function readTree(fs: Fs, path: string, rel: string, depth: number, out: Child[], ctx: UnpackCtx): void {
  if (depth > MAX_TREE_DEPTH) throw new LimitExceeded("MaxRecursion", `7z member path deeper than ${MAX_TREE_DEPTH}`);
  let names: string[];
  try {
    names = fs.readdir(path);
  } catch {
    return; // nothing extracted
  }
  for (const name of names) {
    if (name === "." || name === "..") continue;
    const full = `${path}/${name}`;
    const childRel = rel ? `${rel}/${name}` : name;
    const st = fs.lstat(full);
    if (fs.isDir(st.mode)) readTree(fs, full, childRel, depth + 1, out, ctx);
    else if (fs.isFile(st.mode)) {
      ctx.checkTime();
      out.push({ name: childRel, data: fs.readFile(full) });
    }
  }
}

/** Deletes a directory tree from MEMFS; errors are swallowed (the caller checks the
 *  root afterwards and recycles the instance if anything is left). */
function removeTree(fs: Fs, path: string): void {
  try {
    const st = fs.lstat(path);
    if (fs.isDir(st.mode)) {
      for (const name of fs.readdir(path)) if (name !== "." && name !== "..") removeTree(fs, `${path}/${name}`);
      fs.rmdir(path);
    } else fs.unlink(path);
  } catch {
    /* checked by the caller */
  }
}
