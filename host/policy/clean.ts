/**
 * av_clean_mode: remove infected parts from a mail and put a short text notice in their place.
 *
 * Pure apart from the `scanPart` callback the caller gives (the daemon scans each entity with
 * the full engine, which decodes it). Writes nothing; never throws for any input bytes: a
 * structure it cannot follow, a scan that fails or a limit that is reached only makes the
 * result incomplete (`complete: false`), and the caller then treats the mail as not cleaned;
 * a scan that failed for a reason of ours (error verdict, throw, Bulwark.Error.*) also sets
 * `failed`, for which the caller defers.
 *
 * Modes (the av_clean_mode values other than none; see host/config/schema.ts):
 * - standard:  every infected leaf part is removed.
 * - strict:    as standard, and every leaf part that could not be scanned (verdict
 *              not_scanned: a limit, encryption) is removed too.
 * - rigorous:  as strict, and when anything in the message is infected, every non-text
 *              attachment goes as well (a part with Content-Disposition attachment, a file
 *              name, or a type other than text/*): one infected part is reason enough to
 *              distrust the rest of what the same sender attached.
 *
 * A leaf is a part that is neither a multipart nor a message/rfc822 holding a multipart; a
 * forwarded message that is a single part is removed whole. Everything that is not removed is
 * kept byte for byte (mime-structure.ts gives the offsets), so delimiters, the closing
 * delimiter, preamble and epilogue stay as they were; a removed entity becomes
 * `text/plain; charset=us-ascii` 7bit, whose text names the part and the reason, built only
 * from printable ASCII (a file name or detection name cannot smuggle a line break in).
 *
 * `complete` is true only if every infected (strict, rigorous: and not-scanned) leaf was
 * removed, every scan succeeded, the structure was understood without problems (no missing
 * closing delimiter, no limit reached), and a final scan of the whole cleaned mail finds
 * nothing (the engine's MIME reading and this one could disagree on a malformed mail; the
 * final scan makes such a disagreement an incomplete clean instead of a missed virus).
 * An infected top-level single-part body cannot be removed: the mail comes back unchanged
 * with complete false.
 */
import type { Verdict } from "../scan/verdict.js";
import { INTERNAL_FAULT_PREFIX } from "./actions.js";
import { sanitizeHeaderValue } from "./headers.js";
import { cleanableLeaves, parseMimeStructure, type MimeNode } from "./mime-structure.js";

export interface CleanResult {
  /** the cleaned mail (the input itself when nothing was removed) */
  mail: Buffer;
  /** what was removed: `part` is a display label (part number and sanitized file name),
   *  `names` the detection names (strict: the not-scanned reasons; rigorous: [] for an
   *  attachment removed only because another part was infected) */
  removed: Array<{ part: string; names: string[] }>;
  complete: boolean;
  /** set (to the first reason) when a scan failed for a reason of ours (an error verdict, a
   *  throw, an internal fault): the caller must defer, not call the mail "not cleaned", since
   *  a retry may well clean it; such a part is kept, never removed as "not scanned" */
  failed?: string;
}

export type CleanMode = "standard" | "strict" | "rigorous";

/** Scans in flight at once. The daemon's pool has a worker per core; a few parts in flight
 *  keep it busy without queueing a thousand scans at once. */
const SCANS_IN_FLIGHT = 4;
/** Characters of a file name or detection name shown in a notice: enough to recognise it,
 *  and it keeps every notice line far below RFC 5322's 998-character line limit. */
const NOTICE_NAME_CHARS = 120;
/** Detection names listed in one notice; more are counted ("+N more"). */
const NOTICE_NAMES = 5;

type ScanOutcome = { ok: true; verdict: Verdict } | { ok: false; error: string };

async function scanSafely(scanPart: (entity: Buffer) => Promise<Verdict>, entity: Buffer): Promise<ScanOutcome> {
  try {
    const verdict = await scanPart(entity);
    if (!verdict || verdict.status === "error") return { ok: false, error: verdict?.error ?? "scan error" };
    const fault = verdict.notScanned?.find((n) => n.name.startsWith(INTERNAL_FAULT_PREFIX));
    if (fault) return { ok: false, error: `${fault.name}: ${fault.reason}` };
    return { ok: true, verdict };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}

/** The bytes handed to scanPart for one leaf: its header and body. A part without a
 *  Content-Type gets its default one in front, because the engine recognises an entity as
 *  MIME by such a field and would otherwise scan a base64 body undecoded. */
function entityBytes(mail: Buffer, leaf: MimeNode, eol: string): Buffer {
  const bytes = mail.subarray(leaf.start, leaf.end);
  if (leaf.typeGiven) return bytes;
  return Buffer.concat([Buffer.from(`Content-Type: ${leaf.type}${eol}`, "latin1"), bytes]);
}

function isTextBody(leaf: MimeNode): boolean {
  return leaf.type.startsWith("text/") && leaf.disposition !== "attachment" && leaf.filename === "";
}

function partLabel(leaf: MimeNode): string {
  const number = leaf.path || "1";
  const name = sanitizeHeaderValue(leaf.filename, NOTICE_NAME_CHARS);
  return name ? `${number} "${name}"` : number;
}

function listed(names: string[]): string {
  const clean = names.map((n) => sanitizeHeaderValue(n, NOTICE_NAME_CHARS)).filter((n) => n !== "");
  const shown = clean.slice(0, NOTICE_NAMES).join(", ");
  return clean.length > NOTICE_NAMES ? `${shown} (+${clean.length - NOTICE_NAMES} more)` : shown;
}

/** The replacement entity: header fields, blank line, notice. Printable ASCII only. */
function noticeEntity(leaf: MimeNode, why: string, eol: string): Buffer {
  const name = sanitizeHeaderValue(leaf.filename, NOTICE_NAME_CHARS);
  const type = sanitizeHeaderValue(leaf.type, NOTICE_NAME_CHARS);
  const lines = [
    "Content-Type: text/plain; charset=us-ascii",
    "Content-Transfer-Encoding: 7bit",
    "Content-Disposition: inline",
    "",
    "Bulwark removed a part of this message.",
    "",
    `Part: ${leaf.path || "1"}${name ? ` "${name}"` : ""} (${type})`,
    `Reason: ${why}`,
    "",
  ];
  return Buffer.from(lines.join(eol), "latin1");
}

interface Removal {
  leaf: MimeNode;
  names: string[];
  why: string;
}

/** Run `task` over `items` with at most SCANS_IN_FLIGHT at a time, results in order. */
async function mapBounded<T, R>(items: T[], task: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await task(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(SCANS_IN_FLIGHT, items.length) }, worker));
  return results;
}

export async function cleanMail(mail: Buffer, mode: CleanMode, scanPart: (entity: Buffer) => Promise<Verdict>): Promise<CleanResult> {
  const structure = parseMimeStructure(mail);
  const { eol } = structure;
  const removeNotScanned = mode === "strict" || mode === "rigorous";
  const leaves = cleanableLeaves(structure.root);
  let failed: string | undefined;
  const unchanged = (complete: boolean): CleanResult => ({ mail, removed: [], complete, ...(failed !== undefined ? { failed } : {}) });
  const scanned = async (entity: Buffer): Promise<ScanOutcome> => {
    const o = await scanSafely(scanPart, entity);
    if (!o.ok) failed ??= o.error;
    return o;
  };

  if (leaves.length === 1 && leaves[0] === structure.root) {
    // a single-part message: there is no part to remove, only the whole mail
    const outcome = await scanned(mail);
    if (!outcome.ok) return unchanged(false);
    const s = outcome.verdict.status;
    return unchanged(s !== "infected" && !(removeNotScanned && s === "not_scanned") && structure.problems.length === 0);
  }

  const outcomes = await mapBounded(leaves, (leaf) => scanned(entityBytes(mail, leaf, eol)));
  let complete = structure.problems.length === 0;
  const anyInfected = outcomes.some((o) => o.ok && o.verdict.status === "infected");
  const removals: Removal[] = [];
  leaves.forEach((leaf, i) => {
    const o = outcomes[i];
    if (!o.ok) {
      complete = false; // unknown content is kept; the caller must not call the mail clean
      return;
    }
    const v = o.verdict;
    if (v.status === "infected") {
      const names = v.names.length ? v.names : v.detections.map((d) => d.name);
      removals.push({ leaf, names, why: `infected (${listed(names) || "unnamed detection"})` });
    } else if (v.status === "not_scanned" && removeNotScanned) {
      const names = [...new Set(v.notScanned.map((n) => n.name))];
      removals.push({ leaf, names, why: `could not be scanned (${listed(names) || "unknown reason"})` });
    } else if (mode === "rigorous" && anyInfected && !isTextBody(leaf)) {
      removals.push({ leaf, names: [], why: "an attachment of a message in which malware was found" });
    }
  });

  if (removals.length === 0) {
    if (complete) complete = await cleanOnRescan(mail, removeNotScanned, scanned);
    return unchanged(complete);
  }

  // leaves come in document order and never overlap, so the output is one pass of slices
  const pieces: Buffer[] = [];
  let at = 0;
  for (const r of removals) {
    pieces.push(mail.subarray(at, r.leaf.start), noticeEntity(r.leaf, r.why, eol));
    at = r.leaf.end;
  }
  pieces.push(mail.subarray(at));
  const cleaned = Buffer.concat(pieces);
  if (complete) complete = await cleanOnRescan(cleaned, removeNotScanned, scanned);
  return {
    mail: cleaned,
    removed: removals.map((r) => ({ part: partLabel(r.leaf), names: r.names })),
    complete,
    ...(failed !== undefined ? { failed } : {}),
  };
}

/** The final check: the whole (cleaned) mail scans clean, or merely not-scanned in standard mode. */
async function cleanOnRescan(mail: Buffer, strict: boolean, scan: (entity: Buffer) => Promise<ScanOutcome>): Promise<boolean> {
  const o = await scan(mail);
  if (!o.ok) return false;
  return o.verdict.status === "clean" || (!strict && o.verdict.status === "not_scanned");
}
