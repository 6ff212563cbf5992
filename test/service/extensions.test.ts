/**
 * The clamd server's extension hook and the daemon's zBWSCAN/zBWMAIL handlers, in process on a
 * unix socket in a temp dir, with a real scanner (built-in EICAR signature), real statistics
 * and a real quarantine. clamd's own commands must behave as without extensions (the
 * conformance tests in test/clamd/ check the server without them against real clamd).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { daemonMail, daemonScan } from "../../agents/common/daemon-client.js";
import type { Scanner } from "../../host/api.js";
import { type ClamdServer, startClamdServer } from "../../host/clamd/server.js";
import { type Config, loadConfigText } from "../../host/config/load.js";
import type { LogClass, Logger } from "../../host/log/types.js";
import { openQuarantine, type QuarantineStore } from "../../host/quarantine/store.js";
import { createScanner } from "../../host/scanner.js";
import { encodeMessage, FramedMessageDecoder } from "../../host/service/frames.js";
import { createDaemonExtensions } from "../../host/service/extensions.js";
import { Statistics } from "../../host/stats/counters.js";
import { EICAR } from "../daemon/daemon-process.js";

let dir: string;
let scanner: Scanner;
let server: ClamdServer;
let sock: string;
let config: Config;
let quarantine: QuarantineStore;
const stats = new Statistics();
const lines: Array<{ cls: LogClass; msg: string }> = [];

const logger: Logger = {
  log: (cls, msg) => void lines.push({ cls, msg }),
  error: (msg) => void lines.push({ cls: "error", msg }),
  warning: (msg) => void lines.push({ cls: "warning", msg }),
  info: (msg) => void lines.push({ cls: "info", msg }),
  debug: (msg) => void lines.push({ cls: "debug", msg }),
  line: (msg) => void lines.push({ cls: "info", msg }),
  close: async () => {},
};

const MAX = 8192;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "bulwark-service-"));
  writeFileSync(join(dir, "bulwark.cfg"), `[global]\ncache_dir = "${dir}"\nmax_file_size = ${MAX}\n`);
  config = loadConfigText(`[global]\ncache_dir = "${dir}"\nmax_file_size = ${MAX}\n[smtp]\nagent_enabled = no\n`, join(dir, "bulwark.cfg")).config;
  scanner = await createScanner({ workers: 0, cacheDir: null });
  quarantine = await openQuarantine(join(dir, "quarantine"), { warn: () => {} });
  sock = join(dir, "d.sock");
  server = await startClamdServer({
    scanner,
    listen: { path: sock },
    streamMaxLength: MAX,
    extensions: createDaemonExtensions({ config: () => config, scanner: () => scanner, stats, quarantine, log: logger }),
  });
});

afterAll(async () => {
  await server?.close();
  await scanner?.close();
  await quarantine?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Write `pieces` one by one (each its own write), half-close, and collect everything until close. */
function exchange(pieces: Buffer[], halfClose = true): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const c = net.createConnection({ path: sock });
    const got: Buffer[] = [];
    c.on("data", (d) => got.push(d));
    c.on("error", reject);
    c.on("close", () => resolve(Buffer.concat(got)));
    c.on("connect", async () => {
      for (const p of pieces) {
        c.write(p);
        await new Promise((r) => setImmediate(r));
      }
      if (halfClose) c.end();
    });
  });
}

const bytes = (s: string) => Buffer.from(s, "latin1");
function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

function decodeReply(reply: Buffer): unknown {
  const d = new FramedMessageDecoder({ maxHead: 1 << 20, maxBody: 1 << 20, hasBody: (h) => (h as { rewritten?: boolean }).rewritten === true });
  d.push(reply);
  expect(d.error).toBeUndefined();
  expect(d.complete).toBe(true);
  return d.head;
}

describe("the extension hook keeps clamd's protocol", () => {
  it("PING, VERSIONCOMMANDS (without the private commands) and INSTREAM sent one byte at a time", async () => {
    expect((await exchange([bytes("zPING\0")])).toString()).toBe("PONG\0");
    expect((await exchange([bytes("PING\n")])).toString()).toBe("PONG\n");
    const vc = (await exchange([bytes("nVERSIONCOMMANDS\n")])).toString();
    expect(vc).toMatch(/COMMANDS: .*INSTREAM/);
    expect(vc).not.toMatch(/BW/);
    const stream = Buffer.concat([bytes("zINSTREAM\0"), u32(EICAR.length), EICAR, u32(0)]);
    const split = [...stream].map((b) => Buffer.from([b]));
    expect((await exchange(split)).toString()).toMatch(/^stream: .*Eicar.* FOUND\0$/i);
  });

  it("a command that starts like a private one but is not one is clamd's (UNKNOWN COMMAND)", async () => {
    expect((await exchange([bytes("zBW"), bytes("FOO\0")])).toString()).toBe("UNKNOWN COMMAND\0");
    expect((await exchange([bytes("zBWSCANX\0")])).toString()).toBe("UNKNOWN COMMAND\0");
    // cut short and half-closed: closed without a reply, as clamd's connection does
    expect((await exchange([bytes("zBWSC")])).length).toBe(0);
  });

  it("the private command's bytes may be split anywhere, request included", async () => {
    const req = Buffer.concat([bytes("zBWSCAN\0"), ...encodeMessage({ agent: "cli" }, EICAR, 7)]);
    for (const cut of [1, 3, 7, 8, 9, 12, req.length - 1]) {
      const v = decodeReply(await exchange([req.subarray(0, cut), req.subarray(cut)])) as { status: string; names: string[] };
      expect(v.status, `cut at ${cut}`).toBe("infected");
      expect(v.names[0]).toMatch(/eicar/i);
    }
  });
});

describe("zBWSCAN and zBWMAIL", () => {
  it("BWSCAN counts objects, not messages, for its agent", async () => {
    const before = stats.snapshot().agents.cli;
    expect((await daemonScan(sock, "cli", Buffer.from("harmless\n"))).status).toBe("clean");
    expect((await daemonScan(sock, "cli", EICAR)).status).toBe("infected");
    const after = stats.snapshot().agents.cli;
    expect(after.scanned - before.scanned).toBe(2);
    expect(after.infected - before.infected).toBe(1);
    expect(after.accepted + after.rejected + after.deferred + after.discarded).toBe(0);
  });

  it("BWSCAN of an object over max_file_size is not scanned (never clean)", async () => {
    const v = await daemonScan(sock, "cli", Buffer.alloc(MAX + 1, 0x61));
    expect(v.status).toBe("not_scanned");
    expect(v.notScanned[0].name).toBe("Heuristics.Limits.Exceeded.MaxFileSize");
  });

  it("a disabled agent or an unknown one gets an error verdict / a defer", async () => {
    expect((await daemonScan(sock, "smtp", EICAR)).status).toBe("error");
    const a = await daemonMail(sock, { agent: "smtp" }, Buffer.from("x"), MAX);
    expect(a.ok && a.result.action).toBe("defer");
    const bad = decodeReply(await exchange([bytes("zBWMAIL\0"), ...encodeMessage({ agent: "nobody" }, Buffer.from("x"))])) as { action: string; reason: string };
    expect(bad).toMatchObject({ action: "defer" });
    expect(bad.reason).toMatch(/unknown agent "nobody"/);
  });

  it("hostile requests get a defer and are logged at error: huge metadata, not JSON, cut short", async () => {
    const n = lines.length;
    const huge = decodeReply(await exchange([bytes("zBWMAIL\0"), u32(0x7fffffff)], false)) as { action: string; reason: string };
    expect(huge.action).toBe("defer");
    expect(huge.reason).toMatch(/over the 65536-byte limit/);
    const junk = decodeReply(await exchange([bytes("zBWMAIL\0"), u32(3), bytes("{{{")])) as { action: string };
    expect(junk.action).toBe("defer");
    // a peer that half-closes mid-request (the server allows half-open sockets) still hears the defer, and it is logged
    const cut = decodeReply(await exchange([bytes("zBWMAIL\0"), ...encodeMessage({ agent: "pipe" }).slice(0, 2), u32(10), bytes("abc")])) as { action: string; reason: string };
    expect(cut.action).toBe("defer");
    expect(cut.reason).toMatch(/closed the connection before the end of its request/);
    const errors = lines.slice(n).filter((l) => l.cls === "error").map((l) => l.msg);
    expect(errors).toHaveLength(3);
    expect(errors[2]).toMatch(/closed the connection before the end of its request/);
  });

  it("BWMAIL: one decision per message in the statistics, objects separately; summary and part lines logged", async () => {
    const before = stats.snapshot().agents.pipe;
    const n = lines.length;
    const mail = Buffer.concat([Buffer.from("Subject: t\n\n"), EICAR]);
    const a = await daemonMail(sock, { agent: "pipe", sender: "s@x.test", recipients: ["r1@y.test", "r2@y.test"] }, mail, MAX);
    expect(a.ok).toBe(true);
    if (!a.ok) return;
    expect(a.result.action).toBe("reject");
    expect(a.result.recipients.map((r) => r.action)).toEqual(["reject", "reject"]);
    expect(a.result.headers).toEqual([]);
    expect(quarantine.info(a.result.quarantineId!)).toMatchObject({ status: "infected", sender: "s@x.test", recipients: ["r1@y.test", "r2@y.test"], agent: "pipe" });
    const after = stats.snapshot().agents.pipe;
    expect(after.rejected - before.rejected).toBe(1);
    expect(after.infected - before.infected).toBe(1);
    const mine = lines.slice(n);
    expect(mine.filter((l) => l.cls === "summall")).toHaveLength(1);
    expect(mine.filter((l) => l.cls === "summ")).toHaveLength(1);
    expect(mine.find((l) => l.cls === "part")?.msg).toMatch(/Eicar/i);
    // a clean one: summall only
    const m = lines.length;
    const ok = await daemonMail(sock, { agent: "pipe" }, Buffer.from("Subject: t\n\nhello\n"), MAX);
    expect(ok.ok && ok.result.action).toBe("accept");
    expect(ok.ok && ok.result.recipients).toEqual([]);
    expect(lines.slice(m).map((l) => l.cls)).toEqual(["summall"]);
  });
});
