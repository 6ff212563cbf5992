/**
 * GTUBE through the mail agents other than the SMTP proxy (issue 5: "GTUBE spam in every agent
 * that exists"; the SMTP agent's own test is smtp-postfix-spam.test.ts):
 * - the milter behind a real private Postfix (smtpd_milters): action_as_spam = reject gives the
 *   client 554 5.7.1 naming GTUBE at the end of DATA and nothing is queued; for a recipient
 *   whose spam is accepted the mail arrives with the X-Bulwark-Spam-* fields and its Subject
 *   field changed in place (SMFIR_CHGHEADER), a mail without one gets one (SMFIR_ADDHEADER);
 * - bulwark-pipe: exit 0 with the fields and the tagged subject, or the reject exit code;
 * - the antivirus half still wins for an infected mail (EICAR) whatever the spam verdict says.
 * Postfix and swaks missing = failure, not a skip.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireBinary } from "../clamd/clamd-peer.js";
import { type DaemonProcess, EICAR, freePort, runAgent, startDaemonProcess, tempDir, until, stopDaemonProcess, writeConfig } from "../daemon/daemon-process.js";
import { PrivatePostfix, swaksDataReply } from "../helpers/mail-peers.js";
import { portOpen } from "../helpers/raw-smtp.js";

const GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";

let dir = "";
let swaksBin = "";
let postfix: PrivatePostfix | undefined;
let smtpPort = 0;
let config = "";
let daemon: DaemonProcess | undefined;

function swaks(to: string, args: string[]): string {
  const r = spawnSync(swaksBin, ["--server", `127.0.0.1:${smtpPort}`, "--from", "alice@example.org", "--to", to, ...args], { encoding: "utf8", timeout: 60_000 });
  return `${r.stdout}${r.stderr}`;
}
const withMarker = (m: string) => postfix!.withMarker(m);
const postqueue = () => spawnSync("postqueue", ["-c", postfix!.etc, "-p"], { encoding: "utf8" }).stdout;

beforeAll(async () => {
  swaksBin = requireBinary("swaks", "swaks");
  dir = tempDir("bulwark-spam-agents-");
  chmodSync(dir, 0o755);
  const users = join(dir, "users.cfg");
  // bob accepts spam (marked), everybody else rejects it (milter); dave rejects it (pipe)
  writeFileSync(users, "[bob@example.test]\naction_as_spam = accept\n\n[dave@example.test]\naction_as_spam = reject\n");
  const milterPort = await freePort();
  config = writeConfig(dir, [
    "", "[smfi]", "agent_enabled = yes", `listen_port = ${milterPort}`, "action_as = scan", "action_as_spam = reject", `user_config = "${users}"`,
    "", "[pipe]", "action_as = scan", `user_config = "${users}"`, "",
  ].join("\n"));
  daemon = await startDaemonProcess(config, join(dir, "cache"));
  await until(() => portOpen(milterPort), "the milter agent's TCP listener");
  const [reinjectPort, filterPort] = [await freePort(), await freePort()];
  smtpPort = await freePort();
  postfix = await PrivatePostfix.start(join(dir, "postfix"), { smtp: smtpPort, reinject: reinjectPort, filter: filterPort }, {
    PF_CONTENT_FILTER: "no",
    PF_MILTER: `inet:127.0.0.1:${milterPort}`,
  });
}, 90_000);

afterAll(async () => {
  await stopDaemonProcess(daemon);
  postfix?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("milter (Postfix smtpd_milters)", () => {
  it("rejects GTUBE with 554 5.7.1 naming the rule; nothing is queued", () => {
    const out = swaks("carol@example.test", ["--header", "Subject: milter-gtube-reject-1", "--body", GTUBE]);
    expect(swaksDataReply(out)).toMatch(/554 5\.7\.1 .*GTUBE/);
    expect(postqueue()).not.toContain("carol@example.test");
  });

  it("accepts spam for bob marked, with the Subject field changed in place and forged fields deleted", async () => {
    const forged = ["--add-header", "X-Bulwark-Spam-Status: No, score=-5.0 required=5.0", "--add-header", "X-Bulwark-Verdict: clean", "--add-header", "x-bulwark-spam-status: No"];
    const out = swaks("bob@example.test", ["--header", "Subject: milter-gtube-mark-2", "--body", GTUBE, ...forged]);
    expect(swaksDataReply(out)).toMatch(/^<-\s+250 /);
    await until(() => withMarker("milter-gtube-mark-2").length === 1, "the marked spam in the Maildir");
    const mail = withMarker("milter-gtube-mark-2")[0];
    expect(mail.match(/^X-Bulwark-Spam-Status:.*$/gim)).toHaveLength(1);
    expect(mail).toMatch(/^X-Bulwark-Spam-Status: Yes, score=/m);
    expect(mail.match(/^X-Bulwark-Verdict:.*$/gm)).toEqual(["X-Bulwark-Verdict: clean"]); // ours, not the forged one (same text, so count)
    expect(mail).not.toMatch(/score=-5\.0/);
    expect(mail.match(/^Subject:.*$/gm)).toEqual(["Subject: [SPAM] milter-gtube-mark-2"]);
  });

  it("adds a Subject field to spam that had none", async () => {
    const marker = "milter-gtube-nosubject-3";
    const data = join(dir, "nosubject.eml");
    writeFileSync(data, `From: alice@example.org\r\nTo: bob@example.test\r\nX-Marker: ${marker}\r\n\r\n${GTUBE}\r\n`);
    const out = swaks("bob@example.test", ["--data", `@${data}`]);
    expect(swaksDataReply(out)).toMatch(/^<-\s+250 /);
    await until(() => withMarker(marker).length === 1, "the spam without subject in the Maildir");
    expect(withMarker(marker)[0]).toMatch(/^Subject: \[SPAM\]/m);
  });

  it("lets ham through for the rejecting recipient", async () => {
    const out = swaks("carol@example.test", ["--header", "Subject: milter-ham-4", "--body", "Hi Carol, the report is attached below. Alice"]);
    expect(swaksDataReply(out)).toMatch(/^<-\s+250 /);
    await until(() => withMarker("milter-ham-4").length === 1, "the ham in the Maildir");
    expect(withMarker("milter-ham-4")[0]).toMatch(/^X-Bulwark-Spam-Status: No, score=/m);
  });
});

describe("bulwark-pipe", () => {
  const mail = (subject: string, body: string) => Buffer.from(`From: alice@example.org\nTo: bob@example.test\nSubject: ${subject}\n\n${body}\n`);

  it("passes GTUBE marked when spam is accepted, with the subject tagged and forged fields removed", () => {
    const forged = Buffer.concat([Buffer.from("X-Bulwark-Spam-Status: No, score=-5.0\n\tfolded\nX-Bulwark-Spam-Score: -5.0\n"), mail("pipe-gtube", GTUBE)]);
    const r = runAgent("bulwark-pipe", ["--config", config, "--recipient", "bob@example.test"], forged);
    expect(r.code, r.stderr).toBe(0);
    const out = r.stdout.toString("latin1");
    expect(out).toMatch(/^X-Bulwark-Spam-Status: Yes, score=/m);
    expect(out.match(/^X-Bulwark-Spam-(Status|Score):/gm)).toHaveLength(2);
    expect(out).not.toMatch(/-5\.0|folded/);
    expect(out).toMatch(/^Subject: \[SPAM\] pipe-gtube$/m);
    expect(out).toContain(GTUBE);
  });

  it("exits with the reject code when action_as_spam = reject", () => {
    const r = runAgent("bulwark-pipe", ["--config", config, "--recipient", "dave@example.test"], mail("pipe-gtube-reject", GTUBE));
    expect(r.code).toBe(69);
    expect(r.stdout.length).toBe(0);
    expect(r.stderr).toMatch(/reject: spam, score [\d.]+ \(GTUBE/);
  });

  it("an infected spam is judged by the antivirus half too: EICAR + GTUBE for bob (spam accepted) is rejected as infected", () => {
    const body = Buffer.concat([Buffer.from("From: a@b\nSubject: both\n\n"), EICAR, Buffer.from(`\n${GTUBE}\n`)]);
    const r = runAgent("bulwark-pipe", ["--config", config, "--recipient", "bob@example.test"], body);
    expect(r.code).toBe(69);
    expect(r.stderr).toMatch(/Eicar-Test-Signature/);
  });
});

describe("no anti-spam engine (a broken as_rules_file): mail that asks for classification is deferred", () => {
  let broken: DaemonProcess | undefined;
  let brokenConfig = "";
  beforeAll(async () => {
    const d = join(dir, "broken");
    brokenConfig = writeConfig(d, "\n[pipe]\naction_as = scan\n");
    const rules = join(d, "broken.rules");
    writeFileSync(rules, "body BROKEN /unclosed(/\n");
    writeFileSync(brokenConfig, readFileSync(brokenConfig, "utf8").replace("[global]\n", `[global]\nas_rules_file = "${rules}"\n`));
    broken = await startDaemonProcess(brokenConfig, join(d, "cache"));
  });
  afterAll(async () => {
    await stopDaemonProcess(broken);
  });

  it("bulwark-pipe exits 75 (EX_TEMPFAIL) and writes nothing; the daemon says why", async () => {
    const r = runAgent("bulwark-pipe", ["--config", brokenConfig, "--recipient", "bob@example.test"], Buffer.from("Subject: hi\n\nhello\n"));
    expect(r.code).toBe(75);
    expect(r.stdout.length).toBe(0);
    expect(broken!.log()).toMatch(/anti-spam unavailable[^\n]*broken\.rules:1/);
    expect(r.stderr).toMatch(/defer/);
  });
});
