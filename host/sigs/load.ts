/**
 * Signature loading entry point: files and directories in, one SignatureSet out.
 *
 * Each path is a database file or a directory (like `clamscan -d DIR`: every supported file
 * directly inside it, in name order). Supported: .hdb .hsb .fp .sfp .ndb .ldb .ign .ign2
 * and the containers .cvd .cld .cud (their members are loaded the same way). Other ClamAV
 * database types (.mdb .cdb .ftm .pdb .wdb .yar .cbc …) are reported as unsupported and
 * skipped; PUA-only variants (.hdu .ndu .ldu …) are skipped silently, as ClamAV does by
 * default. A bad line or file never stops the load: it becomes an entry in `errors`.
 *
 * After loading, signatures named in .ign/.ign2 lists are dropped (ClamAV never loads them);
 * `ignored` keeps the names for anything matched by other means.
 *
 * Built-in signature (unless opts.builtin === false): `Eicar-Test-Signature`, an .ndb body
 * signature for the 68-byte EICAR test string at offset 0. We name it as the industry does
 * rather than ClamAV's `Win.Test.EICAR_HDB-1` (an MD5 signature in daily.cvd, absent when a
 * user loads only their own databases) so that an install without any database still proves
 * itself on the EICAR file; it is official (no suffix).
 */
import fs from "node:fs";
import path from "node:path";
import type { SignatureSet } from "./types.js";
import { parseHexSig } from "./hex.js";
import { loadNdb } from "./ndb.js";
import { loadLdb } from "./ldb.js";
import { loadHashDb, loadIgn } from "./hashdb.js";
import { unpackCvd } from "./cvd.js";
import { addError, type DbSource, emptySet, ignoreKey } from "./dbtext.js";

export interface LoadOptions {
  /** add the built-in EICAR signature (default true) */
  builtin?: boolean;
}

export const EICAR = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
export const EICAR_SIG_NAME = "Eicar-Test-Signature";

const TEXT_TYPES = new Set(["hdb", "hsb", "fp", "sfp", "ndb", "ldb", "ign", "ign2"]);
const CONTAINERS = new Set(["cvd", "cld", "cud"]);
const UNSUPPORTED = new Set(["mdb", "msb", "imp", "cdb", "ftm", "pdb", "gdb", "wdb", "idb", "cbc", "yar", "yara", "crb", "cat", "pwdb", "cfg"]);
const PUA_ONLY = new Set(["hdu", "hsu", "mdu", "msu", "ndu", "ldu"]);

const ext = (p: string) => path.extname(p).slice(1).toLowerCase();
const isDbFile = (p: string) => {
  const e = ext(p);
  return TEXT_TYPES.has(e) || CONTAINERS.has(e) || UNSUPPORTED.has(e);
};

/** Parse one database file's content (already read) into `set`. */
export function loadBuffer(set: SignatureSet, file: string, buf: Buffer, official = false): void {
  const e = ext(file);
  const src: DbSource = { set, file, official };
  if (CONTAINERS.has(e)) return loadContainer(set, file, buf, e);
  if (PUA_ONLY.has(e)) return;
  if (UNSUPPORTED.has(e)) return addError(set, file, 0, `database type .${e} is not supported; file skipped`);
  if (!TEXT_TYPES.has(e)) return addError(set, file, 0, `unknown database type '${path.extname(file) || "(none)"}'; file skipped`);
  const text = buf.toString("utf8");
  if (e === "ndb") loadNdb(src, text);
  else if (e === "ldb") loadLdb(src, text);
  else if (e === "ign" || e === "ign2") loadIgn(src, text);
  else loadHashDb(src, text, e === "fp" || e === "sfp");
}

function loadContainer(set: SignatureSet, file: string, buf: Buffer, e: string): void {
  let members;
  try {
    members = unpackCvd(buf, e !== "cld").members;
  } catch (err) {
    return addError(set, file, 0, `bad container: ${err instanceof Error ? err.message : err}`);
  }
  const skipped: string[] = [];
  for (const m of members) {
    const me = ext(m.name);
    if (TEXT_TYPES.has(me)) loadBuffer(set, `${file}/${m.name}`, m.data, e !== "cud");
    else if (UNSUPPORTED.has(me)) skipped.push(m.name);
  }
  // one entry, not one per member: official containers always carry a few of these
  if (skipped.length) addError(set, file, 0, `members of unsupported types skipped: ${skipped.join(", ")}`);
}

function finish(set: SignatureSet, opts: LoadOptions): SignatureSet {
  if (set.ignored.size) {
    const keep = <T extends { name: string }>(a: T[]) => a.filter((s) => !set.ignored.has(ignoreKey(s.name)));
    set.ndb = keep(set.ndb);
    set.ldb = keep(set.ldb);
    set.hashes = set.hashes.filter((n) => !set.ignored.has(ignoreKey(n)));
  }
  if (opts.builtin !== false && !set.ignored.has(EICAR_SIG_NAME)) {
    const hex = Buffer.from(EICAR, "latin1").toString("hex");
    set.ndb.push({
      name: EICAR_SIG_NAME,
      target: 0,
      body: { alts: parseHexSig(hex), offset: { kind: "abs", n: 0, shift: 0 } },
      src: { file: "<builtin>", line: 0 },
    });
  }
  return set;
}

function noneFound(set: SignatureSet, dir: string) {
  addError(set, dir, 0, "no supported database files in directory");
}

/** Synchronous variant of loadSignatures. */
export function loadSignaturesSync(paths: string[], opts: LoadOptions = {}): SignatureSet {
  const set = emptySet();
  for (const p of paths) {
    let files: string[];
    try {
      files = fs.statSync(p).isDirectory() ? fs.readdirSync(p).sort().filter(isDbFile).map((n) => path.join(p, n)) : [p];
    } catch (err) {
      addError(set, p, 0, `cannot read: ${err instanceof Error ? err.message : err}`);
      continue;
    }
    if (files.length === 0) noneFound(set, p);
    for (const f of files) {
      try {
        const buf = fs.readFileSync(f);
        set.files.push(f);
        loadBuffer(set, f, buf);
      } catch (err) {
        addError(set, f, 0, `cannot read: ${err instanceof Error ? err.message : err}`);
      }
    }
  }
  return finish(set, opts);
}

/** Load signature databases from files and directories (see the file comment). Loading
 *  happens once at start-up and parsing is CPU-bound, so this is the synchronous loader
 *  behind a promise: one code path to keep right. */
export async function loadSignatures(paths: string[], opts: LoadOptions = {}): Promise<SignatureSet> {
  return loadSignaturesSync(paths, opts);
}
