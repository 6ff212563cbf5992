/**
 * The network checks' resolver: as_dns_servers forms and errors, answers in the shapes mailauth
 * expects, node:dns error codes, and the deadline that keeps every query from hanging, against a
 * private dnsmasq started here.
 */
import dgram from "node:dgram";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createResolver, DnsConfigError, MAX_DNS_SERVERS, parseDnsServers, withDeadline,
} from "../../../host/spam/net/resolver.js";
import { PrivateDnsmasq } from "../../helpers/dns-server.js";

describe("as_dns_servers", () => {
  it("accepts IP, IP:port, [IPv6]:port and bare IPv6, in node:dns form", () => {
    expect(parseDnsServers(["127.0.0.1", " 127.0.0.1:5353 ", "[::1]:53", ""])).toEqual(["127.0.0.1", "127.0.0.1:5353", "[::1]:53"]);
    expect(parseDnsServers(["::1", "[2001:db8::53]"])).toEqual(["::1", "2001:db8::53"]);
    expect(parseDnsServers([])).toEqual([]);
  });
  it.each([
    ["dns.example.org", /not an IP address/],
    ["127.0.0.1:0", /port outside/],
    ["127.0.0.1:65536", /port outside/],
    ["[127.0.0.1]:53", /not an IPv6 address/],
    ["1.2.3", /not an IP address/],
  ])("refuses %s naming it", (entry, why) => {
    expect(() => parseDnsServers([entry])).toThrow(DnsConfigError);
    expect(() => parseDnsServers([entry])).toThrow(`"${entry}"`);
    expect(() => parseDnsServers([entry])).toThrow(why);
  });
  it(`refuses more than ${MAX_DNS_SERVERS} servers`, () => {
    const many = Array.from({ length: MAX_DNS_SERVERS + 1 }, (_, i) => `127.0.0.${i + 1}`);
    expect(() => parseDnsServers(many)).toThrow(/at most/);
    expect(() => createResolver({ servers: ["nope"], timeoutSeconds: 3 })).toThrow(DnsConfigError);
  });
  it("no servers means the system's resolvers; the timeout comes from seconds", () => {
    const r = createResolver({ servers: [], timeoutSeconds: 3 });
    expect(r.servers).toEqual([]);
    expect(r.timeoutMs).toBe(3000);
  });
});

describe("withDeadline", () => {
  it("rejects a promise that never settles with ETIMEOUT", async () => {
    await expect(withDeadline(new Promise(() => {}), 20, "test")).rejects.toMatchObject({ code: "ETIMEOUT" });
    await expect(withDeadline(Promise.resolve(7), 1000, "test")).resolves.toBe(7);
    await expect(withDeadline(Promise.reject(Object.assign(new Error("x"), { code: "ENOTFOUND" })), 1000, "t")).rejects.toMatchObject({ code: "ENOTFOUND" });
  });
});

describe("queries against dnsmasq", () => {
  let dns: PrivateDnsmasq;
  beforeAll(async () => {
    dns = await PrivateDnsmasq.start({
      hosts: { "a.example.test": ["192.0.2.1", "2001:db8::1"] },
      txt: { "t.example.test": "v=spf1 " + "ip4:192.0.2.1 ".repeat(30) + "-all" },
      silent: ["slow.test"],
    });
  });
  afterAll(async () => { await dns?.stop(); });

  it("answers A, AAAA and TXT in dns.promises.resolve's shapes (TXT as string arrays)", async () => {
    const r = createResolver({ servers: [dns.server], timeoutMs: 3000 });
    expect(await r.resolve("a.example.test", "A")).toEqual(["192.0.2.1"]);
    expect(await r.resolve("a.example.test", "AAAA")).toEqual(["2001:db8::1"]);
    const txt = (await r.resolve("t.example.test", "TXT")) as string[][];
    expect(txt).toHaveLength(1);
    expect(txt[0]!.length).toBeGreaterThan(1); // longer than one 255-octet string
    expect(txt[0]!.join("")).toBe("v=spf1 " + "ip4:192.0.2.1 ".repeat(30) + "-all");
  });

  it("keeps node:dns codes: NXDOMAIN is ENOTFOUND, no record ENODATA, no upstream EREFUSED", async () => {
    const r = createResolver({ servers: [dns.server], timeoutMs: 3000 });
    await expect(r.resolve("missing.example.test", "A")).rejects.toMatchObject({ code: "ENOTFOUND" });
    await expect(r.resolve("a.example.test", "TXT")).rejects.toMatchObject({ code: "ENODATA" });
    await expect(r.resolve("www.example.invalid", "A")).rejects.toMatchObject({ code: "EREFUSED" });
  });

  it("a server that never answers ends in ETIMEOUT", async () => {
    const r = createResolver({ servers: [dns.server], timeoutMs: 300 });
    await expect(r.resolve("x.slow.test", "A")).rejects.toMatchObject({ code: "ETIMEOUT" });
  });

  it("a silent server given directly (not through dnsmasq) also ends in ETIMEOUT", async () => {
    const hole = dgram.createSocket("udp4");
    await new Promise<void>((res) => hole.bind(0, "127.0.0.1", res));
    try {
      const r = createResolver({ servers: [`127.0.0.1:${hole.address().port}`], timeoutMs: 300 });
      await expect(r.resolve("a.example.test", "A")).rejects.toMatchObject({ code: "ETIMEOUT" });
    } finally {
      hole.close();
    }
  });
});
