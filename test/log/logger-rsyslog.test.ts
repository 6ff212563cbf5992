/**
 * The syslog target against a real, private rsyslogd (test/log/rsyslog.ts): the configured
 * classes arrive with the configured facility and the class's severity, the others do not, an
 * injected newline stays inside its line, and lines logged while syslog is down arrive once it
 * comes up (restart with back-off). A missing rsyslogd fails these tests.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../host/log/logger.js";
import { MAX_QUEUED_BYTES } from "../../host/log/syslog-pipe.js";
import { LOG_CLASSES } from "../../host/log/types.js";
import { type PrivateRsyslog, startRsyslog, waitFor } from "./rsyslog.js";

let tmp: string;
const daemons: PrivateRsyslog[] = [];

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "bulwark-rsyslog-"));
});
afterAll(async () => {
  for (const d of daemons) await d.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Lines of `rs` whose syslog tag is `tag[<our pid>]:`, without the tag. */
function tagged(rs: PrivateRsyslog, tag: string): string[] {
  const prefix = `${tag}[${process.pid}]:`;
  return rs.lines().flatMap((l) => {
    const [prio, ...rest] = l.split(" ");
    const text = rest.join(" ");
    return text.startsWith(prefix) ? [`${prio} ${text.slice(prefix.length).trimStart()}`] : [];
  });
}

describe("syslog through a private rsyslogd", () => {
  let rs: PrivateRsyslog;
  beforeAll(async () => {
    rs = await startRsyslog(path.join(tmp, "up"));
    daemons.push(rs);
  });

  it("writes exactly the configured classes with facility local3 and each class's severity", async () => {
    const log = createLogger({ facility: "local3", classes: ["error", "summ", "info"], syslog: { socket: rs.socket }, json: false, tag: "bwclasses" });
    for (const cls of LOG_CLASSES) log.log(cls, `one ${cls} line`, { n: 1 });
    log.error("injected hello\nFAKE line\r\nbulwark[1]: clean", { subject: "a\nFAKE2" });
    log.info("sentinel");
    await log.close();
    const got = await waitFor("the sentinel line", () => {
      const l = tagged(rs, "bwclasses");
      return l.some((x) => x.includes("sentinel")) && l;
    });
    expect(got).toEqual([
      "local3.err error: one error line n=1",
      "local3.notice summ: one summ line n=1",
      "local3.info info: one info line n=1",
      "local3.err error: injected hello\\nFAKE line\\r\\nbulwark[1]: clean subject=a\\nFAKE2",
      "local3.info info: sentinel",
    ]);
    // the injected text made no line of its own, under any tag or priority
    expect(rs.lines().filter((l) => l.includes("FAKE") && !l.includes("injected"))).toEqual([]);
  });

  it("uses the facility it is given (mail) and the warning severity", async () => {
    const log = createLogger({ facility: "mail", classes: ["warning", "summall", "debug"], syslog: { socket: rs.socket }, json: false, tag: "bwmail" });
    log.warning("w");
    log.log("summall", "s", { rcpt: ["a@x.example", "b@y.example"], verdict: "clean" });
    log.debug("d");
    log.info("not configured");
    log.error("not configured either");
    log.debug("sentinel");
    await log.close();
    const got = await waitFor("the sentinel line", () => {
      const l = tagged(rs, "bwmail");
      return l.some((x) => x.includes("sentinel")) && l;
    });
    expect(got).toEqual([
      "mail.warning warning: w",
      "mail.notice summall: s rcpt=a@x.example,b@y.example verdict=clean",
      "mail.debug debug: d",
      "mail.debug debug: sentinel",
    ]);
  });
});

describe("syslog that comes up late", () => {
  it("queues lines while the socket is missing, reports it on the JSON target, and delivers after restart", async () => {
    const dir = path.join(tmp, "late");
    const socket = path.join(dir, "log.sock");
    const json = new PassThrough();
    let jsonText = "";
    json.on("data", (d) => (jsonText += d));
    const log = createLogger({ facility: "local5", classes: ["error", "info"], syslog: { socket }, json, tag: "bwlate" });
    log.error("logged before syslog was up");
    const report = await waitFor("the unavailability report", () =>
      jsonText.split("\n").filter(Boolean).map((l) => JSON.parse(l)).find((o) => o.msg.startsWith("syslog is unavailable")));
    expect(report).toMatchObject({ class: "warning", socket, dropped: 0 });
    expect(report.reason).toContain("no socket");

    const rs = await startRsyslog(dir);
    daemons.push(rs);
    log.info("sentinel");
    const got = await waitFor("the sentinel line after restart", () => {
      const l = tagged(rs, "bwlate");
      return l.some((x) => x.includes("sentinel")) && l;
    });
    await log.close();
    expect(got).toEqual(["local5.err error: logged before syslog was up", "local5.info info: sentinel"]);
  });
});

describe("syslog that restarts", () => {
  it("restarts the logger child after rsyslogd went away and came back", async () => {
    const dir = path.join(tmp, "restart");
    let rs = await startRsyslog(dir);
    daemons.push(rs);
    const json = new PassThrough();
    let jsonText = "";
    json.on("data", (d) => (jsonText += d));
    const log = createLogger({ facility: "daemon", classes: ["info"], syslog: { socket: rs.socket }, json, jsonClasses: [], tag: "bwrestart" });
    log.info("before");
    await waitFor("the first line", () => tagged(rs, "bwrestart").length === 1);
    await rs.stop();
    // this one reaches a logger whose socket is gone: it makes the child exit (and may be lost)
    log.info("while down");
    await waitFor("the unavailability report", () => jsonText.includes("syslog is unavailable"));
    log.info("queued");
    rs = await startRsyslog(dir);
    daemons.push(rs);
    log.info("sentinel");
    const got = await waitFor("the sentinel line", () => {
      const l = tagged(rs, "bwrestart");
      return l.some((x) => x.includes("sentinel")) && l;
    });
    await log.close();
    expect(got.filter((l) => l !== "daemon.info info: while down")).toEqual([
      "daemon.info info: before", "daemon.info info: queued", "daemon.info info: sentinel",
    ]);
  });
});

describe("bounded queue", () => {
  it("drops the oldest lines when the queue is full while syslog is down, and reports how many", async () => {
    const dir = path.join(tmp, "full");
    const socket = path.join(dir, "log.sock");
    const json = new PassThrough();
    let jsonText = "";
    json.on("data", (d) => (jsonText += d));
    const log = createLogger({ facility: "local1", classes: ["info"], syslog: { socket }, json, jsonClasses: [], tag: "bwfull" });
    const filler = "x".repeat(7000);
    const total = Math.ceil((MAX_QUEUED_BYTES / 7000) * 1.5); // half as many again as fit
    for (let i = 0; i < total; i++) log.info(`#${i} ${filler}`);
    const rs = await startRsyslog(dir);
    daemons.push(rs);
    log.info("sentinel");
    const got = await waitFor("the sentinel line", () => {
      const l = tagged(rs, "bwfull");
      return l.some((x) => x.includes("sentinel")) && l;
    });
    await log.close();
    const numbers = got.filter((l) => !l.includes("sentinel")).map((l) => Number(/#(\d+) /.exec(l)![1]));
    const dropped = total - numbers.length;
    expect(dropped).toBeGreaterThan(0);
    // the newest survived, in order, and exactly the oldest `dropped` ones are missing
    expect(numbers).toEqual(Array.from({ length: numbers.length }, (_, i) => dropped + i));
    const reported = jsonText.split("\n").filter(Boolean).map((l) => JSON.parse(l)).reduce((n, o) => n + (o.dropped ?? 0), 0);
    expect(reported).toBe(dropped);
  });
});
