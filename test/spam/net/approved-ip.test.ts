/**
 * as_approved_ip_list entries: single addresses, CIDR, IPv4 netmasks, ranges, IPv6, IPv4-mapped
 * clients, and the errors for bad entries.
 */
import { describe, expect, it } from "vitest";
import { ApprovedIpError, parseApprovedList } from "../../../host/spam/net/approved-ip.js";

describe("as_approved_ip_list", () => {
  it("a single IPv4 address matches only itself, also as an IPv4-mapped IPv6 client", () => {
    const l = parseApprovedList(["192.0.2.7"]);
    expect(l.matches("192.0.2.7")).toBe(true);
    expect(l.matches("::ffff:192.0.2.7")).toBe(true);
    expect(l.matches("::FFFF:c000:0207")).toBe(true);
    expect(l.matches("192.0.2.8")).toBe(false);
    expect(l.matches("192.0.2.6")).toBe(false);
  });

  it("CIDR blocks cover exactly their prefix; host bits are ignored", () => {
    const l = parseApprovedList(["10.1.2.3/8", "198.51.100.0/24"]);
    expect(l.matches("10.0.0.0")).toBe(true);
    expect(l.matches("10.255.255.255")).toBe(true);
    expect(l.matches("11.0.0.0")).toBe(false);
    expect(l.matches("9.255.255.255")).toBe(false);
    expect(l.matches("198.51.100.255")).toBe(true);
    expect(l.matches("198.51.101.0")).toBe(false);
    expect(parseApprovedList(["0.0.0.0/0"]).matches("203.0.113.9")).toBe(true);
    expect(parseApprovedList(["0.0.0.0/0"]).matches("2001:db8::1")).toBe(false);
  });

  it("IPv4 netmask form equals the CIDR form", () => {
    const mask = parseApprovedList(["192.0.2.0/255.255.255.128"]);
    const cidr = parseApprovedList(["192.0.2.0/25"]);
    for (const a of ["192.0.2.0", "192.0.2.127", "192.0.2.128", "192.0.3.1", "192.0.1.255"]) {
      expect(mask.matches(a)).toBe(cidr.matches(a));
    }
    expect(mask.matches("192.0.2.127")).toBe(true);
    expect(mask.matches("192.0.2.128")).toBe(false);
  });

  it("ranges are inclusive, IPv4 and IPv6", () => {
    const l = parseApprovedList(["192.0.2.10-192.0.2.20", "2001:db8::10-2001:db8::1:0"]);
    expect(["192.0.2.10", "192.0.2.15", "192.0.2.20"].map((a) => l.matches(a))).toEqual([true, true, true]);
    expect(["192.0.2.9", "192.0.2.21"].map((a) => l.matches(a))).toEqual([false, false]);
    expect(l.matches("2001:db8::10")).toBe(true);
    expect(l.matches("2001:db8::ffff")).toBe(true);
    expect(l.matches("2001:db8::1:0")).toBe(true);
    expect(l.matches("2001:db8::1:1")).toBe(false);
    expect(l.matches("2001:db8::f")).toBe(false);
  });

  it("IPv6 addresses and /64 blocks; IPv4 entries never match other IPv6 clients", () => {
    const l = parseApprovedList(["2001:db8:aa:bb::/64", "2001:db8::5", "192.0.2.1"]);
    expect(l.matches("2001:db8:aa:bb:ffff:ffff:ffff:ffff")).toBe(true);
    expect(l.matches("2001:db8:aa:bc::")).toBe(false);
    expect(l.matches("2001:0db8:0000:0000:0000:0000:0000:0005")).toBe(true);
    expect(l.matches("2001:db8::6")).toBe(false);
    expect(l.matches("::c000:201")).toBe(false); // IPv4-compatible (deprecated), not mapped
    expect(l.matches("not an address")).toBe(false);
  });

  it("empty entries are ignored and an empty list matches nothing", () => {
    expect(parseApprovedList(["", " "]).size).toBe(0);
    expect(parseApprovedList([]).matches("192.0.2.1")).toBe(false);
  });

  it.each([
    ["192.0.2.300", /not an IP address/],
    ["mail.example.org", /not an IP address/],
    ["192.0.2.0/33", /prefix length above 32/],
    ["2001:db8::/129", /prefix length above 128/],
    ["192.0.2.0/255.0.255.0", /not contiguous/],
    ["2001:db8::/255.255.0.0", /neither a length nor an IPv4 netmask/],
    ["192.0.2.9-192.0.2.1", /start after its end/],
    ["192.0.2.1-2001:db8::1", /mixes IPv4 and IPv6/],
    ["fe80::1%eth0", /not an IP address/],
  ])("refuses %s with an error naming it", (entry, why) => {
    let err: unknown;
    try {
      parseApprovedList(["192.0.2.1", entry]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ApprovedIpError);
    expect((err as Error).message).toContain(`"${entry}"`);
    expect((err as Error).message).toMatch(why);
  });
});
