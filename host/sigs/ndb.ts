/**
 * .ndb loader: `Name:Target:Offset:HexSig[:MinFL[:MaxFL]]` (ClamAV readdb.c cli_loadndb),
 * and the offset syntax shared with .ldb subsignatures (matcher.c cli_caloff).
 *
 * Offsets: `*`, `n`, `n,m` (start in [n, n+m]), `EOF-n`, `EOF-n,m`. The executable-relative
 * forms (`EP+n`, `EP-n`, `Sx+n`, `SEx`, `SL+n`), `VI` and macro `$n$` need PE/ELF/Mach-O
 * parsing we do not have: such lines are reported ("unsupported offset") and skipped.
 * Target: `*` = 0; 0..14 kept; 15 and above are skipped silently, as ClamAV does.
 */
import type { NdbSig, OffsetSpec, SignatureSet, SourceRef } from "./types.js";
import { parseHexSig, PREFILTER_TARGETS, SigSyntaxError } from "./hex.js";
import { type DbSource, eachLine, flevelExcludes, isDigits, MAX_LINE_CHARS, sigName } from "./dbtext.js";

/** ClamAV CLI_MTARGETS: target types 0..14 exist. */
export const TARGET_COUNT = 15;
/** Offsets and shifts are 32-bit in ClamAV. */
const MAX_OFFSET = 0xffff_ffff;

function offNum(s: string, whole: string): number {
  if (!isDigits(s) || Number(s) > MAX_OFFSET) throw new SigSyntaxError(`bad offset '${whole}'`);
  return Number(s);
}

export function parseOffset(s: string): OffsetSpec {
  if (s === "*") return { kind: "any" };
  let body = s;
  let shift = 0;
  const comma = s.indexOf(",");
  if (comma >= 0) {
    body = s.slice(0, comma);
    shift = offNum(s.slice(comma + 1), s);
  }
  if (body.startsWith("EOF-")) return { kind: "eof", n: offNum(body.slice(4), s), shift };
  if (isDigits(body)) return { kind: "abs", n: offNum(body, s), shift };
  if (/^(EP[+-]|SE?\d|SL\+|VI|\$)/.test(body)) throw new SigSyntaxError(`unsupported offset '${s}' (needs executable parsing)`);
  throw new SigSyntaxError(`bad offset '${s}'`);
}

/** Parse the target field; null = skip the line silently (unknown target type). */
export function parseTarget(s: string): number | null {
  if (s === "*") return 0;
  if (!isDigits(s)) throw new SigSyntaxError(`bad target type '${s}'`);
  const t = Number(s);
  return t < TARGET_COUNT ? t : null;
}

/** ClamAV matcher-bm.c BM_MIN_LENGTH. */
const BM_MIN_LENGTH = 3;

/**
 * ClamAV sends a plain-hex .ndb signature of target 0 (or of target 1 with a fixed offset) to
 * its Boyer-Moore matcher, which refuses patterns shorter than 3 bytes (measured: `X:0:*:4c30`
 * fails the whole database load); the Aho-Corasick path accepts 2.
 */
function checkBoyerMoore(target: number, offset: string, hex: string): void {
  if (target > 1 || /[?([{*]/.test(hex)) return;
  if (target === 1 && (offset === "*" || offset.includes(","))) return;
  if (hex.length / 2 < BM_MIN_LENGTH) throw new SigSyntaxError(`static signature shorter than ${BM_MIN_LENGTH} bytes (ClamAV's Boyer-Moore minimum)`);
}

/** One .ndb line (without comment/blank handling); null = skipped silently (FLEVEL, target). */
export function parseNdbLine(line: string, official: boolean, src: SourceRef): NdbSig | null {
  const tok = line.split(":");
  if (tok.length < 4 || tok.length > 6) throw new SigSyntaxError(`expected 4 to 6 ':'-separated fields, got ${tok.length}`);
  if (flevelExcludes(tok[4], tok[5])) return null;
  const target = parseTarget(tok[1]);
  if (target === null) return null;
  const offset = parseOffset(tok[2]);
  const alts = parseHexSig(tok[3], { prefilter: PREFILTER_TARGETS.has(target) });
  checkBoyerMoore(target, tok[2], tok[3]);
  return { name: sigName(tok[0], official), target, body: { alts, offset }, src };
}

export function loadNdb(src: DbSource, text: string): void {
  const set: SignatureSet = src.set;
  eachLine(src, text, MAX_LINE_CHARS, (line, no) => {
    const sig = parseNdbLine(line, src.official, { file: src.file, line: no });
    if (sig) set.ndb.push(sig);
  });
}
