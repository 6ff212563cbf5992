/**
 * The logging interface every part of the daemon writes to (implementation: host/log/logger.ts).
 * Classes are the manual's `syslog_class` values (SPEC §10):
 *   error    something failed (a request was deferred, a file could not be written)
 *   warning  something is wrong but work goes on (an agent disabled, a reload refused)
 *   summall  one summary line per scanned message, whatever the verdict
 *   summ     one summary line per message that was infected or not scanned
 *   partall  one line per scanned part (attachment, archive member) of a message
 *   part     one line per infected or not-scanned part
 *   info     start, stop, reload, signature counts
 *   debug    protocol-level detail for troubleshooting
 */
export const LOG_CLASSES = ["error", "warning", "summall", "summ", "partall", "part", "info", "debug"] as const;
export type LogClass = (typeof LOG_CLASSES)[number];

/** Structured fields logged with a line (JSON targets keep them; syslog gets `msg key=value ...`). */
export type LogFields = Record<string, string | number | boolean | null | undefined | string[]>;

export interface Logger {
  log(cls: LogClass, msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  warning(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  debug(msg: string, fields?: LogFields): void;
  /** Compatibility with the older `(line) => void` log functions: a leading "error: " or
   *  "warning: " picks that class (and is removed), anything else is info. */
  line(msg: string): void;
  /** Flush and release targets (the syslog child, files). Idempotent. */
  close(): Promise<void>;
}
