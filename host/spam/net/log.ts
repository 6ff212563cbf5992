/**
 * Where the network checks log: the daemon's Logger (host/log/types.ts) or a plain line function
 * (the older `(line) => void` style, where a leading "warning: " picks the class, as
 * Logger.line does).
 */
import type { LogFields, Logger } from "../../log/types.js";

export type NetLog = Pick<Logger, "warning" | "debug"> | ((line: string) => void);

export interface NetLogger {
  warning(msg: string, fields?: LogFields): void;
  debug(msg: string, fields?: LogFields): void;
}

const fieldText = (fields?: LogFields) =>
  fields ? Object.entries(fields).filter(([, v]) => v !== undefined).map(([k, v]) => ` ${k}=${Array.isArray(v) ? v.join("; ") : String(v)}`).join("") : "";

/** A logger that never throws, whatever `log` is (or nothing). */
export function netLog(log: NetLog | undefined): NetLogger {
  if (!log) return { warning: () => {}, debug: () => {} };
  if (typeof log === "function") {
    return {
      warning: (msg, fields) => log(`warning: anti-spam: ${msg}${fieldText(fields)}`),
      // debug lines would be info lines through a line function: keep them out of its log
      debug: () => {},
    };
  }
  return { warning: (m, f) => log.warning(m, f), debug: (m, f) => log.debug(m, f) };
}
