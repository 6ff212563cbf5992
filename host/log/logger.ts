/**
 * The daemon's logger (interface: types.ts). Two targets, each with its own class filter:
 *  - JSON lines through pino to a stream (stdout in the foreground) or a file: every line has
 *    `time` (ISO 8601), `class`, `msg`, `pid`, `name` (the tag) and the call's fields;
 *  - syslog through one long-lived `logger` child (syslog-pipe.ts), honouring [global]
 *    syslog_facility and syslog_class; line format and severities in syslog-format.ts.
 *
 * Talks to: the local syslog socket via logger(1); writes: the JSON stream or file it is given.
 * On failure: a log call never throws and never blocks on syslog; a broken syslog is retried
 * and its dropped lines are counted and reported on the JSON target (on stderr when there is
 * none). Only createLogger itself throws, at start-up, for a log file it cannot open.
 *
 * Environment: BULWARK_SYSLOG_SOCKET overrides the syslog socket used by loggerFromConfig
 * (default /dev/log); "off" disables the syslog target. Tests and private daemons point it at a
 * rsyslogd of their own, so that they never write into the machine's system log.
 */
import fs from "node:fs";
import path from "node:path";
import pino from "pino";
import type { Config } from "../config/load.js";
import { SyslogPipe } from "./syslog-pipe.js";
import { SYSLOG_FACILITY_CODES, syslogLine, syslogTag } from "./syslog-format.js";
import { LOG_CLASSES, type LogClass, type LogFields, type Logger } from "./types.js";

export const DEFAULT_SYSLOG_SOCKET = "/dev/log";
export const SYSLOG_SOCKET_ENV = "BULWARK_SYSLOG_SOCKET";
/** JSON lines waiting for a slow log file, in bytes; beyond it lines are dropped and counted
 *  instead of growing the daemon's memory without end (a full or hung disk). */
export const MAX_JSON_BUFFER_BYTES = 4 * 1024 * 1024;
/** close() waits this long for the log file to be flushed and closed. */
const JSON_CLOSE_TIMEOUT_MS = 3_000;

/** pino levels for the classes: higher is more severe, in the manual's order. */
const PINO_LEVELS: Readonly<Record<LogClass, number>> = {
  debug: 20, info: 30, part: 32, partall: 33, summ: 34, summall: 35, warning: 40, error: 50,
};
/** Keys every JSON line sets itself; a field with one of these names is kept as `field_<name>`. */
const RESERVED_KEYS = new Set(["time", "class", "msg", "pid", "name", "hostname", "level"]);

export interface LoggerOptions {
  /** [global] syslog_facility (schema enum), e.g. "daemon", "mail", "local3". */
  facility: string;
  /** [global] syslog_class: classes written to syslog. */
  classes: readonly LogClass[];
  /** Unix socket of the local syslog daemon (default /dev/log); false: no syslog. */
  syslog?: false | { socket: string };
  /** JSON lines (pino) to a stream (stdout in the foreground) or a file path; false: none. */
  json?: NodeJS.WritableStream | string | false;
  /** Classes written to the JSON target (default: all but debug). */
  jsonClasses?: readonly LogClass[];
  /** Syslog tag and pino name, default "bulwark". */
  tag?: string;
}

type PinoLogger = pino.Logger<LogClass>;

interface JsonTarget {
  logger: PinoLogger;
  /** Lines the file could not take (buffer full, write errors). */
  dropped(): number;
  close(): Promise<void>;
}

function openJson(json: NodeJS.WritableStream | string, tag: string, onError: (e: Error) => void): JsonTarget {
  let dropped = 0;
  let dest: NodeJS.WritableStream;
  let close: () => Promise<void>;
  if (typeof json === "string") {
    // opened here, synchronously, so that a bad path stops the start with a clear error
    const fd = fs.openSync(json, "a", 0o640);
    const boom = pino.destination({ fd, sync: false, maxLength: MAX_JSON_BUFFER_BYTES });
    boom.on("drop", () => dropped++);
    boom.on("error", onError);
    dest = boom as unknown as NodeJS.WritableStream;
    close = () => new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, JSON_CLOSE_TIMEOUT_MS);
      boom.once("close", () => { clearTimeout(timer); resolve(); });
      try { boom.end(); } catch { clearTimeout(timer); resolve(); }
    });
  } else {
    dest = json;
    dest.on("error", onError); // EPIPE on a closed stdout must not crash the daemon
    close = async () => { dest.off("error", onError); };
  }
  const logger = pino<LogClass>({
    name: tag,
    level: "debug",
    customLevels: PINO_LEVELS,
    useOnlyCustomLevels: true,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ class: label }) },
  }, dest as pino.DestinationStream);
  return { logger, dropped: () => dropped, close };
}

/** Fields for pino: undefined left out, reserved names renamed so they cannot overwrite ours. */
function jsonFields(fields: LogFields | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!fields) return out;
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    out[RESERVED_KEYS.has(k) ? `field_${k}` : k] = v;
  }
  return out;
}

export function createLogger(opts: LoggerOptions): Logger {
  if (SYSLOG_FACILITY_CODES[opts.facility] === undefined) throw new Error(`bulwark: unknown syslog facility "${opts.facility}"`);
  const tag = syslogTag(opts.tag ?? "bulwark");
  const syslogClasses = new Set<LogClass>(opts.classes);
  const jsonClasses = new Set<LogClass>(opts.jsonClasses ?? LOG_CLASSES.filter((c) => c !== "debug"));
  let closed = false;
  let jsonBroken = false;

  const json = opts.json ? openJson(opts.json, tag, (e) => {
    if (jsonBroken) return;
    jsonBroken = true; // reported once: the target is unusable from here on
    try { process.stderr.write(`bulwark: JSON log target failed, no more JSON lines: ${e.message}\n`); } catch { /* nothing left */ }
  }) : null;

  /** The logger's own trouble (syslog down, lines dropped): to the JSON target whatever its
   *  class filter, since it explains a gap in syslog; to stderr when there is no JSON target. */
  const report = (msg: string, fields: Record<string, string | number>) => {
    try {
      if (json && !jsonBroken) json.logger.warning(jsonFields(fields), msg);
      else process.stderr.write(`bulwark: warning: ${msg} ${JSON.stringify(fields)}\n`);
    } catch { /* never throw into the caller */ }
  };

  const syslog = opts.syslog ? new SyslogPipe({ socket: opts.syslog.socket, tag, report }) : null;

  const log = (cls: LogClass, msg: string, fields?: LogFields): void => {
    if (closed) return;
    try {
      if (json && !jsonBroken && jsonClasses.has(cls)) json.logger[cls](jsonFields(fields), String(msg));
    } catch { /* a bad stream must not take the caller down */ }
    try {
      if (syslog && syslogClasses.has(cls)) syslog.send(syslogLine(opts.facility, cls, String(msg), fields));
    } catch { /* idem */ }
  };

  return {
    log,
    error: (msg, fields) => log("error", msg, fields),
    warning: (msg, fields) => log("warning", msg, fields),
    info: (msg, fields) => log("info", msg, fields),
    debug: (msg, fields) => log("debug", msg, fields),
    line(msg: string) {
      const m = /^(error|warning): ?/.exec(msg);
      if (m) log(m[1] as LogClass, msg.slice(m[0].length));
      else log("info", msg);
    },
    async close() {
      if (closed) return;
      closed = true;
      try { await syslog?.close(); } catch { /* closing must not fail */ }
      if (json) {
        const lost = json.dropped();
        if (lost > 0) report("JSON log lines were dropped (log file too slow or failing)", { dropped: lost });
        try { await json.close(); } catch { /* idem */ }
      }
    },
  };
}

/**
 * The daemon's logger from [global] syslog_facility / syslog_class: JSON to `logFile` when
 * given, else to stdout in the foreground; syslog on BULWARK_SYSLOG_SOCKET or /dev/log.
 */
export function loggerFromConfig(config: Config, target: { foreground: boolean; logFile?: string }): Logger {
  const env = process.env[SYSLOG_SOCKET_ENV];
  const socket = env === undefined || env === "" ? DEFAULT_SYSLOG_SOCKET : env;
  return createLogger({
    facility: config.str("global", "syslog_facility"),
    classes: config.list("global", "syslog_class") as readonly LogClass[],
    syslog: socket === "off" ? false : { socket: path.resolve(socket) },
    json: target.logFile ?? (target.foreground ? process.stdout : false),
  });
}
