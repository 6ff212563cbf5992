/**
 * Anti-spam through the [smtp] agent as a real Postfix 3.7 after-queue content filter (SPEC §6,
 * issue 5): every action_as value, and with action_as = scan every action_as_spam value, each
 * chosen per recipient by user_config, with GTUBE as the spam and a plain note as the ham:
 *   accept  - not classified: delivered untouched (no spam fields, subject as sent)
 *   scan    - classified: spam delivered with X-Bulwark-Spam-* and the subject template, ham too
 *             with "No"; action_as_spam = reject bounces with 554 5.7.1 naming GTUBE, discard
 *             answers 250 and drops it, defer keeps it queued with 451; blocked spam is in
 *             quarantine as "spam"
 *   reject, discard, defer - decided without classifying (like action_av), so even ham is blocked
 *   as_approved_ip_list - mail from an approved client (127.0.0.2, seen through XFORWARD) skips
 *             classification and is delivered, marked "skipped".
 * Postfix and swaks missing = failure, not a skip.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireBinary } from "../clamd/clamd-peer.js";
import { type DaemonProcess, freePort, startDaemonProcess, tempDir, until, stopDaemonProcess, writeConfig } from "../daemon/daemon-process.js";
import { PrivatePostfix, quarantineList, swaksDataReply } from "../helpers/mail-peers.js";
import { portOpen } from "../helpers/raw-smtp.js";

const GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";

let dir: string;
let postfix: PrivatePostfix | undefined;
let swaks: string;
let smtpPort: number;
let config: string;
let daemon: DaemonProcess | undefined;

const pfLog = () => postfix!.log();
const withMarker = (m: string): string[] => postfix!.withMarker(m);

function send(to: string, marker: string, body: string, extra: string[] = []): string {
  const r = spawnSync(swaks, ["--server", `127.0.0.1:${smtpPort}`, "--from", "alice@example.org", "--to", to, "--header", `Subject: ${marker}`, "--body", body, ...extra], { encoding: "utf8", timeout: 60_000 });
  const m = /250 2\.0\.0 Ok: queued as ([0-9A-F]+)/.exec(swaksDataReply(`${r.stdout}${r.stderr}`));
  expect(m, `Postfix queued the mail: ${r.stdout}${r.stderr}`).not.toBeNull();
  return m![1];
}

const deliveryLines = (qid: string) => pfLog().split("\n").filter((l) => l.includes(` ${qid}: to=<`));
async function delivery(qid: string, status: RegExp, what: string): Promise<string> {
  await until(() => deliveryLines(qid).some((l) => status.test(l)), `${what} (queue id ${qid})`);
  return deliveryLines(qid).find((l) => status.test(l))!;
}
/** The reinjected copy's delivery into the Maildir, then the mail's text. */
async function deliveredMail(marker: string): Promise<string> {
  await until(() => withMarker(marker).length === 1, `the mail ${marker} in the Maildir`);
  return withMarker(marker)[0];
}
/** A later mail that is delivered: anything sent before it that was going to arrive has. */
async function sentinel(marker: string): Promise<void> {
  send("accept@example.test", marker, "sentinel");
  await deliveredMail(marker);
}
const postqueue = () => spawnSync("postqueue", ["-c", postfix!.etc, "-p"], { encoding: "utf8", timeout: 30_000 }).stdout;

beforeAll(async () => {
  requireBinary("postqueue", "postfix");
  swaks = requireBinary("swaks", "swaks");
  dir = tempDir("bulwark-smtp-spam-");
  chmodSync(dir, 0o755);
  const [filterPort, reinjectPort] = [await freePort(), await freePort()];
  smtpPort = await freePort();
  postfix = await PrivatePostfix.start(join(dir, "postfix"), { smtp: smtpPort, filter: filterPort, reinject: reinjectPort }, { PF_CONTENT_FILTER: "yes" });
  const users = join(dir, "users.cfg");
  writeFileSync(users, [
    "[accept@example.test]", "action_as = accept", "",
    "[scan@example.test]", "action_as = scan", "action_as_spam = accept", "",
    "[spamreject@example.test]", "action_as = scan", "action_as_spam = reject", "",
    "[spamdiscard@example.test]", "action_as = scan", "action_as_spam = discard", "",
    "[spamdefer@example.test]", "action_as = scan", "action_as_spam = defer", "",
    "[asreject@example.test]", "action_as = reject", "",
    "[asdiscard@example.test]", "action_as = discard", "",
    "[asdefer@example.test]", "action_as = defer", "",
    "",
  ].join("\n"));
  config = writeConfig(dir, [
    "", "[smtp]", "agent_enabled = yes", `listen_port = ${filterPort}`, `server_port = ${reinjectPort}`,
    "action_as = scan", "action_as_spam = reject", 'as_approved_ip_list = "127.0.0.2"', `user_config = "${users}"`, "",
  ].join("\n"));
  daemon = await startDaemonProcess(config, join(dir, "cache"));
  await until(() => portOpen(filterPort), "the smtp agent's port");
});

afterAll(async () => {
  await stopDaemonProcess(daemon);
  postfix?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("action_as through Postfix's content filter", () => {
  it("accept: GTUBE is not classified and arrives untouched", async () => {
    send("accept@example.test", "as-accept-marker-1", GTUBE);
    const mail = await deliveredMail("as-accept-marker-1");
    expect(mail).not.toMatch(/^X-Bulwark-Spam-/m);
    expect(mail).toMatch(/^Subject: as-accept-marker-1$/m);
    expect(mail).toMatch(/^X-Bulwark-Verdict: clean$/m); // the antivirus half still ran
  });

  it("scan: GTUBE arrives marked as spam with the subject template; ham arrives marked as ham", async () => {
    send("scan@example.test", "as-scan-marker-2", GTUBE, ["--add-header", "X-Bulwark-Spam-Status: No, score=-9.0 required=5.0"]);
    const spam = await deliveredMail("as-scan-marker-2");
    expect(spam.match(/^X-Bulwark-Spam-Status:/gm)).toHaveLength(1); // the forged one is gone
    expect(spam).toMatch(/^X-Bulwark-Spam-Status: Yes, score=\d+\.\d required=5\.0$/m);
    expect(spam).toMatch(/^X-Bulwark-Spam-Reasons: .*GTUBE=/m);
    expect(spam).toMatch(/^Subject: \[SPAM\] as-scan-marker-2$/m);
    expect(spam.match(/^Subject:/gm)).toHaveLength(1);
    send("scan@example.test", "as-scan-marker-3", "Hello Bob, the meeting moved to Tuesday at ten. Alice");
    const ham = await deliveredMail("as-scan-marker-3");
    expect(ham).toMatch(/^X-Bulwark-Spam-Status: No, score=/m);
    expect(ham).toMatch(/^Subject: as-scan-marker-3$/m);
    expect(daemon!.log()).toMatch(/smtp: accept from <alice@example\.org> to 1 recipient\(s\) client=127\.0\.0\.1: clean, spam: spam [\d.]+\/5\.0 \(GTUBE/);
  });

  it("scan with action_as_spam = reject: Postfix bounces GTUBE with 554 5.7.1 naming the rule; it is in quarantine; ham passes", async () => {
    const qid = send("spamreject@example.test", "as-spamreject-marker-4", GTUBE);
    const line = await delivery(qid, /status=bounced/, "the bounce");
    expect(line).toMatch(/dsn=5\.7\.1, status=bounced \(host 127\.0\.0\.1\[127\.0\.0\.1\] said: 554 5\.7\.1 Message rejected by content filter: spam, score [\d.]+ \(GTUBE/);
    const q = quarantineList(config, ["--recipient", "spamreject@example.test"]);
    expect(q).toHaveLength(1);
    expect(q[0]).toMatchObject({ status: "spam", agent: "smtp" });
    expect(q[0].names).toContain("GTUBE");
    send("spamreject@example.test", "as-spamreject-ham-5", "Hello Bob, lunch on Friday? Alice");
    expect(await deliveredMail("as-spamreject-ham-5")).toMatch(/^X-Bulwark-Spam-Status: No, /m);
  });

  it("scan with action_as_spam = discard: 250 to Postfix, nothing delivered, kept in quarantine", async () => {
    const qid = send("spamdiscard@example.test", "as-spamdiscard-marker-6", GTUBE);
    expect(await delivery(qid, /status=/, "the filter's answer")).toMatch(/status=sent \(250 /);
    await sentinel("as-after-discard-7");
    expect(withMarker("as-spamdiscard-marker-6")).toEqual([]);
    expect(quarantineList(config, ["--recipient", "spamdiscard@example.test"])[0]).toMatchObject({ status: "spam" });
  });

  it("scan with action_as_spam = defer: 451 4.7.1 and the mail stays queued", async () => {
    const qid = send("spamdefer@example.test", "as-spamdefer-marker-8", GTUBE);
    expect(await delivery(qid, /status=/, "the filter's answer")).toMatch(/dsn=4\.7\.1, status=deferred \(host 127\.0\.0\.1\[127\.0\.0\.1\] said: 451 4\.7\.1 /);
    await until(() => new RegExp(`^${qid}\\s`, "m").test(postqueue()), "the mail in the deferred queue");
  });

  it("reject, discard and defer decide without classifying: even ham is blocked", async () => {
    const ham = "Hello Bob, here are the minutes. Alice";
    const rq = send("asreject@example.test", "as-reject-marker-9", ham);
    expect(await delivery(rq, /status=/, "the reject")).toMatch(/status=bounced \(.*554 5\.7\.1 Message rejected by content filter: action_as=reject/);
    const dq = send("asdiscard@example.test", "as-discard-marker-10", ham);
    expect(await delivery(dq, /status=/, "the discard")).toMatch(/status=sent \(250 /);
    const fq = send("asdefer@example.test", "as-defer-marker-11", ham);
    expect(await delivery(fq, /status=/, "the defer")).toMatch(/status=deferred \(.*451 4\.7\.1 /);
    await sentinel("as-after-blocked-12");
    expect(withMarker("as-reject-marker-9")).toEqual([]);
    expect(withMarker("as-discard-marker-10")).toEqual([]);
    expect(withMarker("as-defer-marker-11")).toEqual([]);
    // not classified, so nothing of it is in quarantine as spam
    expect(quarantineList(config, ["--recipient", "asdiscard@example.test"])).toEqual([]);
  });

  it("as_approved_ip_list: GTUBE from the approved client 127.0.0.2 skips classification and is delivered", async () => {
    send("spamreject@example.test", "as-approved-marker-13", GTUBE, ["--local-interface", "127.0.0.2"]);
    const mail = await deliveredMail("as-approved-marker-13");
    expect(mail).toMatch(/^X-Bulwark-Spam-Status: No, skipped \(approved client 127\.0\.0\.2\)$/m);
    expect(mail).toMatch(/^Subject: as-approved-marker-13$/m);
    // the same mail from 127.0.0.1 is rejected (the agent section says action_as_spam = reject)
    const qid = send("spamreject@example.test", "as-approved-marker-14", GTUBE);
    expect(await delivery(qid, /status=/, "the reject")).toMatch(/status=bounced/);
  });
});
