/**
 * DNS block lists against a real DNS server (a private dnsmasq started here): listed, not listed,
 * expected-answer ranges and mismatches, refusal codes and broken answers (never listed, circuit
 * breaker), timeouts and refused queries (soft), IPv6 nibble and IPv4-mapped names, parallel zones.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createDnsbl, createZoneBreaker, parseRblServices, RblConfigError, MAX_RBL_ZONES, RBL_BLOCK_SECONDS,
  RBL_LISTED_SCORE, RBL_TIMEOUTS_TO_SKIP, RBL_TIMEOUT_SKIP_SECONDS, type RblService,
} from "../../../host/spam/net/dnsbl.js";
import { dnsblQueryName } from "../../../host/spam/net/ip.js";
import { createResolver, type DnsResolver } from "../../../host/spam/net/resolver.js";
import { PrivateDnsmasq } from "../../helpers/dns-server.js";

const V6_CLIENT = "2001:db8:1234::25";
let dns: PrivateDnsmasq;
let resolver: DnsResolver;
/** short deadline for the cases that must time out */
let quick: DnsResolver;

beforeAll(async () => {
  dns = await PrivateDnsmasq.start({
    hosts: {
      "2.2.0.192.zen.test": "127.0.0.2",
      "3.2.0.192.zen.test": "127.0.0.4",
      "1.2.0.192.zen.test": "127.0.0.1",
      "4.2.0.192.zen.test": ["127.0.0.3", "127.0.0.10"],
      [dnsblQueryName(V6_CLIENT, "zen.test")!]: "127.0.0.2",
    },
    txt: { "2.2.0.192.zen.test": "Listed in ZEN-TEST see https://zen.test/query/192.0.2.2" },
    wildcards: { "blocked.test": "127.255.255.254", "broken.test": "10.0.0.1" },
    silent: ["slow.test"],
  });
  resolver = createResolver({ servers: [dns.server], timeoutMs: 3_000 });
  quick = createResolver({ servers: [dns.server], timeoutMs: 300 });
});
afterAll(async () => { await dns?.stop(); });

/** A resolver that records the names it is asked, to see which zones were queried. */
function counting(r: DnsResolver): { resolver: DnsResolver; names: string[] } {
  const names: string[] = [];
  return { names, resolver: { ...r, resolve: (n, t) => { names.push(`${t} ${n}`); return r.resolve(n, t); } } };
}

function dnsbl(entries: string[], r: DnsResolver = resolver, extra: { now?: () => number } = {}) {
  return createDnsbl({ resolver: r, services: parseRblServices(entries), breaker: createZoneBreaker(), ...extra });
}

describe("query names", () => {
  it("reverses IPv4 octets, IPv6 nibbles, and unmaps IPv4-mapped IPv6", () => {
    expect(dnsblQueryName("192.0.2.2", "zen.test")).toBe("2.2.0.192.zen.test");
    expect(dnsblQueryName("::ffff:192.0.2.2", "zen.test")).toBe("2.2.0.192.zen.test");
    expect(dnsblQueryName("2001:db8::1", "zen.test")).toBe(
      "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.zen.test");
    expect(dnsblQueryName("not-an-ip", "zen.test")).toBeUndefined();
  });
});

describe("as_rbl_service entries", () => {
  it("merges entries of one zone and names the reason after the zone", () => {
    const s = parseRblServices(["zen.test:127.0.0.2", " zen.test:127.0.0.4-127.0.0.7", "bl.example.org"]);
    expect(s.map((x) => [x.zone, x.name, x.expected.length])).toEqual([
      ["zen.test", "RBL_ZEN_TEST", 2],
      ["bl.example.org", "RBL_BL_EXAMPLE_ORG", 0],
    ]);
  });
  it.each([
    ["zen.test:10.0.0.2", /outside 127/],
    ["zen.test:127.0.0.9-127.0.0.2", /start is after/],
    ["zen.test:banana", /not an IPv4 answer/],
    ["no_dots", /zone name/],
    ["-bad-.test:127.0.0.2", /zone name/],
  ])("refuses %s naming it", (entry, why) => {
    expect(() => parseRblServices([entry])).toThrow(RblConfigError);
    expect(() => parseRblServices([entry])).toThrow(why);
    expect(() => parseRblServices([entry])).toThrow(entry);
  });
  it(`refuses more than ${MAX_RBL_ZONES} zones`, () => {
    const many = Array.from({ length: MAX_RBL_ZONES + 1 }, (_, i) => `z${i}.test`);
    expect(() => parseRblServices(many)).toThrow(/limit/);
    expect(parseRblServices(many.slice(0, MAX_RBL_ZONES))).toHaveLength(MAX_RBL_ZONES);
  });
});

describe("lookups against dnsmasq", () => {
  it("a listed client gives one reason with the answer and the TXT text", async () => {
    const r = await dnsbl(["zen.test:127.0.0.2"]).check("192.0.2.2");
    expect(r.softFailures).toEqual([]);
    expect(r.reasons).toHaveLength(1);
    expect(r.reasons[0]!.name).toBe("RBL_ZEN_TEST");
    expect(r.reasons[0]!.score).toBe(RBL_LISTED_SCORE);
    expect(r.reasons[0]!.description).toContain("127.0.0.2");
    expect(r.reasons[0]!.description).toContain("https://zen.test/query/192.0.2.2");
  });

  it("a TXT query that never answers does not cost the listing", async () => {
    const noTxt: DnsResolver = { ...quick, resolve: (n, t) => (t === "TXT" ? new Promise(() => {}) : quick.resolve(n, t)) };
    const r = await dnsbl(["zen.test:127.0.0.2"], noTxt).check("192.0.2.2");
    expect(r.softFailures).toEqual([]);
    expect(r.reasons.map((x) => x.name)).toEqual(["RBL_ZEN_TEST"]);
    expect(r.reasons[0]!.description).not.toContain("https://");
  });

  it("NXDOMAIN is not listed and not a failure", async () => {
    const r = await dnsbl(["zen.test:127.0.0.2"]).check("192.0.2.99");
    expect(r).toEqual({ reasons: [], softFailures: [] });
  });

  it("an answer other than the expected one is not a listing; a matching range is", async () => {
    expect((await dnsbl(["zen.test:127.0.0.2"]).check("192.0.2.3")).reasons).toEqual([]);
    const ranged = await dnsbl(["zen.test:127.0.0.2", "zen.test:127.0.0.4-127.0.0.7"]).check("192.0.2.3");
    expect(ranged.reasons.map((x) => x.name)).toEqual(["RBL_ZEN_TEST"]);
    expect(ranged.reasons[0]!.description).toContain("127.0.0.4");
  });

  it("without an expected answer: any 127/8 answer lists, except 127.0.0.1", async () => {
    const any = dnsbl(["zen.test"]);
    expect((await any.check("192.0.2.3")).reasons).toHaveLength(1);
    const multi = await any.check("192.0.2.4");
    expect(multi.reasons).toHaveLength(1);
    expect(multi.reasons[0]!.description).toMatch(/127\.0\.0\.3.*127\.0\.0\.10|127\.0\.0\.10.*127\.0\.0\.3/);
    expect(await any.check("192.0.2.1")).toEqual({ reasons: [], softFailures: [] });
  });

  it("an IPv6 client is looked up by nibbles, an IPv4-mapped one by its IPv4 name", async () => {
    const z = dnsbl(["zen.test:127.0.0.2"]);
    expect((await z.check(V6_CLIENT)).reasons.map((x) => x.name)).toEqual(["RBL_ZEN_TEST"]);
    expect((await z.check("::ffff:192.0.2.2")).reasons.map((x) => x.name)).toEqual(["RBL_ZEN_TEST"]);
    expect((await z.check("2001:db8:1234::26")).reasons).toEqual([]);
  });

  it("a refusal code is never a listing, and the zone is skipped for the block time", async () => {
    let clock = 1_000_000;
    const c = counting(resolver);
    const warnings: string[] = [];
    const z = createDnsbl({
      resolver: c.resolver, services: parseRblServices(["blocked.test", "zen.test:127.0.0.2"]),
      breaker: createZoneBreaker(), now: () => clock,
      log: { warning: (m) => warnings.push(m), debug: () => {} },
    });
    const first = await z.check("192.0.2.2");
    expect(first.reasons.map((x) => x.name)).toEqual(["RBL_ZEN_TEST"]);
    expect(first.softFailures).toHaveLength(1);
    expect(first.softFailures[0]).toMatch(/blocked\.test: answered 127\.255\.255\.254/);
    expect(warnings.join("\n")).toMatch(/blocked\.test is skipped for 300 s/);
    const queriedBefore = c.names.filter((n) => n.endsWith("blocked.test")).length;
    expect(queriedBefore).toBe(1);

    clock += (RBL_BLOCK_SECONDS - 1) * 1000;
    const second = await z.check("192.0.2.2");
    expect(second.reasons.map((x) => x.name)).toEqual(["RBL_ZEN_TEST"]); // other zones still run
    expect(second.softFailures[0]).toMatch(/blocked\.test: skipped until/);
    expect(c.names.filter((n) => n.endsWith("blocked.test")).length).toBe(queriedBefore);

    clock += 2000;
    const third = await z.check("192.0.2.2");
    expect(third.softFailures[0]).toMatch(/answered 127\.255\.255\.254/);
    expect(c.names.filter((n) => n.endsWith("blocked.test")).length).toBe(queriedBefore + 1);
  });

  it("an answer outside 127/8 means a broken list: soft failure, never listed", async () => {
    const r = await dnsbl(["broken.test"]).check("192.0.2.2");
    expect(r.reasons).toEqual([]);
    expect(r.softFailures[0]).toMatch(/broken\.test: answered 10\.0\.0\.1, outside 127/);
  });

  it("a timeout adds nothing and is reported; repeated timeouts skip the zone", async () => {
    let clock = 5_000_000;
    const c = counting(quick);
    const z = createDnsbl({ resolver: c.resolver, services: parseRblServices(["slow.test", "zen.test:127.0.0.2"]), breaker: createZoneBreaker(), now: () => clock });
    for (let i = 0; i < RBL_TIMEOUTS_TO_SKIP; i++) {
      const r = await z.check("192.0.2.2");
      expect(r.reasons.map((x) => x.name)).toEqual(["RBL_ZEN_TEST"]);
      expect(r.softFailures).toHaveLength(1);
      expect(r.softFailures[0]).toMatch(/slow\.test: ETIMEOUT/);
    }
    const slowQueries = c.names.filter((n) => n.endsWith("slow.test")).length;
    expect(slowQueries).toBe(RBL_TIMEOUTS_TO_SKIP);
    const skipped = await z.check("192.0.2.2");
    expect(skipped.softFailures[0]).toMatch(/slow\.test: skipped until/);
    expect(c.names.filter((n) => n.endsWith("slow.test")).length).toBe(slowQueries);
    clock += (RBL_TIMEOUT_SKIP_SECONDS + 1) * 1000;
    await z.check("192.0.2.2");
    expect(c.names.filter((n) => n.endsWith("slow.test")).length).toBe(slowQueries + 1);
  });

  it("a zone the server refuses (no upstream) fails soft", async () => {
    const r = await dnsbl(["bl.example.invalid"]).check("192.0.2.2");
    expect(r.reasons).toEqual([]);
    expect(r.softFailures[0]).toMatch(/bl\.example\.invalid: EREFUSED/);
  });

  it("several zones are queried at once: a slow zone does not delay the others' answers", async () => {
    const order: string[] = [];
    const c = counting(quick);
    const tracked: DnsResolver = {
      ...c.resolver,
      resolve: (n, t) => c.resolver.resolve(n, t).finally(() => order.push(n)),
    };
    const services: RblService[] = parseRblServices(["slow.test", "zen.test:127.0.0.2"]);
    const r = await createDnsbl({ resolver: tracked, services, breaker: createZoneBreaker() }).check("192.0.2.2");
    expect(r.reasons.map((x) => x.name)).toEqual(["RBL_ZEN_TEST"]);
    // both A queries were sent before either finished, and the slow one finished last
    expect(c.names.slice(0, 2).sort()).toEqual(["A 2.2.0.192.slow.test", "A 2.2.0.192.zen.test"]);
    expect(order[order.length - 1]).toBe("2.2.0.192.slow.test");
  });
});
