/**
 * The anti-spam step's skips and its fail-safe (host/service/spam-check.ts), with the real
 * engine (rules + Bayes, no network): which recipients are classified, an approved client seen
 * on the connection or (behind a loopback hop) in our MTA's Received field, as_message_scan_size
 * skipping LARGER mail, a mail received in part, and no engine at all (SpamUnavailable, which the
 * mail service turns into a defer).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfigText } from "../../host/config/load.js";
import { agentBaseOptions } from "../../host/service/recipient-options.js";
import { classifyForRecipients, SpamUnavailable } from "../../host/service/spam-check.js";
import { createSpamEngine, type LocalSpamEngine } from "../../host/spam/engine.js";
import type { RecipientOptions } from "../../host/policy/user-config.js";

const GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";
let dir = "";
let engine: LocalSpamEngine;
let base: Record<string, string>;

const recipient = (recipientAddr: string, over: Record<string, string>): RecipientOptions => ({ recipient: recipientAddr, options: { ...base, ...over }, sources: {}, matched: [] });
const spamMail = (received = "") => Buffer.from(`${received}From: a@example.org\nSubject: s\n\n${GTUBE}\n`);
const input = (mail: Buffer, overflow = false) => ({ mail, received: mail.length, overflow });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "bulwark-spam-check-"));
  const config = loadConfigText(`[global]\ncache_dir = "${dir}"\n[smtp]\nagent_enabled = yes\n`, join(dir, "bulwark.cfg")).config;
  base = agentBaseOptions(config, "smtp");
  engine = await createSpamEngine({ config, network: false });
});
afterAll(() => {
  engine?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("classifyForRecipients", () => {
  it("classifies once for the recipients whose action_as is scan, and leaves the others alone", async () => {
    const r = await classifyForRecipients(engine, { agent: "smtp" }, input(spamMail()), [recipient("a@x", { action_as: "scan" }), recipient("b@x", { action_as: "accept" })]);
    expect(r[0]).toMatchObject({ status: "spam" });
    expect(r[0]!.reasons.map((x) => x.name)).toContain("GTUBE");
    expect(r[1]).toBeUndefined();
  });

  it("needs no engine when nobody asks for classification, and throws SpamUnavailable when somebody does", async () => {
    expect(await classifyForRecipients(undefined, { agent: "smtp" }, input(spamMail()), [recipient("a@x", { action_as: "reject" })])).toEqual([undefined]);
    await expect(classifyForRecipients(undefined, { agent: "smtp" }, input(spamMail()), [recipient("a@x", { action_as: "scan" })])).rejects.toBeInstanceOf(SpamUnavailable);
  });

  it("as_message_scan_size skips mail LARGER than it, and only for the recipient that sets it", async () => {
    const mail = spamMail();
    const r = await classifyForRecipients(engine, { agent: "smtp" }, input(mail), [
      recipient("small@x", { action_as: "scan", as_message_scan_size: String(mail.length - 1) }),
      recipient("exact@x", { action_as: "scan", as_message_scan_size: String(mail.length) }),
      recipient("none@x", { action_as: "scan", as_message_scan_size: "0" }),
    ]);
    expect(r[0]).toMatchObject({ status: "ham", score: 0, reasons: [] });
    expect(r[0]!.skipped).toMatch(/^larger than as_message_scan_size/);
    expect(r[1]).toMatchObject({ status: "spam" });
    expect(r[2]).toMatchObject({ status: "spam" });
  });

  it("an approved client is skipped: on the connection, or in our MTA's Received field behind a loopback hop", async () => {
    const approved = (clientAddr: string | undefined, received = "") =>
      classifyForRecipients(engine, { agent: "smtp", ...(clientAddr ? { clientAddr } : {}) }, input(spamMail(received)), [recipient("a@x", { action_as: "scan", as_approved_ip_list: "10.0.0.0/8,192.0.2.5-192.0.2.9,2001:db8::/32" })]);
    expect((await approved("10.1.2.3"))[0]!.skipped).toBe("approved client 10.1.2.3");
    expect((await approved("192.0.2.7"))[0]!.skipped).toBe("approved client 192.0.2.7");
    expect((await approved("::ffff:10.9.9.9"))[0]!.skipped).toMatch(/^approved client /);
    expect((await approved("2001:db8::1"))[0]!.skipped).toBe("approved client 2001:db8::1");
    expect((await approved("192.0.2.10"))[0]).toMatchObject({ status: "spam" });
    const hop = "Received: from client.example (client.example [10.20.30.40])\n\tby mx.example.test (Postfix) with ESMTP id ABC; Wed, 25 Nov 2026 10:00:00 +0000\n";
    expect((await approved("127.0.0.1", hop))[0]!.skipped).toBe("approved client 10.20.30.40");
    expect((await approved("127.0.0.1"))[0]).toMatchObject({ status: "spam" });
  });

  it("a mail received only in part is never classified as a whole", async () => {
    const r = await classifyForRecipients(engine, { agent: "smtp" }, input(spamMail(), true), [recipient("a@x", { action_as: "scan" })]);
    expect(r[0]!.skipped).toMatch(/only part of the mail/);
    const t = await classifyForRecipients(engine, { agent: "smtp", truncated: true }, input(spamMail()), [recipient("a@x", { action_as: "scan" })]);
    expect(t[0]!.skipped).toMatch(/only part of the mail/);
  });
});
