/**
 * The [smtp] agent inside a real private Postfix 3.7 (test/peers/postfix-private.sh), run by a
 * real daemon process, with Debian's swaks (and a raw split-writing client) as the sender:
 * - after-queue: `content_filter = scan:[127.0.0.1]:AGENT` and the agent relaying to Postfix's
 *   reinjection smtpd. Clean mail is delivered once with the X-Bulwark-* fields; EICAR bounces
 *   (reject), is dropped with 250 (discard) or stays queued with 451 (defer), per user_config;
 *   the policy sees the original client through Postfix's XFORWARD; with the daemon stopped, or
 *   an agent whose daemon socket nobody serves, Postfix keeps the mail and delivers it once the
 *   daemon is back.
 * - before-queue: `smtpd_proxy_filter = 127.0.0.1:AGENT`; the client hears the agent's 554 itself.
 * (The agent as a plain proxy in front of Postfix is test/agents/smtp-agent.test.ts.)
 * Postfix and swaks missing = failure, not a skip.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { chmodSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireBinary } from "../clamd/clamd-peer.js";
import { type DaemonProcess, EICAR, freePort, ROOT, startDaemonProcess, tempDir, until, writeConfig } from "../daemon/daemon-process.js";
import { bulwarkCli, PrivatePostfix, type QuarEntry, quarantineList, swaksDataReply } from "../helpers/mail-peers.js";
import { portOpen, RawSmtp, randomCuts } from "../helpers/raw-smtp.js";

/** Random cut points in the DATA part of a hostile-client session: enough that headers, body
 *  lines and the final <CRLF>.<CRLF> are each likely to be split somewhere. */
const RANDOM_CUTS = 12;
/** Random cut points in each command line of such a session (they are 20-40 bytes long). */
const COMMAND_CUTS = 3;

const SIGNATURE = "Eicar-Test-Signature";

let dir: string;
let pfBase: string;
let postfix: PrivatePostfix | undefined;
let swaks: string;
let smtpPort: number; // Postfix's public smtpd, after-queue filtered
let proxyPort: number; // Postfix's before-queue smtpd (smtpd_proxy_filter)
let filterPort: number; // the agent
let reinjectPort: number; // Postfix's reinjection smtpd, the agent's next hop
let config: string;
let cacheDir: string;
let daemon: DaemonProcess | undefined;
let rescueDaemon: DaemonProcess | undefined;
let orphan: ChildProcess | undefined;
let eicarBody: string;

const delivered = (): string[] => postfix!.delivered("latin1");
const withMarker = (m: string): string[] => delivered().filter((t) => t.includes(m));
const pfLog = () => postfix!.log();

function runSwaks(port: number, to: string, args: string[]): { code: number | null; out: string } {
  const r = spawnSync(swaks, ["--server", `127.0.0.1:${port}`, "--from", "alice@example.org", "--to", to, ...args], { encoding: "utf8", timeout: 60_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

const dataReply = swaksDataReply;

/** The queue id in Postfix's "250 2.0.0 Ok: queued as ID" (fails the test if there is none). */
function queuedAs(reply: string): string {
  const m = /250 2\.0\.0 Ok: queued as ([0-9A-F]+)/.exec(reply);
  expect(m, `a "queued as" reply, got: ${reply}`).not.toBeNull();
  return m![1];
}

/** Postfix's delivery lines ("ID: to=<...>, relay=..., status=...") for one queue id. */
const deliveryLines = (qid: string) => pfLog().split("\n").filter((l) => l.includes(` ${qid}: to=<`));

/** Waits for a delivery line of `qid` matching `status` and returns it. */
async function delivery(qid: string, status: RegExp, what: string): Promise<string> {
  await until(() => deliveryLines(qid).some((l) => status.test(l)), `${what} (queue id ${qid})`);
  return deliveryLines(qid).find((l) => status.test(l))!;
}

const etc = () => postfix!.etc;
const postqueueList = () => spawnSync("postqueue", ["-c", etc(), "-p"], { encoding: "utf8", timeout: 30_000 }).stdout;
/** `postqueue -p` lists a message in the deferred queue as "ID  size date sender" (an active
 *  one as "ID*", a held one as "ID!"); "ID" then whitespace is the deferred queue. */
const deferredEntry = (qid: string) => new RegExp(`^${qid}\\s`, "m");
const inQueue = (qid: string) => new RegExp(`^${qid}[\\s*!]`, "m").test(postqueueList());
async function waitDeferredQueue(qid: string): Promise<string> {
  await until(() => deferredEntry(qid).test(postqueueList()), `${qid} in Postfix's deferred queue`);
  return postqueueList();
}
/** Ask Postfix to retry the deferred queue now (instead of waiting for its back-off). */
function flushQueue(): void {
  const r = spawnSync("postqueue", ["-c", etc(), "-f"], { encoding: "utf8", timeout: 30_000 });
  if (r.status !== 0) throw new Error(`postqueue -f failed: ${r.stdout}${r.stderr}`);
}

/** What `bulwark quar list` shows for one recipient, and the Subject of each entry (`quar show`). */
function quarantined(recipient: string): Array<QuarEntry & { subject: string }> {
  return quarantineList(config, ["--recipient", recipient]).map((e) => {
    const shown = JSON.parse(bulwarkCli(["quar", "--config", config, "show", e.id, "--json"])) as { headers: string[] };
    return { ...e, subject: shown.headers.find((h) => /^Subject:/i.test(h)) ?? "" };
  });
}

/** The mail carries each of Bulwark's header fields exactly once (scanned once, not twice). */
function expectBulwarkFieldsOnce(mail: string, verdict: RegExp): void {
  for (const name of ["X-Bulwark-Verdict", "X-Bulwark-Engine", "X-Bulwark-Signatures"]) {
    expect(mail.match(new RegExp(`^${name}: `, "gm")), name).toHaveLength(1);
  }
  expect(mail).toMatch(verdict);
}

/** Sends a mail and waits until it is in the Maildir: later checks of "nothing arrived" then
 *  come after everything Postfix had before it was processed. */
async function sentinel(marker: string): Promise<void> {
  runSwaks(smtpPort, "bob@example.test", ["--header", `Subject: ${marker}`]);
  await until(() => withMarker(marker).length === 1, `the sentinel mail ${marker}`);
}

/** One SMTP session with every client write cut at random offsets; returns each reply. */
async function splitSession(port: number, rcpt: string, payload: Buffer, seed: number): Promise<string[]> {
  const c = await RawSmtp.connect(port);
  const replies: string[] = [];
  try {
    replies.push(await c.reply());
    const commands = ["EHLO splitter.test\r\n", "MAIL FROM:<alice@example.org>\r\n", `RCPT TO:<${rcpt}>\r\n`, "DATA\r\n"];
    for (const [i, cmd] of commands.entries()) replies.push(await c.sendSplit(cmd, randomCuts(cmd.length, COMMAND_CUTS, seed + i + 1)));
    replies.push(await c.sendSplit(payload, randomCuts(payload.length, RANDOM_CUTS, seed)));
    replies.push(await c.send("QUIT\r\n"));
  } finally {
    c.close();
  }
  return replies;
}

async function stopDaemon(d: DaemonProcess | undefined): Promise<void> {
  if (d && d.child.exitCode === null) {
    d.child.kill("SIGTERM");
    await d.exited;
  }
}

beforeAll(async () => {
  requireBinary("postqueue", "postfix");
  requireBinary("postsuper", "postfix");
  swaks = requireBinary("swaks", "swaks");
  dir = tempDir("bulwark-smtp-postfix-");
  pfBase = join(dir, "postfix");
  chmodSync(dir, 0o755); // Postfix's processes (user postfix) must reach the queue below it
  [smtpPort, proxyPort, filterPort, reinjectPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  postfix = await PrivatePostfix.start(pfBase, { smtp: smtpPort, proxy: proxyPort, filter: filterPort, reinject: reinjectPort }, { PF_CONTENT_FILTER: "yes" });

  // Per-recipient and per-client policy (user_config, read by the daemon for each mail): the
  // agent section says reject; these recipients and the client 127.0.0.2 say otherwise.
  const users = join(dir, "users.cfg");
  writeFileSync(
    users,
    "[discard@example.test]\naction_av_infected = discard\n\n[defer@example.test]\naction_av_infected = defer\n\n[client:127.0.0.2]\naction_av_infected = discard\n",
  );
  config = writeConfig(
    dir,
    `\n[smtp]\nagent_enabled = yes\nlisten_port = ${filterPort}\nserver_port = ${reinjectPort}\naction_av_infected = reject\nuser_config = "${users}"\n`,
  );
  cacheDir = join(dir, "cache");
  daemon = await startDaemonProcess(config, cacheDir);
  await until(() => portOpen(filterPort), "the smtp agent's port");
  eicarBody = join(dir, "eicar-body.txt");
  // the signature matches at the start of an object: the body part must begin with it
  writeFileSync(eicarBody, Buffer.concat([EICAR, Buffer.from("\r\n")]));
});

afterAll(async () => {
  if (orphan && orphan.exitCode === null) orphan.kill("SIGTERM");
  await stopDaemon(daemon);
  await stopDaemon(rescueDaemon);
  postfix?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("after-queue content filter (content_filter = scan:[127.0.0.1]:AGENT)", () => {
  it("a clean mail is scanned once and delivered once, with Bulwark's header fields", async () => {
    const r = runSwaks(smtpPort, "bob@example.test", ["--header", "Subject: aq-clean-marker-1", "--body", "a clean after-queue mail"]);
    const qid = queuedAs(dataReply(r.out));
    // Postfix's scan transport handed it to the agent, which relayed it to the reinjection smtpd
    const sent = await delivery(qid, /status=sent/, "the filter's 250");
    expect(sent).toContain(`relay=127.0.0.1[127.0.0.1]:${filterPort},`);
    const qid2 = queuedAs(sent);
    await delivery(qid2, /relay=virtual, .*status=sent \(delivered to maildir\)/, "delivery of the reinjected mail");
    await until(() => withMarker("aq-clean-marker-1").length === 1, "the clean mail in the Maildir");
    const mail = withMarker("aq-clean-marker-1")[0];
    expectBulwarkFieldsOnce(mail, /^X-Bulwark-Verdict: clean$/m);
    expect(mail).toContain("a clean after-queue mail");
    // both Postfix hops are in its trace: the public smtpd and the reinjection smtpd
    expect(mail).toContain(`with ESMTP id ${qid}`);
    expect(mail).toContain(`with ESMTP id ${qid2}`);
    await sentinel("aq-after-clean-marker-2");
    expect(withMarker("aq-clean-marker-1")).toHaveLength(1);
    expect(deliveryLines(qid)).toHaveLength(1); // one attempt, no retry that could duplicate it
  });

  it("EICAR with action_av_infected = reject: Postfix bounces it with the 554, and it is in quarantine", async () => {
    const r = runSwaks(smtpPort, "rejected@example.test", ["--header", "Subject: aq-reject-marker-3", "--body", `@${eicarBody}`]);
    const qid = queuedAs(dataReply(r.out)); // after-queue: Postfix took it before the scan
    const line = await delivery(qid, /status=bounced/, "the bounce");
    expect(line).toMatch(new RegExp(`relay=127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:${filterPort},.*dsn=5\\.7\\.1, status=bounced \\(host 127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\] said: 554 5\\.7\\.1 Message rejected by content filter: .*${SIGNATURE}`));
    const q = quarantined("rejected@example.test");
    expect(q).toHaveLength(1);
    expect(q[0]).toMatchObject({ status: "infected", agent: "smtp", names: [SIGNATURE] });
    expect(q[0].subject).toBe("Subject: aq-reject-marker-3");
    await sentinel("aq-after-reject-marker-4");
    expect(withMarker("aq-reject-marker-3")).toEqual([]);
  });

  it("EICAR with action_av_infected = discard: Postfix logs sent (250), nothing is delivered, it is in quarantine", async () => {
    const r = runSwaks(smtpPort, "discard@example.test", ["--header", "Subject: aq-discard-marker-5", "--body", `@${eicarBody}`]);
    const qid = queuedAs(dataReply(r.out));
    const line = await delivery(qid, /status=/, "the filter's answer");
    expect(line).toMatch(new RegExp(`relay=127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:${filterPort},.*status=sent \\(250 `));
    const q = quarantined("discard@example.test");
    expect(q).toHaveLength(1);
    expect(q[0]).toMatchObject({ status: "infected", agent: "smtp", names: [SIGNATURE] });
    expect(q[0].subject).toBe("Subject: aq-discard-marker-5");
    await sentinel("aq-after-discard-marker-6");
    expect(withMarker("aq-discard-marker-5")).toEqual([]);
    expect(daemon!.log()).toMatch(/smtp\[\d+\]: discarded from=<alice@example\.org> to=<discard@example\.test>.*Eicar-Test-Signature/);
  });

  it("EICAR with action_av_infected = defer: Postfix logs deferred with 451 4.7.1 and keeps the mail queued", async () => {
    const r = runSwaks(smtpPort, "defer@example.test", ["--header", "Subject: aq-defer-marker-7", "--body", `@${eicarBody}`]);
    const qid = queuedAs(dataReply(r.out));
    const line = await delivery(qid, /status=/, "the filter's answer");
    expect(line).toMatch(/dsn=4\.7\.1, status=deferred \(host 127\.0\.0\.1\[127\.0\.0\.1\] said: 451 4\.7\.1 Message deferred by content filter/);
    const queue = await waitDeferredQueue(qid);
    expect(queue).toContain("451 4.7.1 Message deferred by content filter");
    expect(queue).toContain("defer@example.test");
    // a retry is deferred again: still queued, still not delivered
    flushQueue();
    await until(() => deliveryLines(qid).filter((l) => /status=deferred/.test(l)).length >= 2, "the retry's deferral");
    await waitDeferredQueue(qid);
    expect(deliveryLines(qid).filter((l) => !/status=deferred/.test(l))).toEqual([]);
    expect(withMarker("aq-defer-marker-7")).toEqual([]);
    // it would be retried for days; drop it so the later cases see an empty queue
    const del = spawnSync("postsuper", ["-c", etc(), "-d", qid], { encoding: "utf8", timeout: 30_000 });
    expect(del.status, `${del.stdout}${del.stderr}`).toBe(0);
    await until(() => !inQueue(qid), "the deferred mail to be removed");
  });

  it("XFORWARD: the daemon's policy and log see the original client (127.0.0.2), not Postfix's scan client", async () => {
    // from 127.0.0.2 the [client:127.0.0.2] section says discard ...
    const viaTwo = runSwaks(smtpPort, "xforward@example.test", ["--local-interface", "127.0.0.2", "--ehlo", "xf-client.test", "--header", "Subject: aq-xforward-marker-8", "--body", `@${eicarBody}`]);
    const qid = queuedAs(dataReply(viaTwo.out));
    await until(() => new RegExp(`${qid}: client=[^\\[]*\\[127\\.0\\.0\\.2\\]`).test(pfLog()), "Postfix's client= line for 127.0.0.2");
    expect(await delivery(qid, /status=/, "the filter's answer")).toMatch(/status=sent \(250 /);
    // ... while the same mail from 127.0.0.1 gets the agent section's reject
    const viaOne = runSwaks(smtpPort, "xforward@example.test", ["--header", "Subject: aq-xforward-marker-9", "--body", `@${eicarBody}`]);
    const qidOne = queuedAs(dataReply(viaOne.out));
    expect(await delivery(qidOne, /status=/, "the filter's answer")).toMatch(/status=bounced \(host .* said: 554 5\.7\.1 /);
    // the daemon's one-line summary names the original client; the agent's line both
    // (and the client's HELO, from XFORWARD HELO)
    expect(daemon!.log()).toMatch(/summall: smtp: discard from <alice@example\.org> to 1 recipient\(s\) client=127\.0\.0\.2: infected.*"helo":"xf-client\.test"/);
    expect(daemon!.log()).toMatch(/smtp\[\d+\]: discarded from=<alice@example\.org> to=<xforward@example\.test> client=127\.0\.0\.2 peer=127\.0\.0\.1:/);
    // and the agent passed it on: the reinjection smtpd logs it as the original client
    await until(() => /client=[^\[\s]*\[127\.0\.0\.1\], orig_client=[^\[\s]*\[127\.0\.0\.2\]/.test(pfLog()), "orig_client in the reinjection smtpd's log");
    const subjects = quarantined("xforward@example.test").map((e) => e.subject).sort();
    expect(subjects).toEqual(["Subject: aq-xforward-marker-8", "Subject: aq-xforward-marker-9"]);
  });

  it("a client writing to Postfix's public port at random byte offsets: delivered once with the header fields", async () => {
    const seed = Date.now() % 1_000_000;
    const payload = Buffer.from("Subject: aq-split-marker-10\r\nFrom: alice@example.org\r\n\r\nsplit line one\r\nsplit line two\r\n.\r\n", "latin1");
    const replies = await splitSession(smtpPort, "bob@example.test", payload, seed);
    expect(replies.map((r) => r.slice(0, 3)), `seed ${seed}`).toEqual(["220", "250", "250", "250", "354", "250", "221"]);
    const qid = queuedAs(replies[5]);
    expect(await delivery(qid, /status=/, "the filter's answer")).toMatch(/status=sent \(250 2\.0\.0 Ok: queued as /);
    await until(() => withMarker("aq-split-marker-10").length === 1, "the split mail in the Maildir");
    const mail = withMarker("aq-split-marker-10")[0];
    expectBulwarkFieldsOnce(mail, /^X-Bulwark-Verdict: clean$/m);
    expect(mail, `seed ${seed}`).toContain("\n\nsplit line one\nsplit line two\n");
  });
});

describe("before-queue proxy (smtpd_proxy_filter = 127.0.0.1:AGENT)", () => {
  it("a clean mail: the client gets the reinjection smtpd's 250, the mail arrives with the header fields", async () => {
    const r = runSwaks(proxyPort, "beforeq@example.test", ["--header", "Subject: bq-clean-marker-11", "--body", "a clean before-queue mail"]);
    const qid = queuedAs(dataReply(r.out)); // the reinjection smtpd's queue id, passed back twice
    await until(() => pfLog().includes(`proxy-accept: END-OF-MESSAGE: 250 2.0.0 Ok: queued as ${qid};`), "Postfix's proxy-accept line");
    await delivery(qid, /relay=virtual, .*status=sent \(delivered to maildir\)/, "delivery");
    await until(() => withMarker("bq-clean-marker-11").length === 1, "the clean mail in the Maildir");
    const mail = withMarker("bq-clean-marker-11")[0];
    expectBulwarkFieldsOnce(mail, /^X-Bulwark-Verdict: clean$/m);
    expect(mail).toContain("a clean before-queue mail");
  });

  it("EICAR: swaks sees 554 5.7.1 at the end of DATA, nothing is delivered, it is in quarantine", async () => {
    const r = runSwaks(proxyPort, "beforeq@example.test", ["--header", "Subject: bq-eicar-marker-12", "--body", `@${eicarBody}`]);
    expect(dataReply(r.out)).toMatch(new RegExp(`^<\\*\\* 554 5\\.7\\.1 Message rejected by content filter: .*${SIGNATURE}`));
    await until(() => /proxy-reject: END-OF-MESSAGE: 554 5\.7\.1 Message rejected by content filter: .*Eicar-Test-Signature.*to=<beforeq@example\.test>/.test(pfLog()), "Postfix's proxy-reject line");
    const q = quarantined("beforeq@example.test");
    expect(q.map((e) => e.subject)).toEqual(["Subject: bq-eicar-marker-12"]);
    expect(q[0]).toMatchObject({ status: "infected", agent: "smtp", names: [SIGNATURE] });
    await sentinel("bq-after-eicar-marker-13");
    expect(withMarker("bq-eicar-marker-12")).toEqual([]);
  });

  it("EICAR written at random byte offsets: the client still gets the 554 directly", async () => {
    const seed = (Date.now() * 7) % 1_000_000;
    const payload = Buffer.concat([Buffer.from("Subject: bq-split-marker-14\r\n\r\n", "latin1"), EICAR, Buffer.from("\r\n.\r\n", "latin1")]);
    const replies = await splitSession(proxyPort, "beforeq-split@example.test", payload, seed);
    expect(replies.slice(0, 5).map((r) => r.slice(0, 3)), `seed ${seed}`).toEqual(["220", "250", "250", "250", "354"]);
    expect(replies[5], `seed ${seed}`).toMatch(new RegExp(`^554 5\\.7\\.1 Message rejected by content filter: .*${SIGNATURE}`));
    expect(replies[6]).toMatch(/^221 /);
    expect(quarantined("beforeq-split@example.test").map((e) => e.subject)).toEqual(["Subject: bq-split-marker-14"]);
    await sentinel("bq-after-split-marker-15");
    expect(withMarker("bq-split-marker-14")).toEqual([]);
  });
});

describe("the scanner unavailable: Postfix keeps the mail, nothing is lost", () => {
  it("daemon stopped: deferred (connection refused) and queued; daemon started again: delivered once", async () => {
    await stopDaemon(daemon);
    await until(async () => !(await portOpen(filterPort)), "the agent's port to close");
    const r = runSwaks(smtpPort, "down@example.test", ["--header", "Subject: down-marker-16", "--body", "sent while the scanner was down"]);
    const qid = queuedAs(dataReply(r.out));
    expect(await delivery(qid, /status=/, "the deferral")).toMatch(new RegExp(`status=deferred \\(connect to 127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:${filterPort}: Connection refused\\)`));
    expect(await waitDeferredQueue(qid)).toContain("Connection refused");

    daemon = await startDaemonProcess(config, cacheDir);
    await until(() => portOpen(filterPort), "the smtp agent's port");
    flushQueue();
    const sent = await delivery(qid, /status=sent/, "delivery after the restart");
    expect(sent).toContain(`relay=127.0.0.1[127.0.0.1]:${filterPort},`);
    await until(() => withMarker("down-marker-16").length === 1, "the deferred mail in the Maildir");
    expectBulwarkFieldsOnce(withMarker("down-marker-16")[0], /^X-Bulwark-Verdict: clean$/m);
    await sentinel("after-down-marker-17");
    expect(withMarker("down-marker-16")).toHaveLength(1);
    expect(inQueue(qid)).toBe(false);
  });

  it("an agent whose daemon socket nobody serves answers 451 (its own path); a daemon on that socket: delivered after a flush", async () => {
    // the daemon (and its agent) stop; the same agent program runs alone on the filter port
    await stopDaemon(daemon);
    await until(async () => !(await portOpen(filterPort)), "the agent's port to close");
    const orphanDir = join(dir, "orphan");
    const agentConfig = writeConfig(orphanDir, `\n[smtp]\nagent_enabled = yes\nlisten_port = ${filterPort}\nserver_port = ${reinjectPort}\n`, "agent.cfg");
    orphan = spawn(process.execPath, [join(ROOT, "dist", "agents", "smtp", "main.js"), "--config", agentConfig], { stdio: ["ignore", "ignore", "pipe"] });
    let orphanLog = "";
    orphan.stderr!.on("data", (d) => (orphanLog += d));
    await until(() => /SMTP proxy on/.test(orphanLog) || orphan!.exitCode !== null, "the stand-alone smtp agent");
    expect(orphan.exitCode, orphanLog).toBeNull();

    const r = runSwaks(smtpPort, "orphan@example.test", ["--header", "Subject: orphan-marker-18", "--body", "sent while the agent had no daemon"]);
    const qid = queuedAs(dataReply(r.out));
    const line = await delivery(qid, /status=/, "the agent's answer");
    expect(line).toMatch(new RegExp(`relay=127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:${filterPort},.*status=deferred \\(host 127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\] said: 451 4\\.7\\.1 Message deferred by content filter`));
    expect(orphanLog).toMatch(/error: deferring from=<alice@example\.org> to=<orphan@example\.test>/);
    expect(await waitDeferredQueue(qid)).toContain("451 4.7.1 Message deferred by content filter");

    // a daemon on the agent's socket (same cache_dir); its own [smtp] agent listens elsewhere
    const daemonConfig = writeConfig(orphanDir, `\n[smtp]\nagent_enabled = yes\nlisten_port = ${await freePort()}\nserver_port = ${reinjectPort}\n`, "daemon.cfg");
    rescueDaemon = await startDaemonProcess(daemonConfig, join(orphanDir, "cache"));
    flushQueue();
    await delivery(qid, /status=sent \(250 2\.0\.0 Ok: queued as /, "delivery once the daemon is there");
    await until(() => withMarker("orphan-marker-18").length === 1, "the deferred mail in the Maildir");
    expectBulwarkFieldsOnce(withMarker("orphan-marker-18")[0], /^X-Bulwark-Verdict: clean$/m);
    expect(orphanLog).toMatch(/relayed from=<alice@example\.org> to=<orphan@example\.test>/);
    // the sentinel goes through the same stand-alone agent
    await sentinel("after-orphan-marker-19");
    expect(withMarker("orphan-marker-18")).toHaveLength(1);
  });
});
