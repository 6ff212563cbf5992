/**
 * One process-wide budget of bytes held in memory by streams being received: clamd INSTREAM
 * (connection.ts) and the daemon's zBWSCAN/zBWMAIL requests (host/service/frames.ts). Each
 * stream is bounded by its own limit (StreamMaxLength, max_file_size: 100 MB by default) and a
 * server takes DEFAULT_MAX_CONNECTIONS (100) connections, so without this ~10 GB could be held
 * at once by busy or hostile local clients. clamd bounds the same thing by MaxThreads ×
 * StreamMaxLength (10 × 100 MB).
 *
 * A StreamBuffer (framing.ts) charges its capacity here as it grows and gives it back when the
 * stream has been scanned or dropped. A stream that cannot get more is failed at once
 * (INSTREAM: `Can't allocate memory. ERROR`; zBWSCAN: an error verdict; zBWMAIL: defer), rather
 * than made to wait: the size of a stream is not known in advance, so streams that each hold
 * part of the budget and wait for more could wait on each other until every one times out.
 */
import { totalmem } from "node:os";

/** The default budget: 1 GiB, what clamd's defaults allow (MaxThreads 10 × StreamMaxLength
 *  100 MB) and ten default-size streams at once, but never more than a quarter of the machine's
 *  memory, since the scan workers, their unpacked copies and the signatures need the rest. */
export const DEFAULT_STREAM_BUDGET_BYTES = Math.min(1024 * 1024 * 1024, Math.floor(totalmem() / 4));

export class ByteBudget {
  private held = 0;

  constructor(readonly limit: number) {
    if (!(Number.isSafeInteger(limit) && limit >= 0)) throw new RangeError(`byte budget must be a non-negative integer, got ${limit}`);
  }

  /** bytes charged and not yet released */
  get used(): number {
    return this.held;
  }

  /** Charge `n` bytes if the budget has room for them; false (and nothing charged) if not. */
  tryCharge(n: number): boolean {
    if (n <= 0) return true;
    if (this.held + n > this.limit) return false;
    this.held += n;
    return true;
  }

  release(n: number): void {
    if (n <= 0) return;
    if (n > this.held) throw new RangeError(`releasing ${n} bytes, but only ${this.held} are charged`);
    this.held -= n;
  }
}

/** The error a StreamBuffer throws when the budget has no room for its next growth. */
export class BudgetExhausted extends Error {
  constructor(readonly wanted: number, readonly budget: ByteBudget) {
    super(`the memory budget for streams being received is exhausted (${budget.used} of ${budget.limit} bytes held, ${wanted} more wanted)`);
    this.name = "BudgetExhausted";
  }
}

/** The budget shared by every server in this process (the daemon's local socket and its
 *  [clamd] listeners): one machine, one pool of memory. */
export const processStreamBudget = new ByteBudget(DEFAULT_STREAM_BUDGET_BYTES);
