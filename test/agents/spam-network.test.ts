/**
 * The daemon's network checks end to end (issue 5): a real daemon whose as_dns_servers is a
 * private dnsmasq started here (test/helpers/dns-server.ts), asked through its [spamd] agent by
 * Debian's spamc, so the client address comes from the topmost Received field as it does for a
 * spamd client. Three block lists: one that lists 192.0.2.10 (127.0.0.2), one that answers the
 * refusal code 127.255.255.254 (blocked: never "listed"), one whose server never answers
 * (timeout). Only the first adds a reason; the other two are logged as soft failures and the
 * answer still comes (the check fails soft, the mail is still classified).
 * dnsmasq and spamc missing = failure, not a skip.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireBinary } from "../clamd/clamd-peer.js";
import { type DaemonProcess, freePort, startDaemonProcess, tempDir, until, stopDaemonProcess, writeConfig } from "../daemon/daemon-process.js";
import { PrivateDnsmasq } from "../helpers/dns-server.js";

let dir = "";
let daemon: DaemonProcess | undefined;
let dns: PrivateDnsmasq | undefined;
let spamc = "";
let port = 0;

const mail = (ip: string, id: string) => Buffer.from(
  `Received: from relay.example.org (relay.example.org [${ip}])\n\tby mx.example.test with ESMTP id ${id}; Wed, 25 Nov 2026 10:00:00 +0000\n` +
  `From: Alice <alice@example.org>\nTo: Bob <bob@example.test>\nSubject: figures ${id}\nDate: Wed, 25 Nov 2026 10:00:00 +0000\n` +
  `Message-ID: <${id}@example.org>\n\nHi Bob, the figures for the quarter are below. Alice\n`,
);

function spamcSymbols(input: Buffer): { code: number | null; out: string } {
  const r = spawnSync(spamc, ["-d", "127.0.0.1", "-p", String(port), "-y"], { input, encoding: "utf8", timeout: 60_000 });
  return { code: r.status, out: r.stdout };
}

beforeAll(async () => {
  spamc = requireBinary("spamc", "spamc");
  dns = await PrivateDnsmasq.start({
    hosts: { "10.2.0.192.bl.test": "127.0.0.2", "10.2.0.192.refuse.test": "127.255.255.254" },
    silent: ["slow.test"],
  });
  dir = tempDir("bulwark-spam-network-");
  port = await freePort();
  const config = writeConfig(dir, ["", "[spamd]", "agent_enabled = yes", `listen_port = ${port}`, ""].join("\n"));
  const global = [
    `as_dns_servers = "127.0.0.1:${dns.port}"`,
    'as_rbl_service = "bl.test:127.0.0.2, refuse.test, slow.test"',
    "as_dns_timeout = 1",
    "as_auth_enabled = no",
  ].join("\n");
  writeFileSync(config, readFileSync(config, "utf8").replace("workers = 1\n", `workers = 1\n${global}\n`));
  daemon = await startDaemonProcess(config, join(dir, "cache"));
  await until(() => spawnSync(spamc, ["-d", "127.0.0.1", "-p", String(port), "-K"]).status === 0, "the spamd agent");
});

afterAll(async () => {
  await stopDaemonProcess(daemon);
  await dns?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("DNS block lists against a real DNS server", () => {
  it("a listed client adds the list's reason; the refusal code and the timeout add nothing and are logged", async () => {
    const r = spamcSymbols(mail("192.0.2.10", "net-listed-1"));
    expect(r.out.split("\n")[0].split(",")).toContain("RBL_BL_TEST");
    expect(r.out).not.toMatch(/RBL_REFUSE_TEST|RBL_SLOW_TEST/);
    await until(() => /refuse\.test/.test(daemon!.log()) && /slow\.test/.test(daemon!.log()), "the soft failures in the daemon's log");
    expect(daemon!.log()).toMatch(/refuse\.test[^\n]*127\.255\.255\.254/);
  });

  it("an unlisted client gets no block-list reason", () => {
    const r = spamcSymbols(mail("192.0.2.11", "net-unlisted-2"));
    expect(r.code).toBe(0);
    expect(r.out).not.toMatch(/RBL_/);
  });
});
