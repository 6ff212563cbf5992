/**
 * .ldb loader: `Name;TargetDescriptionBlock;Logic;Subsig0[;Subsig1…]` (ClamAV readdb.c
 * load_oneldb / lsigattribs / readdb_parse_ldb_subsignature), up to 64 subsignatures.
 *
 * TDB: `Target:n` (required, as in ClamAV), `Engine:a-b` (must come first; a line whose
 * range excludes our FLEVEL is skipped silently), `FileSize:a-b`. Any attribute other than
 * Target/Engine needs `Engine:51-…` or more (ClamAV rule). Attribute names ClamAV does not
 * know make it skip the line silently; so do we. The ones it knows but we cannot evaluate
 * (EntryPoint, NumberOfSections, Container, Intermediates, IconGroup1/2, HandlerType) are
 * reported and the signature skipped: ignoring them would make the signature fire on
 * objects ClamAV never matches.
 *
 * Subsignatures: `hex`, `offset:hex`, `hex::opts`, `offset:hex::opts` with opts ⊆ {i,w,f,a}.
 * `w` doubles every byte with 00 as ClamAV does (its `[n-m]` become `{n-m}`); `a` with `w`
 * adds the plain form too; `f` wraps the pattern in `(W)…(W)`. `f`+`w` (and `(W)` in a wide
 * pattern) use ClamAV's wide word-boundary rule, which we do not implement: reported.
 * PCRE, byte-compare, macro and fuzzy-image subsignatures are reported and the line skipped.
 */
import type { BodyAlt, BodySig, SignatureSet } from "./types.js";
import { MAX_ALTERNATIVES, parseHexSig, PREFILTER_TARGETS, SigSyntaxError } from "./hex.js";
import { parseLogic } from "./logic.js";
import { parseOffset, parseTarget } from "./ndb.js";
import { type DbSource, eachLine, ENGINE_FLEVEL, isDigits, MAX_LDB_LINE_CHARS, sigName } from "./dbtext.js";

/** ClamAV ATTRIB_TOKENS: at most 10 TDB attributes. */
const MAX_TDB_ATTRS = 10;
const UNSUPPORTED_TDB = new Set(["EntryPoint", "NumberOfSections", "IconGroup1", "IconGroup2", "Container", "HandlerType", "Intermediates"]);

function range(v: string, key: string): [number, number] {
  const dash = v.indexOf("-");
  const a = v.slice(0, dash), b = v.slice(dash + 1);
  if (dash < 0 || !isDigits(a) || !isDigits(b)) throw new SigSyntaxError(`bad ${key} range '${v}'`);
  return [Number(a), Number(b)];
}

interface Tdb {
  target: number | null; // null: target type we skip silently
  fileSize?: [number, number];
}

/** Parse the TDB; null = skip the line silently. */
function parseTdb(text: string): Tdb | null {
  const attrs = text.split(",");
  if (attrs.length > MAX_TDB_ATTRS) throw new SigSyntaxError(`more than ${MAX_TDB_ATTRS} TDB attributes`);
  let target: string | undefined, engine: [number, number] | undefined, fileSize: [number, number] | undefined;
  let newExt = false;
  for (let i = 0; i < attrs.length; i++) {
    const colon = attrs[i].indexOf(":");
    if (colon < 0) throw new SigSyntaxError(`TDB attribute '${attrs[i]}' has no ':'`);
    const key = attrs[i].slice(0, colon), val = attrs[i].slice(colon + 1);
    if (key === "Target") {
      if (!isDigits(val)) throw new SigSyntaxError(`bad Target '${val}'`);
      target = val;
    } else if (key === "Engine") {
      if (i !== 0) throw new SigSyntaxError("Engine must be the first TDB attribute");
      engine = range(val, key);
    } else if (key === "FileSize") {
      newExt = true;
      fileSize = range(val, key);
    } else if (UNSUPPORTED_TDB.has(key)) throw new SigSyntaxError(`TDB attribute ${key} is not supported; signature skipped`);
    else return null; // unknown to ClamAV as well: it skips the signature
  }
  if (newExt && (!engine || engine[0] < 51)) throw new SigSyntaxError("TDB attributes other than Target need Engine:51 or higher first");
  if (engine && (engine[0] > ENGINE_FLEVEL || engine[1] < ENGINE_FLEVEL)) return null;
  if (target === undefined) throw new SigSyntaxError("no Target in the TDB");
  return { target: parseTarget(target), fileSize };
}

/** ClamAV's wide rewrite of a hex signature (cli_sigopts_handler): every byte gets a 00. */
function widen(hex: string): string {
  const out: string[] = [];
  for (let i = 0; i < hex.length; i++) {
    const c = hex[i];
    if (c === "*" || c === "|" || c === ")") out.push(c);
    else if (c === "[" || c === "{") {
      const j = hex.indexOf(c === "[" ? "]" : "}", i);
      if (j < 0) throw new SigSyntaxError(`missing '${c === "[" ? "]" : "}"}'`);
      out.push("{", hex.slice(i + 1, j), "}");
      i = j;
    } else if (c === "!" || c === "(") {
      if (c === "!") out.push(hex[i++]);
      if (hex[i] !== "(") throw new SigSyntaxError("'!' must be followed by '('");
      out.push("(");
      const k = hex[i + 1];
      if (k === "B" || k === "L" || k === "W") {
        if (k === "W") throw new SigSyntaxError("(W) in a wide (::w) pattern is not supported");
        if (hex[i + 2] !== ")") throw new SigSyntaxError(`bad (${k}...`);
        out.push(k, ")");
        i += 2;
      }
    } else {
      out.push(hex.slice(i, i + 2), "00");
      i++;
    }
  }
  return out.join("");
}

/** One subsignature; `prefilter`: the line's target has ClamAV's prefilter (see hex.ts). */
export function parseSubsig(text: string, prefilter = true): BodySig {
  if (text.startsWith("$")) throw new SigSyntaxError("macro subsignatures are not supported");
  if (text.includes("/")) throw new SigSyntaxError("PCRE subsignatures are not supported");
  if (text.startsWith("fuzzy_img#")) throw new SigSyntaxError("fuzzy image subsignatures are not supported");
  const h1 = text.indexOf("#");
  if (text.includes("(") && h1 >= 0 && text.lastIndexOf("#") !== h1) throw new SigSyntaxError("byte-compare subsignatures are not supported");
  const tok = text.split(":");
  if (tok.length > 4) throw new SigSyntaxError(`subsignature '${text}' has too many ':'`);
  if (tok.length === 3 && tok[1] !== "") throw new SigSyntaxError(`subsignature '${text}': options need '::'`);
  const offset = tok.length % 2 === 0 ? parseOffset(tok[0]) : ({ kind: "any" } as const);
  const hex = tok.length % 2 === 0 ? tok[1] : tok[0];
  const opts = tok.length >= 3 ? tok[tok.length - 1] : "";
  let i = false, w = false, f = false, a = false;
  for (const o of opts) {
    if (o === "i") i = true;
    else if (o === "w") w = true;
    else if (o === "f") f = true;
    else if (o === "a") a = true;
    else throw new SigSyntaxError(`invalid subsignature option '${o}'`);
  }
  if (f && w) throw new SigSyntaxError("fullword with wide (::fw) is not supported");
  const anyOption = opts.length > 0;
  const base = f ? `(W)${hex.replace(/\[/g, "{").replace(/\]/g, "}")}(W)` : hex;
  const alts: BodyAlt[] = [];
  if (w) alts.push(...parseHexSig(widen(base), { nocase: i, anyOption, prefilter }));
  if (!w || a) alts.push(...parseHexSig(base, { nocase: i, anyOption, prefilter }));
  if (alts.length > MAX_ALTERNATIVES) throw new SigSyntaxError(`subsignature expands to more than ${MAX_ALTERNATIVES} alternatives`);
  return i ? { alts, offset, nocase: true } : { alts, offset };
}

export function loadLdb(src: DbSource, text: string): void {
  const set: SignatureSet = src.set;
  eachLine(src, text, MAX_LDB_LINE_CHARS, (line, no) => {
    const tok = line.split(";");
    if (tok.length < 4) throw new SigSyntaxError("expected Name;TDB;Logic;Subsig...");
    const nsubs = tok.length - 3;
    const expr = parseLogic(tok[2], nsubs);
    const tdb = parseTdb(tok[1]);
    if (!tdb || tdb.target === null) return;
    const subsigs = tok.slice(3).map((s, k) => {
      try {
        return parseSubsig(s, PREFILTER_TARGETS.has(tdb.target!));
      } catch (e) {
        throw new SigSyntaxError(`subsignature ${k}: ${e instanceof Error ? e.message : e}`);
      }
    });
    set.ldb.push({
      name: sigName(tok[0], src.official),
      target: tdb.target,
      ...(tdb.fileSize ? { fileSize: tdb.fileSize } : {}),
      expr,
      subsigs,
      src: { file: src.file, line: no },
    });
  });
}
