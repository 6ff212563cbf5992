/**
 * SPF, DKIM and DMARC through mailauth against a real DNS server (a private dnsmasq started here)
 * holding SPF, DKIM key and DMARC records; the key pair is made here and the mail signed with
 * mailauth's dkimSign.
 */
import { generateKeyPairSync } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AUTH_SCORES, checkAuthentication, limitDkimSignatures, MAX_AUTH_DNS_QUERIES, MAX_DKIM_SIGNATURES,
} from "../../../host/spam/net/auth.js";
import { loadMailauth } from "../../../host/spam/net/mailauth-load.js";
import { createResolver, type DnsResolver } from "../../../host/spam/net/resolver.js";
import { PrivateDnsmasq } from "../../helpers/dns-server.js";

const GOOD_IP = "192.0.2.10";
const BAD_IP = "198.51.100.7";
let dns: PrivateDnsmasq;
let resolver: DnsResolver;
let privateKey: string;

beforeAll(async () => {
  const pair = generateKeyPairSync("rsa", { modulusLength: 2048 });
  privateKey = pair.privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const p = pair.publicKey.export({ type: "spki", format: "der" }).toString("base64");
  dns = await PrivateDnsmasq.start({
    txt: {
      "example.test": `v=spf1 ip4:${GOOD_IP} -all`,
      "soft.example.test": `v=spf1 ip4:${GOOD_IP} ~all`,
      "sel._domainkey.example.test": `v=DKIM1; k=rsa; p=${p}`,
      "_dmarc.example.test": "v=DMARC1; p=reject",
      "lax.test": `v=spf1 ip4:${GOOD_IP} -all`,
      "_dmarc.lax.test": "v=DMARC1; p=none",
    },
    silent: ["slow.test"],
  });
  resolver = createResolver({ servers: [dns.server], timeoutMs: 2_000 });
});
afterAll(async () => { await dns?.stop(); });

function mail(from: string, body = "Hello,\r\nthe minutes of Tuesday's meeting are attached.\r\n"): Buffer {
  return Buffer.from(
    `From: Alice <${from}>\r\nTo: bob@receiver.test\r\nSubject: minutes\r\n` +
      `Date: Tue, 24 Nov 2026 10:00:00 +0000\r\nMessage-ID: <m1@example.test>\r\n\r\n${body}`,
  );
}

async function signed(raw: Buffer, selector = "sel"): Promise<Buffer> {
  const { dkimSign } = await loadMailauth();
  const r = await dkimSign(raw, { canonicalization: "relaxed/relaxed", signatureData: [{ signingDomain: "example.test", selector, privateKey }] });
  expect(r.errors).toEqual([]);
  expect(r.signatures).toMatch(/^DKIM-Signature:/);
  return Buffer.concat([Buffer.from(r.signatures), raw]);
}

const names = (r: { reasons: Array<{ name: string }> }) => r.reasons.map((x) => x.name).sort();

describe("SPF", () => {
  it("pass, fail and softfail are scored from the table", async () => {
    const pass = await checkAuthentication(mail("a@example.test"), { resolver, clientAddr: GOOD_IP, helo: "mx.example.test", sender: "a@example.test" });
    expect(names(pass)).toContain("SPF_PASS");
    expect(pass.reasons.find((r) => r.name === "SPF_PASS")!.score).toBe(AUTH_SCORES.SPF_PASS);

    const fail = await checkAuthentication(mail("a@example.test"), { resolver, clientAddr: BAD_IP, helo: "bad.test", sender: "a@example.test" });
    expect(names(fail)).toContain("SPF_FAIL");
    expect(names(fail)).not.toContain("SPF_PASS");

    const soft = await checkAuthentication(mail("a@soft.example.test"), { resolver, clientAddr: BAD_IP, helo: "bad.test", sender: "a@soft.example.test" });
    expect(names(soft)).toContain("SPF_SOFTFAIL");
    expect(soft.softFailures).toEqual([]);
  });

  it("a DNS timeout is a soft failure that adds no SPF reason", async () => {
    const quick = createResolver({ servers: [dns.server], timeoutMs: 300 });
    const r = await checkAuthentication(mail("a@slow.test"), { resolver: quick, clientAddr: BAD_IP, helo: "bad.test", sender: "a@slow.test" });
    expect(r.reasons.filter((x) => x.name.startsWith("SPF_"))).toEqual([]);
    expect(r.softFailures.join("\n")).toMatch(/spf: temperror/);
  });
});

describe("DKIM and DMARC", () => {
  it("a valid aligned signature: DKIM_VALID and DMARC_PASS even when SPF fails", async () => {
    const raw = await signed(mail("a@example.test"));
    const r = await checkAuthentication(raw, { resolver, clientAddr: BAD_IP, helo: "bad.test", sender: "a@example.test" });
    expect(names(r)).toEqual(["DKIM_VALID", "DMARC_PASS", "SPF_FAIL"]);
    expect(r.authResults).toMatch(/dkim=pass/);
    expect(r.authResults).toMatch(/dmarc=pass/);
    expect(r.authResults).toMatch(/spf=fail/);
  });

  it("an altered body: DKIM_INVALID, and with SPF failing DMARC_REJECT", async () => {
    const raw = await signed(mail("a@example.test"));
    const altered = Buffer.from(raw.toString("latin1").replace("Tuesday's meeting", "Wednesday's offer"), "latin1");
    expect(altered.equals(raw)).toBe(false);
    const r = await checkAuthentication(altered, { resolver, clientAddr: BAD_IP, helo: "bad.test", sender: "a@example.test" });
    expect(names(r)).toEqual(["DKIM_INVALID", "DMARC_REJECT", "SPF_FAIL"]);
    const total = r.reasons.reduce((a, x) => a + x.score, 0);
    expect(total).toBeCloseTo(AUTH_SCORES.DKIM_INVALID + AUTH_SCORES.DMARC_REJECT + AUTH_SCORES.SPF_FAIL, 5);
  });

  it("a signature whose key is missing is neither valid nor invalid", async () => {
    const raw = await signed(mail("a@example.test"), "nokey");
    const r = await checkAuthentication(raw, { resolver, clientAddr: GOOD_IP, helo: "mx.example.test", sender: "a@example.test" });
    expect(names(r)).toEqual(["DMARC_PASS", "SPF_PASS"]);
  });

  it("DMARC passes on aligned SPF alone; fails with p=none for a small score", async () => {
    const spfOnly = await checkAuthentication(mail("a@example.test"), { resolver, clientAddr: GOOD_IP, helo: "mx.example.test", sender: "a@example.test" });
    expect(names(spfOnly)).toEqual(["DMARC_PASS", "SPF_PASS"]);
    const lax = await checkAuthentication(mail("a@lax.test"), { resolver, clientAddr: BAD_IP, helo: "bad.test", sender: "a@lax.test" });
    expect(names(lax)).toEqual(["DMARC_FAIL_NONE", "SPF_FAIL"]);
  });
});

describe("bounds", () => {
  it(`verifies at most ${MAX_DKIM_SIGNATURES} DKIM signatures`, async () => {
    let raw = mail("a@example.test");
    for (let i = 0; i < MAX_DKIM_SIGNATURES + 3; i++) raw = await signed(raw, `s${i}`);
    const limited = limitDkimSignatures(raw).toString("latin1");
    expect(limited.match(/^DKIM-Signature:/gim)).toHaveLength(MAX_DKIM_SIGNATURES);
    expect(limited.endsWith(mail("a@example.test").toString("latin1").split("\r\n\r\n")[1]!)).toBe(true);
    const few = mail("a@example.test");
    expect(limitDkimSignatures(few)).toBe(few);

    const asked: string[] = [];
    const counted: DnsResolver = { ...resolver, resolve: (n, t) => { asked.push(n); return resolver.resolve(n, t); } };
    await checkAuthentication(raw, { resolver: counted, clientAddr: GOOD_IP, sender: "a@example.test" });
    expect(asked.filter((n) => n.includes("._domainkey.")).length).toBe(MAX_DKIM_SIGNATURES);
    expect(asked.length).toBeLessThanOrEqual(MAX_AUTH_DNS_QUERIES);
  });

  it("an empty or binary message resolves with no reasons instead of rejecting", async () => {
    for (const raw of [Buffer.alloc(0), Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 37) & 255))]) {
      const r = await checkAuthentication(raw, { resolver, clientAddr: GOOD_IP, sender: "" });
      expect(r.reasons).toEqual([]);
    }
  });
});
