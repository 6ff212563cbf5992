/**
 * Hash databases and ignore lists (ClamAV readdb.c cli_loadhash, cli_loadign):
 * - .hdb .hsb (alerting) and .fp .sfp (allow lists): `Hash:Size:Name[:MinFL[:MaxFL]]`;
 *   MD5 / SHA1 / SHA256 by hash length (32/40/64 hex); Size `*` = any, which ClamAV only
 *   accepts with MinFL ≥ 73; otherwise 1 .. 0xfffffffe.
 * - .ign .ign2: `Name`, `Name:MD5` (MD5 of the database line to ignore) or the legacy
 *   `db:line:Name`. The IR keeps names only, so an .ign2 MD5 is checked for form and then
 *   not used: the name is ignored whatever its line says (broader than ClamAV).
 */
import type { HashAlgo } from "./types.js";
import { SigSyntaxError } from "./hex.js";
import { type DbSource, eachLine, ENGINE_FLEVEL, ignoreKey, isDigits, MAX_LINE_CHARS, sigName } from "./dbtext.js";

/** ClamAV: wildcard sizes arrived with FLEVEL 73. */
const WILDCARD_SIZE_FLEVEL = 73;
const MAX_HASH_SIZE = 0xffff_fffe;
const ALGO_BY_HEX_LEN: Record<number, HashAlgo> = { 32: "md5", 40: "sha1", 64: "sha256" };

function decodeHex(s: string): Uint8Array | null {
  const b = Buffer.from(s, "hex"); // stops at the first non-hex character
  return b.length * 2 === s.length ? new Uint8Array(b.buffer, b.byteOffset, b.length) : null;
}

/** `allow` = .fp/.sfp (allow list) rather than .hdb/.hsb (alerting). */
export function loadHashDb(src: DbSource, text: string, allow: boolean): void {
  const out = allow ? src.set.allow : src.set.hashes;
  eachLine(src, text, MAX_LINE_CHARS, (line, no) => {
    const tok = line.split(":");
    if (tok.length < 3 || tok.length > 5) throw new SigSyntaxError(`expected 3 to 5 ':'-separated fields, got ${tok.length}`);
    let minFl = 0;
    if (tok.length > 3) {
      if (!isDigits(tok[3])) throw new SigSyntaxError(`minimum FLEVEL '${tok[3]}' is not a number`);
      minFl = Number(tok[3]);
      if (minFl > ENGINE_FLEVEL) return;
      if (tok.length === 5) {
        if (!isDigits(tok[4])) throw new SigSyntaxError(`maximum FLEVEL '${tok[4]}' is not a number`);
        if (Number(tok[4]) < ENGINE_FLEVEL) return;
      }
    }
    let size: number | null = null;
    if (tok[1] === "*") {
      if (minFl < WILDCARD_SIZE_FLEVEL) throw new SigSyntaxError(`size '*' needs a minimum FLEVEL of at least ${WILDCARD_SIZE_FLEVEL}`);
    } else {
      if (!isDigits(tok[1]) || Number(tok[1]) === 0 || Number(tok[1]) > MAX_HASH_SIZE) throw new SigSyntaxError(`bad size '${tok[1]}'`);
      size = Number(tok[1]);
    }
    const algo = ALGO_BY_HEX_LEN[tok[0].length];
    if (!algo || !out.push(algo, tok[0], size, sigName(tok[2], src.official), src.file, no)) {
      throw new SigSyntaxError(`bad hash '${tok[0]}' (need 32, 40 or 64 hex digits)`);
    }
  });
}

export function loadIgn(src: DbSource, text: string): void {
  eachLine(src, text, MAX_LINE_CHARS, (line) => {
    const tok = line.split(":");
    if (tok.length > 3) throw new SigSyntaxError("expected Name, Name:MD5 or db:line:Name");
    if (tok.length === 2 && !(tok[1].length === 32 && decodeHex(tok[1]))) throw new SigSyntaxError(`bad MD5 '${tok[1]}'`);
    const name = tok.length === 3 ? tok[2] : tok[0];
    if (!name) throw new SigSyntaxError("no signature name");
    src.set.ignored.add(ignoreKey(name));
  });
}
