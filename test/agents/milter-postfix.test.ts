/**
 * The [smfi] milter agent behind a real private Postfix 3.7 (smtpd_milters over TCP,
 * milter_default_action = tempfail), for what test/agents/milter-agent.test.ts does not show
 * there: a cleaned mail arrives with its infected attachment replaced by the notice (REPLBODY
 * through Postfix's cleanup, also for a large mail of several BODY and REPLBODY packets); EICAR
 * is in the daemon's quarantine; action_av_infected = defer gives 451 and Postfix keeps nothing;
 * several messages on one split-written connection; daemon stopped gives 451, and after a
 * restart the same mail resent is delivered.
 * Postfix delivers into a Maildir (test/peers/postfix-private.sh, no content_filter).
 */
import { spawnSync } from "node:child_process";
import { chmodSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HEADER_VERDICT } from "../../host/policy/headers.js";
import { requireBinary } from "../clamd/clamd-peer.js";
import { type DaemonProcess, EICAR, freePort, startDaemonProcess, tempDir, until, writeConfig } from "../daemon/daemon-process.js";
import { bulwarkCli, multipartWithEicar as multipartWithEicarShared, PrivatePostfix, quarantineList, swaksDataReply } from "../helpers/mail-peers.js";
import { portOpen, randomCuts, RawSmtp } from "../helpers/raw-smtp.js";

/** How many random cut points each split write uses. */
const RANDOM_CUTS = 12;
/** Lines of the large mail's text part: 2,000 lines of 80 bytes, about 160 KB, so more than two
 *  65535-byte BODY and REPLBODY packets. */
const BIG_TEXT_LINES = 2_000;
/** Text of the notice host/policy/clean.ts puts in place of a removed part. */
const NOTICE = "Bulwark removed a part of this message.";
const EICAR_TEXT = Buffer.from(EICAR).toString("latin1");
const BOUNDARY = "bulwark-postfix-boundary";

let dir = "";
let swaksBin = "";
let pfBase = "";
let postfix: PrivatePostfix | undefined;
let smtpPort = 0; // smtpd with smtpd_milters = the `main` daemon's agent
let deferPort = 0; // a second smtpd whose milter is the `deferring` daemon's agent

interface Bulwark { config: string; cache: string; milterPort: number; proc?: DaemonProcess }
let main: Bulwark; // av_clean_mode = standard
let deferring: Bulwark; // action_av_infected = defer

async function newBulwark(name: string, smfi: string): Promise<Bulwark> {
  const d = join(dir, name);
  const milterPort = await freePort();
  const config = writeConfig(d, `\n[smfi]\nagent_enabled = yes\nlisten_port = ${milterPort}\n${smfi}`);
  const b: Bulwark = { config, cache: join(d, "cache"), milterPort };
  await startBulwark(b);
  return b;
}

async function startBulwark(b: Bulwark): Promise<void> {
  b.proc = await startDaemonProcess(b.config, b.cache);
  await until(() => portOpen(b.milterPort), "the milter agent's TCP listener");
}

async function stopBulwark(b: Bulwark | undefined): Promise<void> {
  if (b?.proc && b.proc.child.exitCode === null) {
    b.proc.child.kill("SIGTERM");
    await b.proc.exited;
  }
}

const delivered = (): string[] => postfix!.delivered("latin1");
const withMarker = (m: string): string[] => delivered().filter((t) => t.includes(m));
const postfixLog = () => postfix?.log() ?? "";
const logs = () => `--- main daemon ---\n${main?.proc?.log() ?? ""}\n--- postfix ---\n${postfixLog()}`;

function swaks(port: number, args: string[]): { code: number | null; out: string } {
  const r = spawnSync(swaksBin, ["--server", `127.0.0.1:${port}`, "--from", "alice@example.org", "--to", "bob@example.test", ...args], {
    encoding: "utf8",
    timeout: 60_000,
  });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

const dataReply = swaksDataReply;

function file(name: string, bytes: Buffer | string): string {
  const f = join(dir, name);
  writeFileSync(f, bytes);
  return f;
}

/** Postfix's queue listing: "Mail queue is empty" or one entry per queued mail. */
function postqueue(): string {
  const r = spawnSync("postqueue", ["-c", postfix!.etc, "-p"], { encoding: "utf8" });
  return `${r.stdout}${r.stderr}`;
}

const quarList = (b: Bulwark) => quarantineList(b.config, ["--agent", "smfi"]);
const quarShow = (b: Bulwark, id: string) => bulwarkCli(["quar", "--config", b.config, "show", id]);

const multipartWithEicar = (subject: string, text?: string) => multipartWithEicarShared(subject, BOUNDARY, text);

/** The delivered (LF) mail's body split at the boundary: the text part and the notice replacing EICAR. */
function expectCleaned(mail: string): void {
  expect(mail).toMatch(new RegExp(`^${HEADER_VERDICT}: cleaned; Eicar-Test-Signature$`, "m"));
  expect(mail).not.toContain(EICAR_TEXT);
  const parts = mail.slice(mail.indexOf("\n\n") + 2).split(`--${BOUNDARY}`);
  expect(parts).toHaveLength(4); // preamble, text part, notice, closing "--"
  expect(parts[1]).toBe("\nContent-Type: text/plain\n\nthe text part stays\n");
  expect(parts[2]).toMatch(/^Content-Type: text\/plain/m);
  expect(parts[2]).toContain(`\n\n${NOTICE}\n`);
  expect(parts[2]).toContain('Part: 2 "eicar.com" (application/octet-stream)');
  expect(parts[2]).toContain("Eicar-Test-Signature");
  expect(parts[3]).toMatch(/^--\n\n?$/); // swaks ends DATA with one more line end
}

beforeAll(async () => {
  swaksBin = requireBinary("swaks", "swaks");
  dir = tempDir("bulwark-milter-postfix-");
  chmodSync(dir, 0o755); // Postfix's processes (user postfix) must reach the queue below it
  // carol's infected mail is discarded, everybody else's cleaned: a different policy
  const users = join(dir, "users.cfg");
  writeFileSync(users, '[carol@example.test]\naction_av_infected = "discard"\nav_clean_mode = "none"\n');
  main = await newBulwark("main", `av_clean_mode = standard\nuser_config = ${users}\n`);
  deferring = await newBulwark("defer", "action_av_infected = defer\n");

  pfBase = join(dir, "postfix");
  const [reinjectPort, filterPort] = [await freePort(), await freePort()];
  [smtpPort, deferPort] = [await freePort(), await freePort()];
  postfix = await PrivatePostfix.start(pfBase, { smtp: smtpPort, reinject: reinjectPort, filter: filterPort }, {
    PF_CONTENT_FILTER: "no",
    PF_MILTER: `inet:127.0.0.1:${main.milterPort}`,
  });
  // a second smtpd in the same instance whose milter is the deferring daemon's agent
  postfix.reconfigure(["-Me", `127.0.0.1:${deferPort}/inet=127.0.0.1:${deferPort} inet n - n - - smtpd -o smtpd_milters=inet:127.0.0.1:${deferring.milterPort}`]);
  await until(() => portOpen(deferPort), "the second smtpd after postfix reload");
}, 90_000);

afterAll(async () => {
  postfix?.stop();
  await stopBulwark(main);
  await stopBulwark(deferring);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("the [smfi] agent behind a real Postfix (smtpd_milters = inet:..., milter_default_action = tempfail)", () => {
  it("av_clean_mode = standard: the EICAR attachment arrives replaced by the notice (REPLBODY), the text part intact", async () => {
    const r = swaks(smtpPort, ["--data", `@${file("multipart.eml", multipartWithEicar("pf-cleaned-1"))}`]);
    expect(dataReply(r.out), `${r.out}\n${logs()}`).toMatch(/^<-  250 2\.0\.0 Ok: queued as /);
    await until(() => withMarker("pf-cleaned-1").length === 1, "the cleaned mail in the Maildir");
    expectCleaned(withMarker("pf-cleaned-1")[0]);
    expect(quarList(main).length).toBe(0); // a cleaned mail is delivered, not kept
  });

  it("EICAR: 554 5.7.1 at swaks, and the mail is in the daemon's quarantine with its envelope", async () => {
    const r = swaks(smtpPort, ["--header", "Subject: pf-eicar-2", "--body", `@${file("eicar.txt", Buffer.concat([EICAR, Buffer.from("\r\n")]))}`]);
    expect(dataReply(r.out), `${r.out}\n${logs()}`).toMatch(/^<\*\* 554 5\.7\.1 Message rejected by content filter: infected \(Eicar-Test-Signature\)/);
    const entries = quarList(main);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ names: ["Eicar-Test-Signature"], status: "infected", sender: "alice@example.org", recipients: ["bob@example.test"], agent: "smfi" });
    expect(quarShow(main, entries[0].id)).toContain("Subject: pf-eicar-2");
    // Postfix's own account of it (postlogd writes the log asynchronously)
    await until(() => /milter-reject: END-OF-MESSAGE from .*: 5\.7\.1 /.test(postfixLog()), "Postfix's milter-reject log line");
  });

  it("action_av_infected = defer: 451 4.7.1 at swaks, Postfix neither delivers nor queues it", async () => {
    const r = swaks(deferPort, ["--header", "Subject: pf-defer-3", "--body", `@${file("eicar-defer.txt", Buffer.concat([EICAR, Buffer.from("\r\n")]))}`]);
    expect(dataReply(r.out), `${r.out}\n${deferring.proc?.log()}\n${postfixLog()}`).toMatch(/^<\*\* 451 4\.7\.1 /);
    expect(postqueue()).toMatch(/Mail queue is empty/);
    swaks(deferPort, ["--header", "Subject: pf-after-defer-4"]);
    await until(() => withMarker("pf-after-defer-4").length === 1, "the clean mail sent after the deferred one");
    expect(withMarker("pf-after-defer-4")[0]).toMatch(new RegExp(`^${HEADER_VERDICT}: clean$`, "m"));
    expect(withMarker("pf-defer-3")).toEqual([]);
  });

  it("a large mail (a ~160 KB text part: several BODY and REPLBODY packets) is cleaned with its text part intact", async () => {
    const lines = Array.from({ length: BIG_TEXT_LINES }, (_, i) => `line ${i}: ${"abcdefghij".repeat(7)}\r\n`).join("");
    const r = swaks(smtpPort, ["--data", `@${file("big.eml", multipartWithEicar("pf-big-cleaned-9", lines))}`]);
    expect(dataReply(r.out), `${r.out}\n${logs()}`).toMatch(/^<-  250 /);
    await until(() => withMarker("pf-big-cleaned-9").length === 1, "the large cleaned mail in the Maildir");
    const mail = withMarker("pf-big-cleaned-9")[0];
    expect(mail).toMatch(new RegExp(`^${HEADER_VERDICT}: cleaned; Eicar-Test-Signature$`, "m"));
    expect(mail).not.toContain(EICAR_TEXT);
    expect(mail).toContain(`\n\n${lines.replace(/\r\n/g, "\n")}--${BOUNDARY}\n`);
    expect(mail).toContain('Part: 2 "eicar.com" (application/octet-stream)');
  });

  it("one connection split-written at random offsets: EICAR 554, then a cleaned mail, then a clean one", async () => {
    const seed = Date.now() % 1_000_000;
    let n = 0;
    const cuts = (s: string | Buffer) => randomCuts(s.length, RANDOM_CUTS, seed + n++);
    const c = await RawSmtp.connect(smtpPort);
    const say = (s: string | Buffer) => c.sendSplit(s, cuts(s));
    const why = `seed ${seed}\n${logs()}`;
    const messages: Array<[Buffer, RegExp]> = [
      [Buffer.concat([Buffer.from("Subject: pf-split-eicar-5\r\n\r\n"), EICAR, Buffer.from("\r\n.\r\n")]), /^554 5\.7\.1 /],
      [Buffer.concat([multipartWithEicar("pf-split-cleaned-6"), Buffer.from(".\r\n")]), /^250 2\.0\.0 /],
      [Buffer.from("Subject: pf-split-clean-7\r\n\r\nwritten in pieces\r\n.\r\n"), /^250 2\.0\.0 /],
    ];
    try {
      expect(await c.reply(), why).toMatch(/^220 /);
      expect(await say("EHLO hostile.test\r\n"), why).toMatch(/^250[ -]/);
      for (const [payload, expected] of messages) {
        expect(await say("MAIL FROM:<alice@example.org>\r\n"), why).toMatch(/^250 /);
        expect(await say("RCPT TO:<bob@example.test>\r\n"), why).toMatch(/^250 /);
        expect(await say("DATA\r\n"), why).toMatch(/^354 /);
        expect(await say(payload), why).toMatch(expected);
      }
      expect(await say("QUIT\r\n"), why).toMatch(/^221 /);
    } finally {
      c.close();
    }
    await until(() => withMarker("pf-split-clean-7").length === 1 && withMarker("pf-split-cleaned-6").length === 1, "the two split-written mails");
    expect(withMarker("pf-split-clean-7")[0], why).toContain("written in pieces");
    expect(withMarker("pf-split-clean-7")[0]).toMatch(new RegExp(`^${HEADER_VERDICT}: clean$`, "m"));
    expectCleaned(withMarker("pf-split-cleaned-6")[0]);
    expect(withMarker("pf-split-eicar-5")).toEqual([]);
  });

  it("daemon stopped: 451 (milter_default_action = tempfail); restarted: the same mail resent is delivered once", async () => {
    const message = file("resend.eml", "From: alice@example.org\r\nTo: bob@example.test\r\nSubject: pf-resend-8\r\n" +
      "Message-ID: <pf-resend-8@example.org>\r\n\r\nsent while the daemon was down\r\n");
    await stopBulwark(main);
    await until(async () => !(await portOpen(main.milterPort)), "the milter agent to stop listening");
    const down = swaks(smtpPort, ["--data", `@${message}`]);
    expect(down.code).not.toBe(0);
    expect(down.out, down.out).toMatch(/^<\*\* 451 4\.7\.1 /m);
    expect(down.out).not.toMatch(/^<-  250 2\.0\.0 Ok: queued/m);
    expect(postqueue()).toMatch(/Mail queue is empty/);

    await startBulwark(main);
    const up = swaks(smtpPort, ["--data", `@${message}`]);
    expect(dataReply(up.out), `${up.out}\n${logs()}`).toMatch(/^<-  250 2\.0\.0 Ok: queued as /);
    await until(() => withMarker("pf-resend-8").length >= 1, "the resent mail in the Maildir");
    const mail = withMarker("pf-resend-8");
    expect(mail).toHaveLength(1);
    expect(mail[0]).toMatch(new RegExp(`^${HEADER_VERDICT}: clean$`, "m"));
    expect(mail[0]).toContain("sent while the daemon was down");
  });

  it("recipients with different user_config settings: the later one gets 452 4.5.3 from the milter, and arrives in its own transaction", async () => {
    const both = swaks(smtpPort, ["--to", "bob@example.test,carol@example.test", "--helo", "milter-helo.test", "--header", "Subject: pf-split-8"]);
    const rcpt = both.out.split("\n").filter((l, i, all) => /^ -> RCPT TO:/.test(all[i - 1] ?? "") && /^<(-|\*\*) /.test(l));
    expect(rcpt, both.out).toHaveLength(2);
    expect(rcpt[0]).toMatch(/^<-  250 /);
    expect(rcpt[1]).toMatch(/^<\*\* 452 4\.5\.3 .*separate transaction/);
    expect(dataReply(both.out)).toMatch(/^<-  250 /);
    swaks(smtpPort, ["--to", "carol@example.test", "--helo", "milter-helo.test", "--header", "Subject: pf-split-8"]);
    await until(() => withMarker("pf-split-8").length === 2, "both copies");
    expect(withMarker("pf-split-8").map((t) => /^X-Original-To: (.*)$/m.exec(t)?.[1]).sort()).toEqual(["bob@example.test", "carol@example.test"]);
    // the daemon was told the client and its HELO name (the anti-spam checks will read them)
    // (the log reaches us through a pipe, possibly after Postfix delivered: wait for it)
    const summary = (l: string) => /smfi: accept from <alice@example\.org> to 1 recipient\(s\) client=127\.0\.0\.1: clean/.test(l) && l.includes('"helo":"milter-helo.test"');
    await until(() => main.proc!.log().split("\n").filter(summary).length === 2, "the daemon's summary lines with client and HELO");
  });
});
