/**
 * Types, bounds and errors of the quarantine (SPEC §8, issue 3): what a caller stores with a
 * message, what `list` returns, and the named limits every amplifying operation is held to.
 */

/** What the caller knows about a quarantined message. Only `names` and `status` are required. */
export interface QuarMeta {
  /** Verdict names (signature or heuristic names), e.g. ["Eicar-Test-Signature"]; may be empty. */
  names: string[];
  /** Why it is here, one word: "infected", "notscanned", "imported", ... */
  status: string;
  sender?: string;
  recipients?: string[];
  /** The agent that quarantined it (smtp, pipe, milter, cli, ...). */
  agent?: string;
  /** Free text, e.g. "action_av_infected = quarantine". */
  reason?: string;
  /** ISO 8601 time the message was received; defaults to the time of `put`. */
  receivedAt?: string;
}

/** One listed message: the latest metadata stored for its id, plus what happened to it since. */
export interface QuarEntry extends Required<Pick<QuarMeta, "names" | "status" | "receivedAt">> {
  id: string;
  size: number;
  sender?: string;
  recipients?: string[];
  agent?: string;
  reason?: string;
  /** ISO time of the (latest) `put` of these bytes. */
  storedAt: string;
  /** Set once the message has been restored (latest restore). */
  restoredAt?: string;
  restoredTo?: string;
}

/** `list` filters; all given ones must match. Text filters match case-insensitive substrings
 *  (`name: "eicar"` finds "Eicar-Test-Signature"); `status` and `agent` match exactly. */
export interface QuarFilter {
  /** receivedAt >= since (ISO string or Date). */
  since?: string | Date;
  /** receivedAt < until. */
  until?: string | Date;
  sender?: string;
  /** Matches any of the recipients. */
  recipient?: string;
  /** Matches any of the verdict names. */
  name?: string;
  status?: string;
  agent?: string;
  /** At most this many entries (newest first); capped at MAX_LIST_ENTRIES. */
  limit?: number;
}

/** Largest message accepted. The same as the scanner's maxFileSize default (host/limits.ts,
 *  ClamAV MaxFileSize 100 MB): anything larger was never scanned, and `get` reads a whole
 *  object into memory, so this also bounds the memory one read can take. */
export const MAX_MESSAGE_BYTES = 100 * 1024 * 1024;

/** Longest journal line written or read back. An event is mostly its recipient list: Postfix's
 *  default smtpd_recipient_limit is 1000 and RFC 5321 §4.5.3.1.3 bounds a path at 256 octets,
 *  so 1000 recipients fit in 256 KiB; twice that leaves room for names and reason. A longer
 *  line met while reading (a damaged file) is skipped without buffering it. */
export const MAX_JOURNAL_LINE_BYTES = 512 * 1024;

/** Most entries one `list` returns (and its default `limit`). A listing is for a person or a
 *  report page; 10,000 lines of ~300 bytes is 3 MB of output, past which a narrower filter helps
 *  more than a longer list. */
export const MAX_LIST_ENTRIES = 10_000;

/** A temp file whose writer process is gone is a crash leftover; one older than this is
 *  removed even if its pid is alive again (pid reuse after a reboot). No honest write of
 *  MAX_MESSAGE_BYTES takes an hour. */
export const TEMP_FILE_MAX_AGE_MS = 60 * 60 * 1000;

/** The id (and object name) of a message: SHA-256 of its bytes, lowercase hex. */
export const ID_PATTERN = /^[0-9a-f]{64}$/;

export class QuarantineError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "QuarantineError";
  }
}

/** The id is not (or no longer) in the quarantine. */
export class QuarantineNotFoundError extends QuarantineError {
  constructor(readonly id: string) {
    super(`quarantine: no message ${id}`);
    this.name = "QuarantineNotFoundError";
  }
}

/** The object's bytes no longer hash to its id (disk damage, tampering). */
export class QuarantineCorruptError extends QuarantineError {
  constructor(readonly id: string, readonly file: string, actual: string) {
    super(`quarantine: object ${file} is corrupt: its content hashes to ${actual}, not to its id ${id}`);
    this.name = "QuarantineCorruptError";
  }
}
