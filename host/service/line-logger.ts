/**
 * A Logger (host/log/types.ts) over a `(line) => void` function, for a daemon that still logs
 * plain lines: each call becomes one line `class: msg key=value ...` when its class is among
 * `classes()` ([global] syslog_class, read at each call so a reload applies). error and warning
 * lines are always written: a deferred mail must never go unexplained.
 */
import type { LogClass, LogFields, Logger } from "../log/types.js";

/** Longest field value written; recipient lists and reasons are attacker-influenced text. */
const MAX_FIELD_TEXT = 512;

function fieldText(fields?: LogFields): string {
  if (!fields) return "";
  const parts: string[] = [];
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    let t = Array.isArray(v) ? v.join(",") : String(v);
    if (t.length > MAX_FIELD_TEXT) t = `${t.slice(0, MAX_FIELD_TEXT)}...`;
    parts.push(`${k}=${JSON.stringify(t)}`);
  }
  return parts.length ? ` ${parts.join(" ")}` : "";
}

export function lineLogger(write: (line: string) => void, classes: () => readonly string[]): Logger {
  const log = (cls: LogClass, msg: string, fields?: LogFields) => {
    try {
      if (cls !== "error" && cls !== "warning" && !classes().includes(cls)) return;
      write(`${cls}: ${msg}${fieldText(fields)}`.replace(/[\r\n]+/g, " "));
    } catch {
      /* a log call never throws */
    }
  };
  return {
    log,
    error: (m, f) => log("error", m, f),
    warning: (m, f) => log("warning", m, f),
    info: (m, f) => log("info", m, f),
    debug: (m, f) => log("debug", m, f),
    line: (m) => {
      const cls = m.startsWith("error: ") ? "error" : m.startsWith("warning: ") ? "warning" : "info";
      log(cls, cls === "info" ? m : m.slice(cls.length + 2));
    },
    close: async () => {},
  };
}
