/**
 * networkChecks (host/spam/net/index.ts): block lists and SPF/DKIM/DMARC together against a
 * private dnsmasq, the client taken from the connection or from our MTA's Received field, local
 * clients never looked up, auth switched off, and bad as_rbl_service entries failing soft.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createZoneBreaker, networkChecks, type NetworkCheckOptions } from "../../../host/spam/net/index.js";
import { createResolver, type DnsResolver } from "../../../host/spam/net/resolver.js";
import { PrivateDnsmasq } from "../../helpers/dns-server.js";

const SPAMMER = "203.0.113.5";
let dns: PrivateDnsmasq;
let resolver: DnsResolver;
let asked: string[];

beforeAll(async () => {
  dns = await PrivateDnsmasq.start({
    hosts: { "5.113.0.203.zen.test": "127.0.0.2" },
    txt: { "example.test": "v=spf1 ip4:192.0.2.10 -all", "_dmarc.example.test": "v=DMARC1; p=reject" },
    wildcards: { "blocked.test": "127.255.255.255" },
    silent: ["slow.test"],
  });
  const base = createResolver({ servers: [dns.server], timeoutMs: 2_000 });
  resolver = { ...base, resolve: (n, t) => { asked.push(`${t} ${n}`); return base.resolve(n, t); } };
});
afterAll(async () => { await dns?.stop(); });

function opts(extra: Partial<NetworkCheckOptions> = {}): NetworkCheckOptions {
  asked = [];
  return { resolver, rblServices: ["zen.test:127.0.0.2"], authEnabled: true, mta: "mx.test", breaker: createZoneBreaker(), ...extra };
}

const mail = (received?: string) =>
  Buffer.from(`${received ? `Received: ${received}\r\n` : ""}From: Alice <a@example.test>\r\nTo: b@receiver.test\r\nSubject: hi\r\n\r\nhello\r\n`);

describe("networkChecks", () => {
  it("runs block lists and authentication for the connection's client", async () => {
    const r = await networkChecks(mail(), { clientAddr: SPAMMER, helo: "spam.example", sender: "a@example.test" }, opts());
    expect(r.reasons.map((x) => x.name).sort()).toEqual(["DMARC_REJECT", "RBL_ZEN_TEST", "SPF_FAIL"]);
    expect(r.softFailures).toEqual([]);
    expect(r.client).toEqual({ addr: SPAMMER, helo: "spam.example", from: "connection" });
    expect(r.authResults).toMatch(/^mx\.test;/);
    expect(r.authResults).toMatch(/spf=fail/);
  });

  it("without a connection client, or with our MTA on loopback, takes the top Received client", async () => {
    const rcvd = `from spam.example (unknown [${SPAMMER}]) by mx.test (Postfix) with ESMTP id 1`;
    for (const ctx of [{ sender: "a@example.test" }, { clientAddr: "127.0.0.1", helo: "localhost", sender: "a@example.test" }]) {
      const r = await networkChecks(mail(rcvd), ctx, opts());
      expect(r.client).toEqual({ addr: SPAMMER, helo: "spam.example", from: "received" });
      expect(r.reasons.map((x) => x.name)).toContain("RBL_ZEN_TEST");
      expect(r.reasons.map((x) => x.name)).toContain("SPF_FAIL");
    }
  });

  it("a private client is not looked up in block lists", async () => {
    const o = opts();
    const r = await networkChecks(mail(), { clientAddr: "10.1.2.3", sender: "a@example.test" }, o);
    expect(asked.filter((q) => q.endsWith(".zen.test"))).toEqual([]);
    expect(r.reasons.map((x) => x.name)).not.toContain("RBL_ZEN_TEST");
  });

  it("with authentication off, only the block lists run", async () => {
    const o = opts({ authEnabled: false });
    const r = await networkChecks(mail(), { clientAddr: SPAMMER, sender: "a@example.test" }, o);
    expect(r.reasons.map((x) => x.name)).toEqual(["RBL_ZEN_TEST"]);
    expect(r.authResults).toBeUndefined();
    expect(asked.every((q) => q.endsWith(".zen.test"))).toBe(true);
  });

  it("a bad as_rbl_service entry fails soft and names the entry; authentication still runs", async () => {
    const r = await networkChecks(mail(), { clientAddr: SPAMMER, sender: "a@example.test" }, opts({ rblServices: ["zen.test:10.0.0.2"] }));
    expect(r.softFailures).toHaveLength(1);
    expect(r.softFailures[0]).toMatch(/^rbl: .*"zen\.test:10\.0\.0\.2"/);
    expect(r.reasons.map((x) => x.name)).toContain("SPF_FAIL");
  });

  it("refusals and timeouts add nothing; a line-function log gets the operator warning", async () => {
    const lines: string[] = [];
    const r = await networkChecks(mail(), { clientAddr: SPAMMER, sender: "a@example.test" },
      opts({ rblServices: ["blocked.test", "zen.test:127.0.0.2"], authEnabled: false, log: (l: string) => lines.push(l) }));
    expect(r.reasons.map((x) => x.name)).toEqual(["RBL_ZEN_TEST"]);
    expect(r.softFailures[0]).toMatch(/blocked\.test: answered 127\.255\.255\.255/);
    expect(lines.some((l) => /^warning: anti-spam: block list blocked\.test is skipped/.test(l))).toBe(true);

    const quick = createResolver({ servers: [dns.server], timeoutMs: 300 });
    const t = await networkChecks(mail(), { clientAddr: SPAMMER, sender: "a@slow.test", helo: "h.slow.test" },
      { resolver: quick, rblServices: ["slow.test"], authEnabled: true, breaker: createZoneBreaker() });
    expect(t.reasons.filter((x) => x.name.startsWith("RBL_") || x.name.startsWith("SPF_"))).toEqual([]);
    expect(t.softFailures.join("\n")).toMatch(/rbl slow\.test: ETIMEOUT/);
    expect(t.softFailures.join("\n")).toMatch(/spf: temperror/);
  });
});
