/**
 * Every bound on an amplifying operation, named once, with why that number.
 * Defaults follow clamd.conf where ClamAV has the same knob, so an administrator's
 * intuition carries over; unlike ClamAV, exceeding any of them is a verdict of its own
 * (Heuristics.Limits.Exceeded.<Which>), never "clean".
 */
export interface Limits {
  /** Max container nesting (zip in mail in zip ...). ClamAV MaxRecursion default 17:
   *  legitimate mail rarely nests beyond 5; 42.zip-style bombs need depth to multiply. */
  maxRecursion: number;
  /** Max objects extracted from one input. ClamAV MaxFiles 10000: covers real archives
   *  (source tarballs) while stopping "one million empty files" bombs. */
  maxFiles: number;
  /** Max bytes extracted and scanned in total for one input. ClamAV MaxScanSize 400 MB:
   *  bounds the work an attacker can force from one small message. */
  maxScanSize: number;
  /** Max size of any single object (input or extracted member). ClamAV MaxFileSize 100 MB. */
  maxFileSize: number;
  /** Max wall time for one input, in ms. ClamAV MaxScanTime 120 s; a gateway must answer
   *  well inside Postfix's 100 s proxy timeout, so we default lower (60 s). */
  maxScanTime: number;
  /** Max expansion ratio of one compressed member (output / input). Real data compresses
   *  below 100:1 (text ~10:1); zero-filled bombs reach 1000:1 and beyond. */
  maxRatio: number;
  /** Max MIME parts in one message. ClamAV HEURISTIC_EMAIL_MAX_MIME_PARTS_PER_MESSAGE 1024. */
  maxMimeParts: number;
  /** Max MIME multipart nesting inside one message; counted separately from archives
   *  because each level is cheap to write (a few bytes of boundary). postal-mime uses 256;
   *  we stop earlier since no real client nests beyond ~10. */
  maxMimeDepth: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxRecursion: 17,
  maxFiles: 10_000,
  maxScanSize: 400 * 1024 * 1024,
  maxFileSize: 100 * 1024 * 1024,
  maxScanTime: 60_000,
  maxRatio: 1_000,
  maxMimeParts: 1_024,
  maxMimeDepth: 64,
});

/** Names used in verdicts: Heuristics.Limits.Exceeded.<name> */
export type LimitName =
  | "MaxRecursion"
  | "MaxFiles"
  | "MaxScanSize"
  | "MaxFileSize"
  | "MaxScanTime"
  | "MaxRatio"
  | "EmailMIMEPartsPerMessage"
  | "EmailMIMEDepth";

export class LimitExceeded extends Error {
  constructor(public readonly limit: LimitName, detail = "") {
    super(`Heuristics.Limits.Exceeded.${limit}${detail ? `: ${detail}` : ""}`);
    this.name = "LimitExceeded";
  }
  get verdictName(): string {
    return `Heuristics.Limits.Exceeded.${this.limit}`;
  }
}
