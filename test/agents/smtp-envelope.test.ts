/**
 * The [smtp] agent's envelope handling, against a private Postfix 3.7 as the next hop (no
 * content_filter: Postfix delivers into its Maildir), with the agent run by a real daemon:
 * - DSN (RET, ENVID, per-recipient NOTIFY and ORCPT) and SMTPUTF8 reach Postfix: Postfix's own
 *   delivery report and its refusal of a UTF-8 address without SMTPUTF8 show it;
 * - from a client outside [smtp] relay_networks, the agent relays only to relay_domains and
 *   refuses the classic address tricks (percent hack, bang path, source route, quoted local
 *   part) and XFORWARD;
 * - recipients whose user_config settings differ are split into separate transactions (452
 *   4.5.3 for the later ones), so each gets its own decision.
 * Postfix and swaks missing = failure, not a skip.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireBinary } from "../clamd/clamd-peer.js";
import { type DaemonProcess, EICAR, freePort, ROOT, startDaemonProcess, tempDir, until, writeConfig } from "../daemon/daemon-process.js";
import { PrivatePostfix } from "../helpers/mail-peers.js";
import { RawSmtp } from "../helpers/raw-smtp.js";


let dir: string;
let pfBase: string;
let postfix: PrivatePostfix | undefined;
let swaks: string;
/** the agent with the default relay_networks (loopback): the trusted-MTA set-up */
let trusted: DaemonProcess;
let trustedPort: number;
/** the agent with relay_networks that exclude loopback: our client is "outside" */
let outside: DaemonProcess;
let outsidePort: number;

/** what Postfix's smtpd refuses (check_recipient_access) */
const REFUSED: Array<[string, string]> = [
  ["nosuchuser@example.test", "550 5.1.1 User unknown"],
  ["full@example.test", "452 4.2.2 Mailbox full"],
];
let nextHopPort: number;
/** an agent whose next hop is down */
let nohop: DaemonProcess;
let nohopPort: number;

const delivered = (): string[] => postfix!.delivered("utf8");
const withMarker = (m: string): string[] => delivered().filter((t) => t.includes(m));

function runSwaks(port: number, args: string[]): string {
  const r = spawnSync(swaks, ["--server", `127.0.0.1:${port}`, ...args], { encoding: "utf8", timeout: 60_000 });
  return `${r.stdout}${r.stderr}`;
}

/** swaks' reply lines to RCPT commands, in order ("<-  250 ..." / "<** 452 ..."). */
const rcptReplies = (out: string): string[] => {
  const lines = out.split("\n");
  const replies: string[] = [];
  lines.forEach((l, i) => {
    if (/^ -> RCPT TO:/.test(l)) replies.push(lines.slice(i + 1).find((x) => /^<(-|\*\*) /.test(x)) ?? "");
  });
  return replies;
};

beforeAll(async () => {
  swaks = requireBinary("swaks", "swaks");
  dir = tempDir("bulwark-smtp-envelope-");
  pfBase = join(dir, "postfix");
  chmodSync(dir, 0o755); // Postfix's processes (user postfix) must reach the queue below it
  const [smtpPort, reinjectPort, filterPort] = [await freePort(), await freePort(), await freePort()];
  postfix = await PrivatePostfix.start(pfBase, { smtp: smtpPort, reinject: reinjectPort, filter: filterPort }, { PF_CONTENT_FILTER: "no" });
  // The agents relay to Postfix's main smtpd, which here refuses two recipients itself, as a
  // real MTA with recipient verification does.
  const accessMap = join(postfix.etc, "recipient-access");
  writeFileSync(accessMap, REFUSED.map(([rcpt, reply]) => `${rcpt} ${reply}\n`).join(""));
  postfix.reconfigure(["-e", `smtpd_recipient_restrictions = check_recipient_access texthash:${accessMap}, permit_mynetworks, reject`]);
  nextHopPort = smtpPort;

  // carol's mail is discarded when infected, everybody else's rejected: a different policy
  const userConfig = join(dir, "users.cfg");
  writeFileSync(userConfig, '[carol@example.test]\naction_av_infected = "discard"\n');
  trustedPort = await freePort();
  const trustedConfig = writeConfig(
    join(dir, "trusted"),
    `\n[smtp]\nagent_enabled = yes\nlisten_port = ${trustedPort}\nserver_port = ${nextHopPort}\nuser_config = ${userConfig}\naction_av_infected = reject\n`,
  );
  outsidePort = await freePort();
  const outsideConfig = writeConfig(
    join(dir, "outside"),
    `\n[smtp]\nagent_enabled = yes\nlisten_port = ${outsidePort}\nserver_port = ${nextHopPort}\n` +
      `relay_networks = "192.0.2.0/24, 2001:db8::/32"\nrelay_domains = "example.test"\n`,
  );
  nohopPort = await freePort();
  const nohopConfig = writeConfig(join(dir, "nohop"), `\n[smtp]\nagent_enabled = yes\nlisten_port = ${nohopPort}\nserver_port = ${await freePort()}\n`);
  [trusted, outside, nohop] = await Promise.all([
    startDaemonProcess(trustedConfig, join(dir, "trusted", "cache")),
    startDaemonProcess(outsideConfig, join(dir, "outside", "cache")),
    startDaemonProcess(nohopConfig, join(dir, "nohop", "cache")),
  ]);
  await until(() => [trusted, outside, nohop].every((d) => /agent smtp: ready/.test(d.log())), "the smtp agents");
});

afterAll(async () => {
  for (const d of [trusted, outside, nohop]) {
    if (d?.child.exitCode === null) {
      d.child.kill("SIGTERM");
      await d.exited;
    }
  }
  postfix?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** One whole transaction on a raw connection; returns every reply in order. */
async function transaction(port: number, mailFrom: string, rcpts: string[], body: string): Promise<string[]> {
  const c = await RawSmtp.connect(port);
  const replies: string[] = [];
  try {
    replies.push(await c.reply());
    replies.push(await c.send("EHLO client.test\r\n"));
    replies.push(await c.send(`MAIL FROM:${mailFrom}\r\n`));
    for (const r of rcpts) replies.push(await c.send(`RCPT TO:${r}\r\n`));
    replies.push(await c.send("DATA\r\n"));
    replies.push(await c.send(`${body}\r\n.\r\n`));
    replies.push(await c.send("QUIT\r\n"));
  } finally {
    c.close();
  }
  return replies;
}

describe("ESMTP parameters reach the next hop", () => {
  it("the agent offers DSN and SMTPUTF8 because Postfix does", () => {
    const out = runSwaks(trustedPort, ["--from", "alice@example.test", "--to", "bob@example.test", "--quit-after", "EHLO"]);
    expect(out).toMatch(/<-  250[ -]DSN/);
    expect(out).toMatch(/<-  250[ -]SMTPUTF8/);
  });

  it("RET, ENVID and each recipient's own NOTIFY and ORCPT: Postfix reports success for the one that asked, with its ORCPT and the ENVID", async () => {
    const replies = await transaction(
      trustedPort,
      "<alice@example.test> RET=HDRS ENVID=env+2Bid-17",
      ["<bob@example.test> NOTIFY=SUCCESS ORCPT=rfc822;orig-bob@example.test", "<dave@example.test> NOTIFY=NEVER"],
      "Subject: dsn-marker-1\r\n\r\nplease report delivery to bob only",
    );
    expect(replies.slice(2, 6).map((r) => r.slice(0, 3))).toEqual(["250", "250", "250", "354"]);
    expect(replies[6]).toMatch(/^250 /);
    // the mail itself (once; Postfix delivers both recipients to the one inbox) and one report
    await until(() => delivered().some((t) => /^Content-Type: message\/delivery-status/m.test(t) && t.includes("dsn-marker-1")), "Postfix's delivery report");
    const reports = delivered().filter((t) => /^Content-Type: message\/delivery-status/m.test(t));
    expect(reports).toHaveLength(1);
    const report = reports[0];
    // ENVID went out as xtext again ("+2B" is "+"); Postfix shows it decoded
    expect(report).toMatch(/^Original-Envelope-Id: env\+id-17$/m);
    expect(report).toMatch(/^Original-Recipient: rfc822;\s*orig-bob@example\.test$/m);
    expect(report).toMatch(/^Final-Recipient: rfc822;\s*bob@example\.test$/m);
    expect(report).toMatch(/^Action: delivered/m);
    expect(report).not.toMatch(/dave@example\.test/); // NOTIFY=NEVER was kept per recipient
    // RET=HDRS: the report returns the header, not the body
    expect(report).toContain("Subject: dsn-marker-1");
    expect(report).not.toContain("please report delivery to bob only");
  });

  it("SMTPUTF8 with a UTF-8 recipient is passed on (Postfix refuses such an address without it)", async () => {
    const replies = await transaction(trustedPort, "<alice@example.test> SMTPUTF8", ["<bøb@example.test>"], "Subject: utf8-marker-2 ✓\r\n\r\nUTF-8 everywhere: ✓");
    expect(replies[3]).toMatch(/^250 /);
    expect(replies[5]).toMatch(/^250 2\.0\.0 Ok: queued as /);
    await until(() => withMarker("utf8-marker-2").length === 1, "the SMTPUTF8 mail");
    expect(withMarker("utf8-marker-2")[0]).toMatch(/^Delivered-To: bøb@example\.test$/m);
  });
});

describe("the next hop's own answers reach the client", () => {
  it("a recipient the next hop refuses is refused at RCPT with its reply; the others get the mail", async () => {
    const replies = await transaction(
      trustedPort,
      "<alice@example.test>",
      ["<nosuchuser@example.test>", "<bob@example.test>", "<full@example.test>"],
      "Subject: refused-rcpt-marker-7\r\n\r\nfor bob only",
    );
    expect(replies[3]).toMatch(/^550 5\.1\.1 <nosuchuser@example\.test>: Recipient address rejected: User unknown/);
    expect(replies[4]).toMatch(/^250 /);
    expect(replies[5]).toMatch(/^452 4\.2\.2 <full@example\.test>: Recipient address rejected: Mailbox full/);
    expect(replies[7]).toMatch(/^250 2\.0\.0 Ok: queued as /);
    await until(() => withMarker("refused-rcpt-marker-7").length === 1, "bob's copy");
    expect(withMarker("refused-rcpt-marker-7")[0]).toMatch(/^Delivered-To: bob@example\.test$/m);
  });

  it("next hop down: 451 4.7.1 at MAIL, nothing accepted", async () => {
    const c = await RawSmtp.connect(nohopPort);
    try {
      expect(await c.reply()).toMatch(/^220 /);
      await c.send("EHLO client.test\r\n");
      expect(await c.send("MAIL FROM:<alice@example.test>\r\n")).toMatch(/^451 4\.7\.1 /);
      expect(await c.send("RCPT TO:<bob@example.test>\r\n")).toMatch(/^503 /);
    } finally {
      c.close();
    }
    await until(() => /next hop 127\.0\.0\.1:\d+ at MAIL: no reply \(connect ECONNREFUSED/.test(nohop.log()), "the agent's log line");
  });
});

describe("XFORWARD from the trusted MTA", () => {
  it("the daemon judges and logs the original client, with its HELO name, not the MTA", async () => {
    const c = await RawSmtp.connect(trustedPort);
    try {
      await c.reply();
      await c.send("EHLO mta.test\r\n");
      expect(await c.send("XFORWARD ADDR=192.0.2.55 NAME=mx.sender.example HELO=Helo.Sender.Example PROTO=ESMTP\r\n")).toMatch(/^250 /);
      expect(await c.send("MAIL FROM:<alice@example.test>\r\n")).toMatch(/^250 /);
      await c.send("RCPT TO:<bob@example.test>\r\n");
      await c.send("DATA\r\n");
      expect(await c.send("Subject: xforward-marker-6\r\n\r\nforwarded\r\n.\r\n")).toMatch(/^250 /);
    } finally {
      c.close();
    }
    await until(() => /smtp: accept from <alice@example\.test> to 1 recipient\(s\) client=192\.0\.2\.55: clean/.test(trusted.log()), "the daemon's summary line");
    const line = trusted.log().split("\n").find((l) => l.includes("client=192.0.2.55"))!;
    expect(JSON.parse(line.slice(line.indexOf("{")))).toMatchObject({ client: "192.0.2.55", helo: "helo.sender.example" });
  });
});

describe("not an open relay: a client outside relay_networks", () => {
  const tricks: Array<[string, string]> = [
    ["a recipient outside relay_domains", "<mallory@elsewhere.example>"],
    ["the percent hack", "<mallory%elsewhere.example@example.test>"],
    ["a bang path", "<elsewhere.example!mallory@example.test>"],
    ["a source route to an outside address", "<@example.test:mallory@elsewhere.example>"],
    ["a quoted local part holding '@'", '<"mallory@elsewhere.example"@example.test>'],
    ["a quoted local part holding '%'", '<"mallory%elsewhere.example"@example.test>'],
    ["an address literal", "<mallory@[192.0.2.1]>"],
  ];
  for (const [what, rcpt] of tricks) {
    it(`refuses ${what}: ${rcpt}`, async () => {
      const c = await RawSmtp.connect(outsidePort);
      try {
        await c.reply();
        await c.send("EHLO outsider.test\r\n");
        expect(await c.send("MAIL FROM:<mallory@elsewhere.example>\r\n")).toMatch(/^250 /);
        expect(await c.send(`RCPT TO:${rcpt}\r\n`)).toMatch(/^5\d\d /);
        // the transaction has no recipient, so nothing can be relayed
        expect(await c.send("DATA\r\n")).toMatch(/^503 /);
      } finally {
        c.close();
      }
    });
  }

  it("relays to a relay_domains recipient, and drops a source route in front of it (RFC 5321 §4.1.2)", async () => {
    const replies = await transaction(outsidePort, "<mallory@elsewhere.example>", ["<@elsewhere.example:bob@example.test>"], "Subject: inbound-marker-3\r\n\r\nfrom outside");
    expect(replies[3]).toMatch(/^250 /);
    expect(replies[5]).toMatch(/^250 /);
    await until(() => withMarker("inbound-marker-3").length === 1, "the inbound mail");
    expect(withMarker("inbound-marker-3")[0]).toMatch(/^Delivered-To: bob@example\.test$/m);
    expect(outside.log()).toMatch(/refused RCPT <mallory%elsewhere\.example@example\.test> from 127\.0\.0\.1/);
  });

  it("refuses XFORWARD: a client outside relay_networks cannot pose as another one", async () => {
    const c = await RawSmtp.connect(outsidePort);
    try {
      await c.reply();
      await c.send("EHLO outsider.test\r\n");
      await c.send("XFORWARD ADDR=192.0.2.7 NAME=trusted.example\r\n");
      expect(await c.send("MAIL FROM:<mallory@elsewhere.example>\r\n")).toMatch(/^550 5\.7\.1 XFORWARD is accepted only from the trusted MTA/);
    } finally {
      c.close();
    }
  });
});

describe("recipients whose user_config settings differ", () => {
  it("are split: the later one gets 452 4.5.3, the first is judged by its own policy", async () => {
    const body = join(dir, "eicar.txt");
    writeFileSync(body, Buffer.concat([EICAR, Buffer.from("\r\n")]));
    const out = runSwaks(trustedPort, ["--from", "alice@example.test", "--to", "bob@example.test,carol@example.test,dave@example.test", "--header", "Subject: split-marker-4", "--body", `@${body}`]);
    const replies = rcptReplies(out);
    expect(replies).toHaveLength(3);
    expect(replies[0]).toMatch(/^<-  250 /);
    expect(replies[1]).toMatch(/^<\*\* 452 4\.5\.3 /); // carol: discard instead of reject
    expect(replies[2]).toMatch(/^<-  250 /); // dave: the same settings as bob
    expect(out).toMatch(/<\*\* 554 5\.7\.1 Message rejected by content filter: .*Eicar-Test-Signature/);
    // carol's own transaction: her policy discards (250, nothing delivered)
    const own = runSwaks(trustedPort, ["--from", "alice@example.test", "--to", "carol@example.test", "--header", "Subject: split-marker-4", "--body", `@${body}`]);
    expect(rcptReplies(own)).toEqual([expect.stringMatching(/^<-  250 /)]);
    expect(own).toMatch(/<-  250 2\.0\.0 Ok: queued\r?$/m);
    await until(() => /discarded from=<alice@example\.test> to=<carol@example\.test>/.test(trusted.log()), "the agent's discard line");
    expect(withMarker("split-marker-4")).toEqual([]);
  });

  it("a clean mail: the first group is delivered at once, the split-off recipient in its own transaction", async () => {
    const out = runSwaks(trustedPort, ["--from", "alice@example.test", "--to", "carol@example.test,bob@example.test", "--header", "Subject: split-marker-5"]);
    expect(rcptReplies(out).map((r) => r.slice(0, 7))).toEqual(["<-  250", "<** 452"]);
    await until(() => withMarker("split-marker-5").length === 1, "carol's copy");
    expect(withMarker("split-marker-5")[0]).toMatch(/^Delivered-To: carol@example\.test$/m);
    runSwaks(trustedPort, ["--from", "alice@example.test", "--to", "bob@example.test", "--header", "Subject: split-marker-5"]);
    await until(() => withMarker("split-marker-5").length === 2, "bob's copy");
    expect(withMarker("split-marker-5").some((t) => /^Delivered-To: bob@example\.test$/m.test(t))).toBe(true);
  });
});

describe("statistics", () => {
  it("are kept per agent: the smtp agent's messages are counted under smtp", async () => {
    trusted.child.kill("SIGTERM"); // the counters are saved on stop
    await trusted.exited;
    const r = spawnSync(process.execPath, [join(ROOT, "bin", "bulwark"), "stats", "--json", "--config", join(dir, "trusted", "bulwark.cfg")], { encoding: "utf8", timeout: 30_000 });
    expect(r.status, r.stderr).toBe(0);
    const stats = JSON.parse(r.stdout) as { agents: Record<string, Record<string, number>> };
    // this file sent to the trusted agent: EICAR rejected for bob and dave, discarded for carol
    expect(stats.agents.smtp).toMatchObject({ rejected: 1, discarded: 1 });
    expect(stats.agents.smtp.accepted).toBeGreaterThanOrEqual(5);
    expect(stats.agents.smfi.accepted + stats.agents.smfi.rejected).toBe(0);
  });
});

