/**
 * user_config special sections (SPEC §5): which section sets which option for which recipient,
 * table-driven over the documented precedence (recipient, sender, groups, domains, IP sections),
 * several recipients with different outcomes, and the file errors (cycles, unknown parents, bad
 * names), with hostile addresses that must match nothing.
 */
import { describe, expect, it } from "vitest";
import {
  MAX_PARENT_DEPTH,
  UserConfigError,
  compileUserConfig,
  groupByOptions,
  normalizeAddress,
  normalizeIp,
  resolveUserConfig,
  type MessageContext,
  type UserConfigSections,
} from "../../host/policy/user-config.js";

const BASE = {
  action_av: "scan",
  action_av_infected: "reject",
  action_av_notscanned: "accept",
  action_av_deleted: "accept",
  av_clean_mode: "none",
  action_as: "scan",
};

const FILE: UserConfigSections = {
  "black-list": { action_av: "reject" },
  "white-list": { action_av: "accept", action_as: "accept" },
  "Bob@Corp.example": { av_clean_mode: "strict" },
  "@corp.example": { action_av_infected: "discard", av_clean_mode: "standard" },
  "|spammer@bad.example": { parent_id: "black-list" },
  "|@bad.example": { action_av: "defer", action_av_notscanned: "reject", action_av_infected: "defer" },
  "|friend@partner.example": { parent_id: "White-List" },
  "ceo@corp.example|friend@partner.example": { action_av: "scan" },
  "@corp.example|@partner.example": { action_av_deleted: "reject" },
  "client:192.0.2.9": { action_av: "reject", action_as: "reject" },
  "server:2001:db8::25": { av_clean_mode: "rigorous" },
};
const cfg = compileUserConfig(FILE, { file: "smtp-users.cfg" });

function one(sender: string, rcpt: string, extra: Partial<MessageContext> = {}) {
  const r = resolveUserConfig(cfg, BASE, { sender, recipients: [rcpt], ...extra });
  return { ...r.perRecipient[0], ignored: r.ignored };
}

// [what, sender, recipient, context, options expected to differ from BASE, key -> source section]
const CASES: Array<[string, string, string, Partial<MessageContext>, Record<string, string>, Record<string, string>]> = [
  ["no section matches", "x@y.example", "z@w.example", {}, {}, {}],
  ["exact recipient, rest from its domain", "x@y.example", "bob@corp.example", {},
    { av_clean_mode: "strict", action_av_infected: "discard" },
    { av_clean_mode: "Bob@Corp.example", action_av_infected: "@corp.example" }],
  ["recipient domain", "x@y.example", "alice@corp.example", {},
    { av_clean_mode: "standard", action_av_infected: "discard" }, {}],
  ["sender in black-list beats its sender domain section", "spammer@bad.example", "z@w.example", {},
    { action_av: "reject", action_av_notscanned: "reject", action_av_infected: "defer" },
    { action_av: "black-list", action_av_notscanned: "|@bad.example" }],
  ["sender domain", "other@bad.example", "z@w.example", {},
    { action_av: "defer", action_av_notscanned: "reject", action_av_infected: "defer" }, {}],
  ["recipient domain beats sender domain on the same key", "other@bad.example", "alice@corp.example", {},
    { action_av: "defer", action_av_notscanned: "reject", action_av_infected: "discard", av_clean_mode: "standard" },
    { action_av_infected: "@corp.example" }],
  ["recipient+sender section beats everything; groups fill the rest", "friend@partner.example", "ceo@corp.example", {},
    { action_av: "scan", action_as: "accept", action_av_deleted: "reject", action_av_infected: "discard", av_clean_mode: "standard" },
    { action_av: "ceo@corp.example|friend@partner.example", action_as: "white-list", action_av_deleted: "@corp.example|@partner.example" }],
  ["white-listed sender to a recipient without action_av", "friend@partner.example", "bob@corp.example", {},
    { action_av: "accept", action_as: "accept", action_av_deleted: "reject", action_av_infected: "discard", av_clean_mode: "strict" },
    { action_av: "white-list" }],
  ["client address", "x@y.example", "z@w.example", { clientAddress: "192.0.2.9" },
    { action_av: "reject", action_as: "reject" }, { action_av: "client:192.0.2.9" }],
  ["client address as IPv4-mapped IPv6", "x@y.example", "z@w.example", { clientAddress: "::FFFF:192.0.2.9" },
    { action_av: "reject", action_as: "reject" }, {}],
  ["sender section beats client address", "other@bad.example", "z@w.example", { clientAddress: "192.0.2.9" },
    { action_av: "defer", action_av_notscanned: "reject", action_av_infected: "defer", action_as: "reject" }, {}],
  ["server address in another IPv6 spelling", "x@y.example", "z@w.example", { serverAddress: "2001:DB8:0:0:0:0:0:25" },
    { av_clean_mode: "rigorous" }, {}],
  ["case-insensitive addresses and <>", "<SPAMMER@Bad.Example>", "<BOB@CORP.EXAMPLE>", {},
    { action_av: "reject", av_clean_mode: "strict", action_av_notscanned: "reject", action_av_infected: "discard" }, {}],
  ["null sender matches no sender section", "<>", "z@w.example", {}, {}, {}],
];

describe("precedence", () => {
  it.each(CASES)("%s", (_what, sender, rcpt, extra, changed, sources) => {
    const r = one(sender, rcpt, extra);
    expect({ ...r.options }).toEqual({ ...BASE, ...changed });
    for (const [k, s] of Object.entries(sources)) expect(r.sources[k], k).toBe(s);
    for (const k of Object.keys(BASE)) if (!(k in changed)) expect(r.sources[k], k).toBeUndefined();
    expect(r.recipient).toBe(rcpt);
    expect(r.ignored).toEqual([]);
  });

  it("reports matched member sections most specific first", () => {
    expect(one("friend@partner.example", "ceo@corp.example").matched).toEqual([
      "ceo@corp.example|friend@partner.example",
      "@corp.example|@partner.example",
      "@corp.example",
      "|friend@partner.example",
    ]);
  });

  it("a domain section does not match subdomains or other domains", () => {
    expect(one("x@y.example", "a@sub.corp.example").matched).toEqual([]);
    expect(one("x@y.example", "a@corp.example.net").matched).toEqual([]);
  });

  it("internationalised domains match in either spelling", () => {
    const c = compileUserConfig({ "@bücher.example": { av_clean_mode: "strict" } });
    expect(resolveUserConfig(c, BASE, { sender: "", recipients: ["a@xn--bcher-kva.example"] }).perRecipient[0].options.av_clean_mode).toBe("strict");
    expect(resolveUserConfig(c, BASE, { sender: "", recipients: ["a@BÜCHER.example"] }).perRecipient[0].options.av_clean_mode).toBe("strict");
  });
});

describe("several recipients", () => {
  it("each recipient gets its own options, in order; identical ones group together", () => {
    const r = resolveUserConfig(cfg, BASE, {
      sender: "friend@partner.example",
      recipients: ["ceo@corp.example", "bob@corp.example", "z@w.example", "q@w.example"],
    });
    expect(r.perRecipient.map((p) => [p.recipient, p.options.action_av, p.options.av_clean_mode])).toEqual([
      ["ceo@corp.example", "scan", "standard"],
      ["bob@corp.example", "accept", "strict"],
      ["z@w.example", "accept", "none"],
      ["q@w.example", "accept", "none"],
    ]);
    const groups = groupByOptions(r.perRecipient);
    expect(groups.map((g) => g.recipients)).toEqual([["ceo@corp.example"], ["bob@corp.example"], ["z@w.example", "q@w.example"]]);
  });

  it("a message without recipients resolves once, by sender and addresses only", () => {
    const r = resolveUserConfig(cfg, BASE, { sender: "spammer@bad.example", recipients: [] });
    expect(r.perRecipient).toHaveLength(1);
    expect(r.perRecipient[0]).toMatchObject({ recipient: "", options: { action_av: "reject" } });
  });
});

describe("hostile addresses match nothing and are reported", () => {
  it.each([
    "bob@corp.example\r\n",
    "bob@corp.example\r\nX-Evil: 1",
    "bob\n@corp.example",
    "[bob@corp.example]",
    "bob@[192.0.2.1]",
    "bob@corp.example|friend@partner.example",
    "bob@corp.example]\n[white-list",
    "bob@@corp.example",
    "\"bob\"@corp.example",
    "bob@corp.example\u0000",
    "b".repeat(65) + "@corp.example",
    "bob@" + "a.".repeat(200) + "example",
    "bob@corp..example",
  ])("%j", (addr) => {
    expect(normalizeAddress(addr)).toBeUndefined();
    const r = one(addr, addr);
    expect(r.matched).toEqual([]);
    expect({ ...r.options }).toEqual(BASE);
    expect(r.ignored).toEqual([addr, addr]);
  });

  it("a hostile client address is ignored, not an exception", () => {
    for (const ip of ["192.0.2.9\r\n", "999.1.1.1", "fe80::1%eth0", "not-an-ip"]) {
      const r = one("x@y.example", "z@w.example", { clientAddress: ip });
      expect(r.options.action_av, ip).toBe("scan");
      expect(r.ignored).toEqual([ip]);
    }
  });

  it("normalises what it accepts", () => {
    expect(normalizeAddress(" <Bob@CORP.Example.> ")).toBe("bob@corp.example");
    expect(normalizeIp("[2001:DB8::0:1]")).toBe("2001:db8::1");
    expect(normalizeIp("::ffff:c000:209")).toBe("192.0.2.9");
  });
});

describe("file errors", () => {
  const lines = { "|a@x.example": 3, "g1": 7, "g2": 9, "bad name": 12 };
  const compileError = (sections: UserConfigSections) => {
    try {
      compileUserConfig(sections, { file: "/etc/bulwark/users.cfg", sectionLines: lines });
    } catch (e) {
      expect(e).toBeInstanceOf(UserConfigError);
      return (e as Error).message;
    }
    throw new Error("compiled without error");
  };

  it("parent_id cycle, naming the path", () => {
    const m = compileError({ "|a@x.example": { parent_id: "g1" }, g1: { parent_id: "g2" }, g2: { parent_id: "G1" } });
    expect(m).toMatch(/^\/etc\/bulwark\/users\.cfg:\d+: \[.*\]: parent_id cycle: .*g1 -> g2 -> g1/);
  });

  it("a group that is its own parent", () => {
    expect(compileError({ g1: { parent_id: "g1" } })).toBe("/etc/bulwark/users.cfg:7: [g1]: parent_id cycle: g1 -> g1");
  });

  it("unknown parent, with file and line of the section that names it", () => {
    expect(compileError({ "|a@x.example": { parent_id: "black-lsit" } })).toBe(
      '/etc/bulwark/users.cfg:3: [|a@x.example]: parent_id "black-lsit" names no section',
    );
  });

  it("parent that is not a group", () => {
    expect(compileError({ "|a@x.example": { parent_id: "b@x.example" }, "b@x.example": {} })).toMatch(/is not a group section/);
  });

  it(`chains up to ${MAX_PARENT_DEPTH} hops are fine, one more is an error`, () => {
    const chain = (hops: number): UserConfigSections => {
      const s: UserConfigSections = { "a@x.example": { parent_id: "g1" } };
      for (let i = 1; i <= hops; i++) s[`g${i}`] = i < hops ? { parent_id: `g${i + 1}` } : { av_clean_mode: "strict" };
      return s;
    };
    const ok = compileUserConfig(chain(MAX_PARENT_DEPTH));
    expect(resolveUserConfig(ok, BASE, { sender: "", recipients: ["a@x.example"] }).perRecipient[0].options.av_clean_mode).toBe("strict");
    expect(compileError(chain(MAX_PARENT_DEPTH + 1))).toMatch(new RegExp(`deeper than ${MAX_PARENT_DEPTH}`));
  });

  it.each([
    ["bad name", /bad section name/],
    ["a@x.example|b@y.example|c@z.example", /more than one "\|"/],
    ["|", /neither a recipient nor a sender/],
    ["a@@x.example", /not an address/],
    ["|@", /not an address/],
    ["client:999.1.1.1", /not an IP address/],
    ["x@y.example\r\n[white-list", /bad section name/],
    ["[a@x.example]", /bad section name/],
  ])("bad section name %j", (name, reason) => {
    const m = compileError({ [name]: { action_av: "reject" } });
    expect(m).toMatch(reason);
    expect(m).not.toMatch(/[\r\n]/);
  });

  it("two names for one selector", () => {
    expect(compileError({ "a@X.example": {}, "A@x.example": {} })).toMatch(/case-insensitive/);
    expect(compileError({ "@x.example": {}, "@X.EXAMPLE.": {} })).toMatch(/selects the same as/);
    expect(compileError({ "client:192.0.2.1": {}, "client:::ffff:192.0.2.1": {} })).toMatch(/selects the same as/);
  });

  it("passes option checks to the schema and reports its reason", () => {
    const checkOption = (k: string, v: string) => (k === "action_av" && v === "bogus" ? "must be one of scan, accept, defer, discard, reject" : undefined);
    expect(() => compileUserConfig({ g1: { action_av: "bogus" } }, { file: "u.cfg", sectionLines: { g1: 4 }, checkOption })).toThrow(
      "u.cfg:4: [g1]: action_av: must be one of scan, accept, defer, discard, reject",
    );
  });

  it("groups alone never match a message", () => {
    const c = compileUserConfig({ "white-list": { action_av: "accept" } });
    const r = resolveUserConfig(c, BASE, { sender: "white-list", recipients: ["white-list"] });
    expect(r.perRecipient[0].options.action_av).toBe("scan");
  });
});
