/**
 * The [smfi] milter agent inside a real Sendmail 8.17 (Debian's sendmail-bin, unpacked by
 * test/peers/install-sendmail.sh and started privately by test/peers/sendmail-private.sh with
 * INPUT_MAIL_FILTER(..., F=T)). Sendmail relays every accepted mail to a private Postfix
 * reinjection smtpd that delivers into a Maildir, where the test reads what arrived.
 * Clients: swaks, and a raw client that split-writes its session at random offsets.
 * Shown: clean mail arrives with X-Bulwark-* (milter over TCP and over the unix socket); EICAR
 * gets 554 and is in the daemon's quarantine; a cleaned mail arrives with its infected
 * attachment replaced by the notice (also a large one, several BODY and REPLBODY packets);
 * action_av_infected = defer gives 451; two messages on one split-written connection; daemon
 * stopped gives 4xx (F=T), and after a restart the same mail resent is delivered.
 * A missing peer (Postfix, swaks, m4, unshare, the unpacked Sendmail) fails, never skips.
 */
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HEADER_ENGINE, HEADER_SIGNATURES, HEADER_VERDICT } from "../../host/policy/headers.js";
import { requireBinary } from "../clamd/clamd-peer.js";
import { type DaemonProcess, EICAR, freePort, ROOT, startDaemonProcess, tempDir, until, writeConfig } from "../daemon/daemon-process.js";
import { bulwarkCli, multipartWithEicar as multipartWithEicarShared, PrivatePostfix, quarantineList, swaksDataReply } from "../helpers/mail-peers.js";
import { portOpen, randomCuts, RawSmtp } from "../helpers/raw-smtp.js";

const SENDMAIL_RECIPE = join(ROOT, "test", "peers", "sendmail-private.sh");
const SENDMAIL_ROOT = process.env.SENDMAIL_ROOT ?? "/var/cache/bulwark-peers/sendmail";
/** How many random cut points each split write uses. */
const RANDOM_CUTS = 12;
/** Lines of the large mail's text part: 2,000 lines of 80 bytes, about 160 KB, so more than two
 *  65535-byte BODY and REPLBODY packets. */
const BIG_TEXT_LINES = 2_000;
/** Text of the notice host/policy/clean.ts puts in place of a removed part. */
const NOTICE = "Bulwark removed a part of this message.";
const EICAR_TEXT = Buffer.from(EICAR).toString("latin1");
const BOUNDARY = "bulwark-sendmail-boundary";

let dir = "";
let swaksBin = "";
let pfBase = "";
let postfix: PrivatePostfix | undefined;
let reinjectPort = 0;
const sendmails: string[] = []; // BASE dirs of started instances, stopped in afterAll

/** A daemon with its own config and cache dir, restartable. */
interface Bulwark { config: string; cache: string; milterPort: number; sock: string; proc?: DaemonProcess }
let main: Bulwark; // av_clean_mode = standard, milter on TCP and on a unix socket
let deferring: Bulwark; // action_av_infected = defer
let smTcp = 0; // Sendmail ports: milter inet:PORT@127.0.0.1 to `main`
let smUnix = 0; //               milter unix:/path to `main`
let smDefer = 0; //              milter inet to `deferring`

async function newBulwark(name: string, smfi: string): Promise<Bulwark> {
  const d = join(dir, name);
  const milterPort = await freePort();
  const sock = join(d, "milter.sock");
  const config = writeConfig(d, `\n[smfi]\nagent_enabled = yes\nsmfi_sock_path = "${sock}"\nlisten_port = ${milterPort}\n${smfi}`);
  const b: Bulwark = { config, cache: join(d, "cache"), milterPort, sock };
  await startBulwark(b);
  return b;
}

async function startBulwark(b: Bulwark): Promise<void> {
  b.proc = await startDaemonProcess(b.config, b.cache);
  await until(async () => existsSync(b.sock) && (await portOpen(b.milterPort)), "the milter agent's listeners");
}

async function stopBulwark(b: Bulwark | undefined): Promise<void> {
  if (b?.proc && b.proc.child.exitCode === null) {
    b.proc.child.kill("SIGTERM");
    await b.proc.exited;
  }
}

async function startSendmail(name: string, milter: string): Promise<number> {
  const port = await freePort();
  const base = join(dir, name);
  sendmails.push(base);
  const r = spawnSync("sh", [SENDMAIL_RECIPE, base, "start"], {
    encoding: "utf8",
    timeout: 30_000,
    env: { ...process.env, SENDMAIL_ROOT, SM_PORT: String(port), SM_MILTER: milter, SM_RELAY_PORT: String(reinjectPort) },
  });
  if (r.status !== 0) throw new Error(`private sendmail ${name} did not start: ${r.stdout}${r.stderr}`);
  return port;
}

const delivered = (): string[] => postfix!.delivered("latin1");
const withMarker = (m: string): string[] => delivered().filter((t) => t.includes(m));

function swaks(port: number, args: string[]): { code: number | null; out: string } {
  const r = spawnSync(swaksBin, ["--server", `127.0.0.1:${port}`, "--from", "alice@example.org", "--to", "bob@example.test", ...args], {
    encoding: "utf8",
    timeout: 60_000,
  });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

const dataReply = swaksDataReply;

/** A file holding `bytes`, for swaks --body @FILE / --data @FILE. */
function file(name: string, bytes: Buffer | string): string {
  const f = join(dir, name);
  writeFileSync(f, bytes);
  return f;
}

const quarList = (b: Bulwark) => quarantineList(b.config, ["--agent", "smfi"]);
const quarShow = (b: Bulwark, id: string) => bulwarkCli(["quar", "--config", b.config, "show", id]);

const multipartWithEicar = (subject: string, text?: string) => multipartWithEicarShared(subject, BOUNDARY, text);

const logs = () => `--- main daemon ---\n${main?.proc?.log() ?? ""}\n--- sendmail ---\n${sendmails.map((s) => existsSync(join(s, "daemon.out")) ? readFileSync(join(s, "daemon.out"), "utf8") : "").join("\n")}`;

beforeAll(async () => {
  requireBinary("m4", "m4");
  requireBinary("unshare", "util-linux");
  swaksBin = requireBinary("swaks", "swaks");
  if (!existsSync(join(SENDMAIL_ROOT, "usr", "libexec", "sendmail", "sendmail"))) {
    throw new Error(`no unpacked Sendmail in ${SENDMAIL_ROOT}: run test/peers/install-sendmail.sh ${SENDMAIL_ROOT}`);
  }
  dir = tempDir("bulwark-milter-sendmail-");
  chmodSync(dir, 0o755); // Postfix's processes (user postfix) must reach the queue below it
  pfBase = join(dir, "postfix");
  const [smtpPort, filterPort] = [await freePort(), await freePort()];
  reinjectPort = await freePort();
  postfix = await PrivatePostfix.start(pfBase, { smtp: smtpPort, reinject: reinjectPort, filter: filterPort }, { PF_CONTENT_FILTER: "no" });

  main = await newBulwark("main", "av_clean_mode = standard\n");
  deferring = await newBulwark("defer", "action_av_infected = defer\n");
  smTcp = await startSendmail("sendmail-tcp", `inet:${main.milterPort}@127.0.0.1`);
  smUnix = await startSendmail("sendmail-unix", `unix:${main.sock}`);
  smDefer = await startSendmail("sendmail-defer", `inet:${deferring.milterPort}@127.0.0.1`);
}, 90_000);

afterAll(async () => {
  // in parallel: a sendmail daemon takes a second or two to wind down after SIGTERM
  await Promise.all(sendmails.map((base) => new Promise((r) => spawn("sh", [SENDMAIL_RECIPE, base, "stop"], { stdio: "ignore" }).on("close", r))));
  await stopBulwark(main);
  await stopBulwark(deferring);
  postfix?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("the [smfi] agent in a real Sendmail 8.17 (INPUT_MAIL_FILTER, F=T)", () => {
  it.each([
    ["over TCP (S=inet:PORT@127.0.0.1)", () => smTcp, "sm-clean-tcp-1"],
    ["over the unix socket (S=unix:/path)", () => smUnix, "sm-clean-unix-2"],
  ])("a clean mail %s arrives in the Maildir with the X-Bulwark-* fields", async (_how, port, marker) => {
    const r = swaks(port(), ["--header", `Subject: ${marker}`, "--body", "a clean mail through sendmail"]);
    expect(dataReply(r.out), `${r.out}\n${logs()}`).toMatch(/^<-  250 2\.0\.0 .* Message accepted for delivery/);
    await until(() => withMarker(marker).length === 1, `${marker} in the Maildir`);
    const mail = withMarker(marker)[0];
    expect(mail).toMatch(/^Received: from .*\n\tby sm\.test\.local \(8\.17/m); // it did pass through Sendmail
    expect(mail).toMatch(new RegExp(`^${HEADER_VERDICT}: clean$`, "m"));
    expect(mail).toMatch(new RegExp(`^${HEADER_ENGINE}: Bulwark `, "m"));
    expect(mail).toMatch(new RegExp(`^${HEADER_SIGNATURES}: \\d+ signature`, "m"));
    expect(mail).toContain("a clean mail through sendmail");
  });

  it("EICAR: swaks gets 554 5.7.1, nothing is delivered, and the mail is in the daemon's quarantine", async () => {
    const before = quarList(main).length;
    const r = swaks(smTcp, ["--header", "Subject: sm-eicar-3", "--body", `@${file("eicar.txt", Buffer.concat([EICAR, Buffer.from("\r\n")]))}`]);
    expect(dataReply(r.out), `${r.out}\n${logs()}`).toMatch(/^<\*\* 554 5\.7\.1 Message rejected by content filter: infected \(Eicar-Test-Signature\)/);
    const entries = quarList(main);
    expect(entries).toHaveLength(before + 1);
    const e = entries.find((q) => quarShow(main, q.id).includes("Subject: sm-eicar-3"));
    expect(e, JSON.stringify(entries)).toBeDefined();
    expect(e).toMatchObject({ names: ["Eicar-Test-Signature"], status: "infected", sender: "alice@example.org", recipients: ["bob@example.test"], agent: "smfi" });
    // a clean mail sent after it arrives; the EICAR one is not beside it
    swaks(smTcp, ["--header", "Subject: sm-after-eicar-4"]);
    await until(() => withMarker("sm-after-eicar-4").length === 1, "the mail sent after EICAR");
    expect(withMarker("sm-eicar-3")).toEqual([]);
  });

  it("av_clean_mode = standard: the EICAR attachment is replaced by the notice (REPLBODY), the text part is intact", async () => {
    const r = swaks(smTcp, ["--data", `@${file("multipart.eml", multipartWithEicar("sm-cleaned-5"))}`]);
    expect(dataReply(r.out), `${r.out}\n${logs()}`).toMatch(/^<-  250 /);
    await until(() => withMarker("sm-cleaned-5").length === 1, "the cleaned mail in the Maildir");
    const mail = withMarker("sm-cleaned-5")[0];
    expect(mail).toMatch(new RegExp(`^${HEADER_VERDICT}: cleaned; Eicar-Test-Signature$`, "m"));
    expect(mail).not.toContain(EICAR_TEXT);
    const body = mail.slice(mail.indexOf("\n\n") + 2);
    const parts = body.split(`--${BOUNDARY}`);
    expect(parts.map((p) => p.trim())).toHaveLength(4); // preamble, text, notice, "--" epilogue
    expect(parts[1]).toBe("\nContent-Type: text/plain\n\nthe text part stays\n");
    expect(parts[2]).toContain(`\n\n${NOTICE}\n`);
    expect(parts[2]).toMatch(/^Content-Type: text\/plain/m);
    expect(parts[2]).toContain('Part: 2 "eicar.com" (application/octet-stream)');
    expect(parts[2]).toContain("Eicar-Test-Signature");
    expect(parts[3]).toMatch(/^--\n\n?$/); // the closing delimiter (swaks ends DATA with one more line end)
  });

  it("action_av_infected = defer: swaks gets 451 4.7.1 and Sendmail neither delivers nor queues the mail", async () => {
    const r = swaks(smDefer, ["--header", "Subject: sm-defer-6", "--body", `@${file("eicar-defer.txt", Buffer.concat([EICAR, Buffer.from("\r\n")]))}`]);
    expect(dataReply(r.out), `${r.out}\n${deferring.proc?.log()}`).toMatch(/^<\*\* 451 4\.7\.1 /);
    // the client keeps the mail and retries; Sendmail holds nothing of it
    const queued = readdirSync(join(dir, "sendmail-defer", "mqueue"));
    expect(queued).toEqual([]);
    swaks(smDefer, ["--header", "Subject: sm-after-defer-7"]);
    await until(() => withMarker("sm-after-defer-7").length === 1, "the clean mail sent after the deferred one");
    expect(withMarker("sm-after-defer-7")[0]).toMatch(new RegExp(`^${HEADER_VERDICT}: clean$`, "m"));
    expect(withMarker("sm-defer-6")).toEqual([]);
  });

  it("a large mail (a ~160 KB text part: several BODY and REPLBODY packets) is cleaned with its text part intact", async () => {
    const lines = Array.from({ length: BIG_TEXT_LINES }, (_, i) => `line ${i}: ${"abcdefghij".repeat(7)}\r\n`).join("");
    const r = swaks(smTcp, ["--data", `@${file("big.eml", multipartWithEicar("sm-big-cleaned-11", lines))}`]);
    expect(dataReply(r.out), `${r.out}\n${logs()}`).toMatch(/^<-  250 /);
    await until(() => withMarker("sm-big-cleaned-11").length === 1, "the large cleaned mail in the Maildir");
    const mail = withMarker("sm-big-cleaned-11")[0];
    expect(mail).toMatch(new RegExp(`^${HEADER_VERDICT}: cleaned; Eicar-Test-Signature$`, "m"));
    expect(mail).not.toContain(EICAR_TEXT);
    expect(mail).toContain(`\n\n${lines.replace(/\r\n/g, "\n")}--${BOUNDARY}\n`);
    expect(mail).toContain('Part: 2 "eicar.com" (application/octet-stream)');
  });

  it("a client split-writing at random offsets: EICAR gets 554, then a clean mail on the same connection is delivered", async () => {
    const seed = Date.now() % 1_000_000;
    let n = 0;
    const cuts = (s: string | Buffer) => randomCuts(s.length, RANDOM_CUTS, seed + n++);
    const c = await RawSmtp.connect(smTcp);
    const say = (s: string) => c.sendSplit(s, cuts(s));
    const infected = Buffer.concat([Buffer.from("Subject: sm-split-eicar-8\r\n\r\n"), EICAR, Buffer.from("\r\n.\r\n")]);
    const clean = "Subject: sm-split-clean-9\r\nFrom: alice@example.org\r\n\r\nwritten in pieces\r\n.\r\n";
    const why = `seed ${seed}\n${logs()}`;
    try {
      expect(await c.reply(), why).toMatch(/^220 /);
      expect(await say("EHLO hostile.test\r\n"), why).toMatch(/^250[ -]/);
      for (const [payload, expected] of [[infected, /^554 5\.7\.1 /], [clean, /^250 2\.0\.0 /]] as const) {
        expect(await say("MAIL FROM:<alice@example.org>\r\n"), why).toMatch(/^250 /);
        expect(await say("RCPT TO:<bob@example.test>\r\n"), why).toMatch(/^250 /);
        expect(await say("DATA\r\n"), why).toMatch(/^354 /);
        expect(await c.sendSplit(payload, cuts(payload)), why).toMatch(expected);
      }
      expect(await say("QUIT\r\n"), why).toMatch(/^221 /);
    } finally {
      c.close();
    }
    await until(() => withMarker("sm-split-clean-9").length === 1, "the split-written clean mail");
    expect(withMarker("sm-split-clean-9")[0], why).toContain("written in pieces");
    expect(withMarker("sm-split-clean-9")[0]).toMatch(new RegExp(`^${HEADER_VERDICT}: clean$`, "m"));
    expect(withMarker("sm-split-eicar-8")).toEqual([]);
  });

  it("daemon stopped: Sendmail answers 4xx (F=T); restarted: the same mail resent is delivered once", async () => {
    const message = file("resend.eml", "From: alice@example.org\r\nTo: bob@example.test\r\nSubject: sm-resend-10\r\n" +
      "Message-ID: <sm-resend-10@example.org>\r\n\r\nsent while the daemon was down\r\n");
    await stopBulwark(main);
    await until(async () => !(await portOpen(main.milterPort)), "the milter agent to stop listening");
    const down = swaks(smTcp, ["--data", `@${message}`]);
    expect(down.code).not.toBe(0);
    // Sendmail refuses at the first command after EHLO once its filter cannot be reached
    expect(down.out, down.out).toMatch(/^<\*\* 4\d\d 4\.\d+\.\d+ /m);
    expect(down.out).not.toMatch(/^<-  250 2\.0\.0 .* Message accepted/m);

    await startBulwark(main);
    const up = swaks(smTcp, ["--data", `@${message}`]);
    expect(dataReply(up.out), `${up.out}\n${logs()}`).toMatch(/^<-  250 /);
    await until(() => withMarker("sm-resend-10").length >= 1, "the resent mail in the Maildir");
    const mail = withMarker("sm-resend-10");
    expect(mail).toHaveLength(1);
    expect(mail[0]).toMatch(new RegExp(`^${HEADER_VERDICT}: clean$`, "m"));
    expect(mail[0]).toContain("sent while the daemon was down");
  });
});
