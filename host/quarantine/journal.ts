/**
 * The quarantine's append-only journal: one JSON line per event (stored, restored, deleted),
 * the single source of truth for metadata. Appends are group-committed: lines queued while a
 * write+fsync is in flight go out together in the next one, and each append resolves only
 * after the fsync that covers it. Reading back tolerates a crash: a last line cut mid-write,
 * invalid JSON, an unknown shape or an over-long line is skipped with a warning, never fatal
 * (a last line lacking only its newline is a whole event and is kept).
 */
import fsp from "node:fs/promises";
import { FILE_MODE } from "./durable.js";
import { ID_PATTERN, MAX_JOURNAL_LINE_BYTES, QuarantineError, type QuarMeta } from "./types.js";

export type JournalEvent =
  | { v: 1; ev: "stored"; id: string; at: string; size: number; meta: QuarMeta }
  | { v: 1; ev: "restored"; id: string; at: string; to: string }
  | { v: 1; ev: "deleted"; id: string; at: string };

const READ_CHUNK_BYTES = 64 * 1024;
const NL = 0x0a;

/** Check a parsed line's shape; returns a reason when it is not an event we wrote. */
function invalidReason(o: unknown): string | null {
  if (typeof o !== "object" || o === null) return "not an object";
  const e = o as Record<string, unknown>;
  if (e.v !== 1) return `unknown version ${JSON.stringify(e.v)}`;
  if (typeof e.id !== "string" || !ID_PATTERN.test(e.id)) return "bad id";
  if (typeof e.at !== "string" || Number.isNaN(Date.parse(e.at))) return "bad time";
  if (e.ev === "stored") {
    const m = e.meta as Record<string, unknown> | undefined;
    if (typeof e.size !== "number" || !m || !Array.isArray(m.names) || typeof m.status !== "string") return "bad stored event";
    return null;
  }
  if (e.ev === "restored") return typeof e.to === "string" ? null : "bad restored event";
  if (e.ev === "deleted") return null;
  return `unknown event ${JSON.stringify(e.ev)}`;
}

/**
 * Read every valid event of the journal in order, reading in fixed chunks so a damaged file
 * with a huge line never needs more than MAX_JOURNAL_LINE_BYTES of buffer. Returns whether
 * the file ends without a newline (a torn last write) so the writer can close it off.
 */
export async function readJournal(
  file: string,
  onEvent: (e: JournalEvent) => void,
  warn: (message: string) => void,
): Promise<{ tornTail: boolean; skipped: number }> {
  let h;
  try {
    h = await fsp.open(file, "r");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return { tornTail: false, skipped: 0 };
    throw e;
  }
  let skipped = 0;
  let lineNo = 0;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let overlong = false; // dropping the rest of a line past the bound

  const finishLine = (complete: boolean): void => {
    lineNo++;
    if (overlong) {
      skipped++;
      warn(`${file}:${lineNo}: line longer than ${MAX_JOURNAL_LINE_BYTES} bytes, skipped`);
    } else if (pendingBytes > 0) {
      const text = Buffer.concat(pending, pendingBytes).toString("utf8");
      let reason: string | null;
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
        reason = invalidReason(parsed);
      } catch {
        reason = "invalid JSON";
      }
      if (!complete) {
        // A crash cut the last write. If only the newline is missing the event is whole and
        // is kept (the writer then closes the line off, so every later open agrees).
        if (reason) reason = `last line cut by a crash (no newline), ${reason}`;
        else warn(`${file}:${lineNo}: last line has no newline but is a whole event; kept`);
      }
      if (reason) {
        skipped++;
        warn(`${file}:${lineNo}: ${reason}, skipped`);
      } else {
        onEvent(parsed as JournalEvent);
      }
    }
    pending = [];
    pendingBytes = 0;
    overlong = false;
  };

  const buf = Buffer.alloc(READ_CHUNK_BYTES);
  try {
    for (;;) {
      const { bytesRead } = await h.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      let start = 0;
      while (start < bytesRead) {
        const nl = buf.indexOf(NL, start);
        const end = nl === -1 || nl >= bytesRead ? bytesRead : nl;
        if (!overlong) {
          if (pendingBytes + (end - start) > MAX_JOURNAL_LINE_BYTES) {
            overlong = true;
            pending = [];
            pendingBytes = 0;
          } else if (end > start) {
            pending.push(Buffer.from(buf.subarray(start, end)));
            pendingBytes += end - start;
          }
        }
        if (end === bytesRead) break;
        finishLine(true);
        start = end + 1;
      }
    }
  } finally {
    await h.close();
  }
  const tornTail = pendingBytes > 0 || overlong;
  if (tornTail) finishLine(false);
  return { tornTail, skipped };
}

/** The event as a journal line (with its newline); throws when it is over the line bound. */
export function checkLineSize(event: JournalEvent): string {
  const line = JSON.stringify(event) + "\n";
  const bytes = Buffer.byteLength(line);
  if (bytes > MAX_JOURNAL_LINE_BYTES) {
    throw new QuarantineError(`quarantine: metadata of ${event.id} is ${bytes} bytes as a journal line, over the ${MAX_JOURNAL_LINE_BYTES}-byte bound`);
  }
  return line;
}

/** The appending side; one per open store. */
export class JournalWriter {
  private queue: { line: string; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private flushing = false;
  /** Set after a failed write: the file may now end in a partial line that the next append
   *  would be glued onto, so this writer refuses further appends (reopening the store
   *  closes the torn line off and skips it). */
  private broken: unknown = null;

  private constructor(private readonly handle: fsp.FileHandle, readonly file: string) {}

  /** Open for appending (O_APPEND, so other processes' appends interleave by whole writes).
   *  With `closeTornTail`, first end a torn last line with a newline, so the next event starts
   *  on a line of its own and the torn one stays a skipped line instead of corrupting it. */
  static async open(file: string, closeTornTail: boolean): Promise<JournalWriter> {
    const handle = await fsp.open(file, "a", FILE_MODE);
    if (closeTornTail) {
      await handle.write("\n");
      await handle.sync();
    }
    return new JournalWriter(handle, file);
  }

  /** Append one event; resolves after the fsync that makes it durable. */
  append(event: JournalEvent): Promise<void> {
    let line: string;
    try {
      line = checkLineSize(event);
    } catch (e) {
      return Promise.reject(e);
    }
    if (this.broken) return Promise.reject(new QuarantineError(`quarantine: journal ${this.file} had a write error; reopen the store`));
    return new Promise((resolve, reject) => {
      this.queue.push({ line, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    while (this.queue.length) {
      const batch = this.queue;
      this.queue = [];
      try {
        if (this.broken) throw new QuarantineError(`quarantine: journal ${this.file} had a write error; reopen the store`);
        // writeFile loops until every byte is written; O_APPEND puts it at the end.
        await this.handle.writeFile(batch.map((b) => b.line).join(""));
        await this.handle.sync();
        for (const b of batch) b.resolve();
      } catch (e) {
        this.broken ??= e;
        for (const b of batch) b.reject(e);
      }
    }
    this.flushing = false;
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}
