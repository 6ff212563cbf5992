/**
 * The process-wide stream budget (host/clamd/byte-budget.ts) on the daemon's zBWSCAN/zBWMAIL,
 * with a tiny budget injected, a real scanner and real statistics: a request whose stream does
 * not fit beside one already held gets an error verdict (BWSCAN) or a defer (BWMAIL), never
 * accept or reject; the one held is scanned normally; and every path gives its bytes back.
 */
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Scanner } from "../../host/api.js";
import { ByteBudget } from "../../host/clamd/byte-budget.js";
import { type ClamdServer, startClamdServer } from "../../host/clamd/server.js";
import { type Config, loadConfigText } from "../../host/config/load.js";
import type { Logger } from "../../host/log/types.js";
import { openQuarantine, type QuarantineStore } from "../../host/quarantine/store.js";
import { createScanner } from "../../host/scanner.js";
import { encodeMessage, FramedMessageDecoder } from "../../host/service/frames.js";
import { createDaemonExtensions } from "../../host/service/extensions.js";
import type { MailResult } from "../../host/service/protocol.js";
import type { Verdict } from "../../host/scan/verdict.js";
import { Statistics } from "../../host/stats/counters.js";
import { EICAR } from "../daemon/daemon-process.js";

/** room for one stream's first 64 KiB buffer (host/clamd/framing.ts), not for two */
const BUDGET = 100_000;
const MAX = 1 << 20;

let dir: string;
let scanner: Scanner;
let quarantine: QuarantineStore;
let config: Config;
let server: ClamdServer;
let sock: string;
const budget = new ByteBudget(BUDGET);
const stats = new Statistics();
const errors: string[] = [];
const log: Logger = {
  log: () => {},
  error: (m) => void errors.push(m),
  warning: () => {},
  info: () => {},
  debug: () => {},
  line: () => {},
  close: async () => {},
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "bulwark-svc-budget-"));
  config = loadConfigText(`[global]\ncache_dir = "${dir}"\nmax_file_size = ${MAX}\n`, join(dir, "bulwark.cfg")).config;
  scanner = await createScanner({ workers: 0, cacheDir: null });
  quarantine = await openQuarantine(join(dir, "quarantine"), { warn: () => {} });
  sock = join(dir, "d.sock");
  server = await startClamdServer({
    scanner,
    listen: { path: sock },
    streamMaxLength: MAX,
    streamBudget: budget,
    extensions: createDaemonExtensions({ config: () => config, scanner: () => scanner, stats, quarantine, log }, { streamBudget: budget }),
  });
});

afterAll(async () => {
  await server?.close();
  await scanner?.close();
  await quarantine?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Wait (event-loop turns, no clock assertion) until `cond` holds; fails after many turns. */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 5_000; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 1));
  }
  throw new Error(`never happened: ${what}`);
}

/** A private-command request: `z<cmd>\0`, the metadata frame, the body frames, the zero frame. */
const request = (cmd: string, head: unknown, body: Buffer) => Buffer.concat([Buffer.from(`z${cmd}\0`), ...encodeMessage(head, body)]);

/** A connection that sends `first` and more when told; resolves with the reply's head at close. */
function open(first: Buffer) {
  const c = net.connect(sock);
  const got: Buffer[] = [];
  c.on("data", (d) => got.push(d));
  c.on("error", () => {});
  const reply = new Promise<unknown>((resolve) =>
    c.on("close", () => {
      const d = new FramedMessageDecoder({ maxHead: 1 << 20, maxBody: MAX, hasBody: (h) => (h as { rewritten?: boolean }).rewritten === true });
      d.push(Buffer.concat(got));
      resolve(d.complete ? d.head : undefined);
    }),
  );
  c.write(first);
  return { send: (b: Buffer) => c.write(b), end: () => c.end(), destroy: () => c.destroy(), reply };
}

const exchange = async (b: Buffer) => {
  const c = open(b);
  c.end();
  return c.reply;
};

describe("zBWSCAN / zBWMAIL under a global byte budget", () => {
  it("requests that do not fit beside a held stream get an error verdict / a defer; the held one is scanned; nothing leaks", async () => {
    // A: a BWSCAN whose stream is received up to its zero frame, which it holds back
    const aFull = request("BWSCAN", { agent: "pipe" }, EICAR);
    const a = open(aFull.subarray(0, aFull.length - 4));
    await until(() => budget.used > 0, "the first stream is charged");
    expect(budget.used).toBe(64 * 1024);

    const mail = Buffer.from("From: a@example.org\r\nSubject: t\r\n\r\nhello\r\n");
    const m = (await exchange(request("BWMAIL", { agent: "pipe", recipients: ["r@y.test"] }, mail))) as MailResult;
    expect(m.action).toBe("defer");
    expect(m.reason).toMatch(/memory budget/);
    expect(m.recipients).toEqual([]);
    const v = (await exchange(request("BWSCAN", { agent: "pipe" }, mail))) as Verdict;
    expect(v.status).toBe("error");
    expect(v.error).toMatch(/memory budget/);
    expect(budget.used).toBe(64 * 1024); // the refused requests hold nothing
    expect(errors.some((e) => /memory budget/.test(e))).toBe(true);

    a.send(aFull.subarray(aFull.length - 4));
    const av = (await a.reply) as Verdict;
    expect(av.status).toBe("infected");
    await until(() => budget.used === 0, "the scanned stream gives its bytes back");

    // with the budget free the same mail is judged (accepted: it is clean)
    const again = (await exchange(request("BWMAIL", { agent: "pipe", recipients: ["r@y.test"] }, mail))) as MailResult;
    expect(again.action).toBe("accept");
    expect(budget.used).toBe(0);
  });

  it("a client that disconnects mid-request, and a request with bad metadata, give their bytes back", async () => {
    const full = request("BWMAIL", { agent: "pipe" }, Buffer.alloc(5000, 0x61));
    const c = open(full.subarray(0, full.length - 4));
    await until(() => budget.used > 0, "the stream is charged");
    c.destroy();
    await until(() => budget.used === 0, "the dropped stream gives its bytes back");

    // metadata that is not a mail request: refused after the stream was stored
    const bad = (await exchange(request("BWMAIL", { agent: "nonsense-agent" }, Buffer.alloc(5000, 0x61)))) as MailResult;
    expect(bad.action).toBe("defer");
    expect(budget.used).toBe(0);
    const badScan = (await exchange(request("BWSCAN", { agent: "nonsense-agent" }, Buffer.alloc(5000, 0x61)))) as Verdict;
    expect(badScan.status).toBe("error");
    expect(budget.used).toBe(0);
  });
});
