/**
 * Parsers for command-line values: clamscan-style sizes ("100M", "25K", "4000M") and
 * plain non-negative integers. They throw CliUsageError with a message naming the option,
 * so a typo is a clear error (exit 2), never a silently different limit.
 */

export class CliUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CliUsageError";
  }
}

/** Largest size we accept: 2^53 - 1 bytes is the largest integer a JS number holds exactly.
 *  Anything bigger is certainly a typo, and rounding would silently change the limit. */
const MAX_SIZE = Number.MAX_SAFE_INTEGER;

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  k: 1024,
  m: 1024 * 1024,
  g: 1024 * 1024 * 1024,
};

/**
 * Parse a clamscan-style size: digits with an optional K, M or G suffix (either case),
 * binary multiples as in clamscan ("100M" = 100 * 2^20 bytes). clamscan itself accepts
 * only K and M; G is accepted here because corpora of several GB are ordinary.
 */
export function parseSize(option: string, text: string): number {
  const m = /^(\d+)([kKmMgG]?)$/.exec(text.trim());
  if (!m) throw new CliUsageError(`Incorrect argument format for option ${option}: "${text}" (expected e.g. 25K, 100M, 1G or a byte count)`);
  const value = Number(m[1]) * SIZE_UNITS[m[2].toLowerCase()];
  if (!Number.isSafeInteger(value) || value > MAX_SIZE) throw new CliUsageError(`Value too large for option ${option}: "${text}"`);
  return value;
}

/** Parse a non-negative decimal integer (counts, milliseconds). */
export function parseCount(option: string, text: string): number {
  if (!/^\d+$/.test(text.trim())) throw new CliUsageError(`Incorrect argument format for option ${option}: "${text}" (expected a non-negative integer)`);
  const value = Number(text.trim());
  if (!Number.isSafeInteger(value)) throw new CliUsageError(`Value too large for option ${option}: "${text}"`);
  return value;
}
