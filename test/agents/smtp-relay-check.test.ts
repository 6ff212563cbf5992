/**
 * agents/smtp/relay-check.ts: strict RFC 5321 Path parsing, the classic relay tricks, and the
 * relay decision (relay networks, then local domains without tricks).
 */
import { describe, expect, it } from "vitest";
import { OPTIONS } from "../../host/config/schema.js";
import {
  compileRelayPolicy,
  decideRelay,
  inRelayNetworks,
  MAX_LABEL_OCTETS,
  MAX_LOCAL_PART_OCTETS,
  parsePathArgument,
  type RelayTrick,
} from "../../agents/smtp/relay-check.js";

describe("parsePathArgument", () => {
  const valid: Array<[string, { local: string; domain: string; tricks: RelayTrick[]; params?: string; route?: string[] }]> = [
    ["<bob@example.test>", { local: "bob", domain: "example.test", tricks: [] }],
    ["<Bob.Smith+tag@Mail.Example.TEST>", { local: "Bob.Smith+tag", domain: "Mail.Example.TEST", tricks: [] }],
    ["<bob@example.test> NOTIFY=NEVER ORCPT=rfc822;bob@example.test",
      { local: "bob", domain: "example.test", tricks: [], params: "NOTIFY=NEVER ORCPT=rfc822;bob@example.test" }],
    ['<"bob smith"@example.test>', { local: '"bob smith"', domain: "example.test", tricks: [] }],
    ["<user%other.test@example.test>", { local: "user%other.test", domain: "example.test", tricks: ["percent-hack"] }],
    ["<other.test!user@example.test>", { local: "other.test!user", domain: "example.test", tricks: ["bang-path"] }],
    ["<@a.test,@b.test:user@c.test>", { local: "user", domain: "c.test", tricks: ["source-route"], route: ["a.test", "b.test"] }],
    ['<"user@other.test"@example.test>', { local: '"user@other.test"', domain: "example.test", tricks: ["quoted-local-part"] }],
    ['<"user%other"@example.test>', { local: '"user%other"', domain: "example.test", tricks: ["quoted-local-part"] }],
    ['<"a\\!b"@example.test>', { local: '"a\\!b"', domain: "example.test", tricks: ["quoted-local-part"] }],
    ["<user@[192.0.2.1]>", { local: "user", domain: "[192.0.2.1]", tricks: ["address-literal"] }],
    ["<user@[IPv6:2001:db8::1]>", { local: "user", domain: "[IPv6:2001:db8::1]", tricks: ["address-literal"] }],
    ["<user@example.test.>", { local: "user", domain: "example.test", tricks: ["trailing-dot"] }],
    ["<user@xn--bcher-kva.test>", { local: "user", domain: "xn--bcher-kva.test", tricks: ["idna"] }],
    ["<a%b!c@x.test.>", { local: "a%b!c", domain: "x.test", tricks: ["percent-hack", "bang-path", "trailing-dot"] }],
  ];
  for (const [text, want] of valid) {
    it(`accepts ${text}`, () => {
      const r = parsePathArgument(text);
      if (!r.ok) throw new Error(r.error);
      expect(r.path.localPart).toBe(want.local);
      expect(r.path.domain).toBe(want.domain);
      expect([...r.path.tricks].sort()).toEqual([...want.tricks].sort());
      expect(r.path.route).toEqual(want.route ?? []);
      expect(r.params).toBe(want.params ?? "");
    });
  }

  it("<Postmaster> without a domain, any case", () => {
    for (const t of ["<Postmaster>", "<postmaster>", "<POSTMASTER>"]) {
      const r = parsePathArgument(t);
      expect(r.ok && r.path.postmaster).toBe(true);
    }
    const r = parsePathArgument("<postmaster@example.test>");
    expect(r.ok && r.path.postmaster).toBe(false);
  });

  const invalid: string[] = [
    "",
    "bob@example.test", // no angle brackets
    "<bob@example.test",
    "<>", // null path is not a forward path
    "<bob>",
    "<bob@>",
    "<@example.test>",
    "<.bob@example.test>",
    "<bob.@example.test>",
    "<bo..b@example.test>",
    "<bob@example..test>",
    "<bob@-example.test>",
    "<bob@example-.test>",
    "<bob@exa_mple.test>",
    "<bob@example.test..>",
    "<bob @example.test>",
    "<bob@example.test>extra",
    '<"unterminated@example.test>',
    '<"bad\tchar"@example.test>',
    "<bob@[300.1.1.1]>",
    "<bob@[IPv6:zz::1]>",
    "<bob@[1.2.3.4>",
    "<@a.test:@b.test:user@c.test>",
    "<bob@b\u00fccher.test>", // UTF-8 without SMTPUTF8
    "<b\u00f6b@example.test>",
    `<${"a".repeat(MAX_LOCAL_PART_OCTETS + 1)}@example.test>`,
    `<a@${"b".repeat(MAX_LABEL_OCTETS + 1)}.test>`,
    `<a@${Array.from({ length: 5 }, () => "c".repeat(MAX_LABEL_OCTETS)).join(".")}>`, // domain > 255
    `<${"a".repeat(MAX_LOCAL_PART_OCTETS)}@${Array.from({ length: 3 }, () => "c".repeat(MAX_LABEL_OCTETS)).join(".")}.${"d".repeat(61)}>`, // path > 256
  ];
  for (const text of invalid) {
    it(`rejects ${JSON.stringify(text.length > 60 ? text.slice(0, 60) + "..." : text)}`, () => {
      const r = parsePathArgument(text);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error).not.toBe("");
    });
  }

  it("the longest legal parts are accepted", () => {
    expect(parsePathArgument(`<${"a".repeat(MAX_LOCAL_PART_OCTETS)}@example.test>`).ok).toBe(true);
    expect(parsePathArgument(`<a@${"b".repeat(MAX_LABEL_OCTETS)}.test>`).ok).toBe(true);
  });

  it("with SMTPUTF8, UTF-8 is allowed and a non-ASCII domain is flagged idna", () => {
    const r = parsePathArgument("<b\u00f6b@b\u00fccher.test>", { smtputf8: true });
    if (!r.ok) throw new Error(r.error);
    expect(r.path.tricks).toEqual(["idna"]);
    const plain = parsePathArgument("<b\u00f6b@example.test>", { smtputf8: true });
    expect(plain.ok && plain.path.tricks).toEqual([]);
  });
});

/** The policy of the schema's defaults for [smtp] relay_networks and relay_domains. */
function defaultPolicy() {
  const spec = (key: string) => OPTIONS.find((o) => o.section === "smtp" && o.key === key)!.default as string[];
  return compileRelayPolicy(spec("relay_networks"), spec("relay_domains"));
}

describe("compileRelayPolicy", () => {
  it("the documented default of [smtp] relay_networks/relay_domains: loopback only, no domains", () => {
    const { policy, errors } = defaultPolicy();
    expect(errors).toEqual([]);
    expect(policy.networkList).toEqual(["127.0.0.0/8", "::1/128"]);
    expect(policy.localDomains.size).toBe(0);
  });

  it("reports every bad entry", () => {
    const { errors } = compileRelayPolicy(["10.0.0.0/33", "nonsense", "2001:db8::/129", "192.0.2.0/24"], ["ok.test", "bad_domain", "b\u00fccher.test"]);
    expect(errors).toHaveLength(5);
  });

  const nets = compileRelayPolicy(["192.0.2.0/24", "2001:db8::/32", "198.51.100.7"], []).policy;
  const membership: Array<[string, boolean]> = [
    ["192.0.2.1", true],
    ["192.0.2.255", true],
    ["192.0.3.1", false],
    ["::ffff:192.0.2.9", true], // IPv4-mapped, as Node reports on a dual-stack socket
    ["2001:db8:ffff::1", true],
    ["2001:db9::1", false],
    ["198.51.100.7", true],
    ["198.51.100.8", false],
    ["127.0.0.1", false],
    ["not-an-address", false],
    ["", false],
  ];
  for (const [addr, want] of membership) {
    it(`${addr || "(empty)"} ${want ? "is" : "is not"} in 192.0.2.0/24, 2001:db8::/32, 198.51.100.7`, () => {
      expect(inRelayNetworks(nets, addr)).toBe(want);
    });
  }

  it("the default networks contain 127.x and ::1 only", () => {
    const { policy } = defaultPolicy();
    expect(inRelayNetworks(policy, "127.1.2.3")).toBe(true);
    expect(inRelayNetworks(policy, "::1")).toBe(true);
    expect(inRelayNetworks(policy, "::2")).toBe(false);
    expect(inRelayNetworks(policy, "10.0.0.1")).toBe(false);
  });
});

describe("decideRelay", () => {
  const { policy } = compileRelayPolicy(["127.0.0.0/8", "::1/128", "192.0.2.0/24"], ["example.test", "xn--bcher-kva.test"]);
  const OUTSIDE = "203.0.113.5";
  const table: Array<[string, string, boolean, string]> = [
    // client, RCPT TO argument, allowed, reason
    ["127.0.0.1", "<anyone@elsewhere.test>", true, "relay-network"],
    ["::1", "<user%other@elsewhere.test>", true, "relay-network"],
    ["192.0.2.77", "<anyone@elsewhere.test>", true, "relay-network"],
    [OUTSIDE, "<bob@example.test>", true, "local-domain"],
    [OUTSIDE, "<bob@EXAMPLE.Test>", true, "local-domain"],
    [OUTSIDE, "<bob@example.test> NOTIFY=NEVER", true, "local-domain"],
    [OUTSIDE, "<Postmaster>", true, "postmaster"],
    [OUTSIDE, "<user@xn--bcher-kva.test>", true, "local-domain"], // configured IDN, exact
    [OUTSIDE, "<anyone@elsewhere.test>", false, "not-local"],
    [OUTSIDE, "<bob@sub.example.test>", false, "not-local"],
    [OUTSIDE, "<user%elsewhere.test@example.test>", false, "trick"],
    [OUTSIDE, "<elsewhere.test!user@example.test>", false, "trick"],
    [OUTSIDE, "<@example.test:user@elsewhere.test>", false, "trick"],
    [OUTSIDE, "<@elsewhere.test,@x.test:user@example.test>", false, "trick"],
    [OUTSIDE, '<"user@elsewhere.test"@example.test>', false, "trick"],
    [OUTSIDE, '<"user%elsewhere.test"@example.test>', false, "trick"],
    [OUTSIDE, '<"elsewhere!user"@example.test>', false, "trick"],
    [OUTSIDE, "<user@[192.0.2.1]>", false, "trick"],
    [OUTSIDE, "<user@example.test.>", false, "trick"],
    [OUTSIDE, "<user@xn--other-abc.test>", false, "trick"],
    [OUTSIDE, "user@example.test", false, "syntax"],
    ["127.0.0.1", "<bob@@example.test>", false, "syntax"],
    ["::ffff:127.0.0.1", "<anyone@elsewhere.test>", true, "relay-network"],
  ];
  for (const [client, rcpt, allowed, reason] of table) {
    it(`${client} RCPT TO:${rcpt} -> ${allowed ? "relay" : "refuse"} (${reason})`, () => {
      const d = decideRelay(policy, client, rcpt);
      expect(d.allowed).toBe(allowed);
      expect(d.reason).toBe(reason);
      expect(d.detail).not.toBe("");
    });
  }

  it("names the tricks it refused", () => {
    const d = decideRelay(policy, OUTSIDE, "<a%b!c@example.test.>");
    expect(d.allowed).toBe(false);
    expect(d.detail).toMatch(/percent-hack/);
    expect(d.detail).toMatch(/bang-path/);
    expect(d.detail).toMatch(/trailing-dot/);
  });

  it("with the default policy, an outside client may send to <Postmaster> only", () => {
    const def = defaultPolicy().policy;
    expect(decideRelay(def, OUTSIDE, "<bob@example.test>").allowed).toBe(false);
    expect(decideRelay(def, OUTSIDE, "<postmaster>").allowed).toBe(true);
    expect(decideRelay(def, "127.0.0.1", "<bob@example.test>").allowed).toBe(true);
  });
});
