/**
 * Logger units: PRI and severities, escaping (one call = one line), bounding, JSON lines parsed
 * back, class filtering on the JSON target, the `line()` compatibility, and the failure paths
 * of the syslog target (no socket, no logger binary) that must report instead of throwing.
 */
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfigText } from "../../host/config/load.js";
import { createLogger, loggerFromConfig } from "../../host/log/logger.js";
import {
  MAX_SYSLOG_TEXT_BYTES, escapeLogText, syslogLine, syslogPri, syslogTag, syslogText, truncateUtf8,
} from "../../host/log/syslog-format.js";
import { SyslogPipe } from "../../host/log/syslog-pipe.js";
import { LOG_CLASSES } from "../../host/log/types.js";
import { waitFor } from "./rsyslog.js";

let tmp: string;
beforeAll(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), "bulwark-log-"))));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function jsonSink(): { stream: PassThrough; lines: () => Array<Record<string, unknown>> } {
  const stream = new PassThrough();
  let text = "";
  stream.on("data", (d) => (text += d));
  return { stream, lines: () => text.split("\n").filter(Boolean).map((l) => JSON.parse(l)) };
}

describe("PRI", () => {
  it("is facility * 8 + the class's severity", () => {
    expect(syslogPri("daemon", "error")).toBe(3 * 8 + 3);
    expect(syslogPri("mail", "warning")).toBe(2 * 8 + 4);
    expect(syslogPri("mail", "summ")).toBe(2 * 8 + 5);
    expect(syslogPri("local3", "info")).toBe(19 * 8 + 6);
    expect(syslogPri("local7", "debug")).toBe(23 * 8 + 7);
    expect(syslogPri("authpriv", "part")).toBe(10 * 8 + 5);
  });
  it("maps kern to user (a process may not log as the kernel)", () => {
    expect(syslogPri("kern", "error")).toBe(1 * 8 + 3);
  });
  it("rejects an unknown facility", () => {
    expect(() => syslogPri("local8", "info")).toThrow(/unknown syslog facility/);
    expect(() => createLogger({ facility: "nope", classes: [] })).toThrow(/unknown syslog facility "nope"/);
  });
});

describe("escaping and bounding", () => {
  it("turns every control character into a visible escape", () => {
    expect(escapeLogText("a\r\nb\tc\x00d\x1be\x7ff\u0085g\u2028h\\i")).toBe("a\\r\\nb\\tc\\x00d\\x1be\\x7ff\\x85g\\u2028h\\\\i");
  });
  it("keeps one call on one line, fields included", () => {
    const line = syslogLine("mail", "summ", "subject\nFAKE", { "ba d\nkey": "x\r\ny", list: ["p q", "r,s"], empty: "", no: undefined, z: null, ok: true, n: 3 });
    expect(line).toBe('<21>summ: subject\\nFAKE ba_d_key=x\\r\\ny list="p q,r\\x2cs" empty="" z=null ok=true n=3\n');
    expect(line.slice(0, -1)).not.toMatch(/[\r\n]/);
  });
  it("quotes a value with spaces, quotes or = so key=value pairs stay unambiguous", () => {
    expect(syslogText("info", "m", { a: 'x "y" z', b: "k=v" })).toBe('info: m a="x \\"y\\" z" b="k=v"');
  });
  it("cuts a long line to the named bound on a character boundary, marked", () => {
    const text = syslogText("info", "é".repeat(MAX_SYSLOG_TEXT_BYTES));
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(MAX_SYSLOG_TEXT_BYTES);
    expect(text).toMatch(/é \.\.\.\[truncated\]$/);
    expect(text).not.toContain("\ufffd");
    expect(truncateUtf8("short", 100)).toBe("short");
  });
  it("makes a safe tag", () => {
    expect(syslogTag("bul wark[1]:")).toBe("bul_wark_1__");
    expect(syslogTag("")).toBe("bulwark");
    expect(syslogTag("x".repeat(40))).toHaveLength(32);
  });
});

describe("JSON target", () => {
  it("writes time, class, msg, pid, name and the fields; all classes but debug by default", async () => {
    const sink = jsonSink();
    const log = createLogger({ facility: "daemon", classes: [], syslog: false, json: sink.stream, tag: "bwjson" });
    for (const cls of LOG_CLASSES) log.log(cls, `m ${cls}`, { agent: "pipe", size: 12, rcpt: ["a@b"], gone: undefined });
    log.info("reserved", { msg: "forged", class: "error", time: "never", pid: 1 });
    await log.close();
    const lines = sink.lines();
    expect(lines.map((l) => l.class)).toEqual([...LOG_CLASSES.filter((c) => c !== "debug"), "info"]);
    const first = lines[0];
    expect(first).toMatchObject({ class: "error", msg: "m error", pid: process.pid, name: "bwjson", agent: "pipe", size: 12, rcpt: ["a@b"] });
    expect(first).not.toHaveProperty("gone");
    expect(Number.isNaN(Date.parse(String(first.time)))).toBe(false);
    expect(lines.at(-1)).toMatchObject({ class: "info", msg: "reserved", pid: process.pid, field_msg: "forged", field_class: "error", field_time: "never", field_pid: 1 });
  });

  it("honours jsonClasses and keeps a newline inside one JSON line", async () => {
    const sink = jsonSink();
    const log = createLogger({ facility: "daemon", classes: [], syslog: false, json: sink.stream, jsonClasses: ["debug", "part"] });
    log.info("no");
    log.debug("yes\nFAKE");
    log.log("part", "p");
    log.log("partall", "no");
    await log.close();
    expect(sink.lines().map((l) => [l.class, l.msg])).toEqual([["debug", "yes\nFAKE"], ["part", "p"]]);
  });

  it("writes to a file path and flushes on close", async () => {
    const file = path.join(tmp, "bulwark.json");
    const log = createLogger({ facility: "daemon", classes: [], syslog: false, json: file });
    for (let i = 0; i < 500; i++) log.info("file line", { i });
    await log.close();
    const lines = fs.readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
    expect(lines.map((l) => l.i)).toEqual(Array.from({ length: 500 }, (_, i) => i));
  });

  it("refuses a log file it cannot open, at creation", () => {
    expect(() => createLogger({ facility: "daemon", classes: [], json: path.join(tmp, "missing-dir", "x.json") })).toThrow(/ENOENT/);
  });

  it("maps line() prefixes to classes", async () => {
    const sink = jsonSink();
    const log = createLogger({ facility: "daemon", classes: [], syslog: false, json: sink.stream });
    log.line("error: broken");
    log.line("warning: odd");
    log.line("ready: config x");
    await log.close();
    log.info("after close is ignored");
    await log.close();
    expect(sink.lines().map((l) => [l.class, l.msg])).toEqual([["error", "broken"], ["warning", "odd"], ["info", "ready: config x"]]);
  });
});

describe("syslog failures never throw", () => {
  it("without a socket: reports on the JSON target and counts the queued lines as dropped on close", async () => {
    const sink = jsonSink();
    const log = createLogger({ facility: "local3", classes: ["error", "info"], syslog: { socket: path.join(tmp, "no.sock") }, json: sink.stream, jsonClasses: [] });
    log.error("a");
    log.info("b");
    log.debug("not a syslog class");
    await log.close();
    const reports = sink.lines();
    expect(reports[0]).toMatchObject({ class: "warning", msg: "syslog is unavailable; lines are queued and retried", dropped: 0 });
    expect(reports.at(-1)).toMatchObject({ class: "warning", msg: "syslog lines were dropped", dropped: 2 });
  });

  it("without the logger program: reports why and retries", async () => {
    const socket = path.join(tmp, "stream.sock");
    const server = net.createServer().listen(socket); // any socket file passes the existence check
    await new Promise((r) => server.once("listening", r));
    const reports: Array<[string, Record<string, string | number>]> = [];
    const pipe = new SyslogPipe({ socket, tag: "t", command: path.join(tmp, "no-such-logger"), report: (m, f) => reports.push([m, f]) });
    pipe.send("<14>x\n");
    const [msg, fields] = await waitFor("a report", () => reports[0]);
    await pipe.close();
    server.close();
    expect(msg).toMatch(/unavailable/);
    expect(String(fields.reason)).toMatch(/ENOENT/);
    expect(pipe.droppedTotal).toBe(1);
  });
});

describe("loggerFromConfig", () => {
  it("takes facility and classes from [global], the socket from BULWARK_SYSLOG_SOCKET, JSON to the log file", async () => {
    const { config, globalErrors } = loadConfigText("[global]\nsyslog_facility = mail\nsyslog_class = error:info\n", path.join(tmp, "b.cfg"));
    expect(globalErrors).toEqual([]);
    const socket = path.join(tmp, "env.sock");
    const file = path.join(tmp, "from-config.json");
    const saved = process.env.BULWARK_SYSLOG_SOCKET;
    process.env.BULWARK_SYSLOG_SOCKET = socket;
    try {
      const log = loggerFromConfig(config, { foreground: true, logFile: file });
      log.info("hello");
      log.debug("not in JSON by default");
      await log.close();
    } finally {
      if (saved === undefined) delete process.env.BULWARK_SYSLOG_SOCKET;
      else process.env.BULWARK_SYSLOG_SOCKET = saved;
    }
    const lines = fs.readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
    expect(lines.map((l) => l.msg)).toEqual(["syslog is unavailable; lines are queued and retried", "hello", "syslog lines were dropped"]);
    expect(lines[0].socket).toBe(socket);
    expect(lines[2].dropped).toBe(1); // info is a syslog class here, debug is not
  });
});
