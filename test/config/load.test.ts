/**
 * Loading against the schema: typed values, [global] defaults that agent sections override,
 * fatal vs per-agent errors (file:line: reason), and the generated default file.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { formatConfigError } from "../../host/config/ini.js";
import { defaultConfigText, loadConfig, loadConfigText } from "../../host/config/load.js";
import { AGENT_SECTIONS, OPTIONS, optionsFor } from "../../host/config/schema.js";

const dir = mkdtempSync(join(tmpdir(), "bulwark-load-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("loadConfig", () => {
  it("types values and lets agent sections override [global] options", () => {
    const r = loadConfigText(
      [
        "[global]",
        'action_av_infected = "discard"',
        "max_file_size = 25M",
        'syslog_class = "error:info"',
        "av_hdr_enabled = no",
        "[smtp]",
        "agent_enabled = yes",
        "listen_port = 10026",
        'action_av_infected = "defer"',
        "[pop3]",
        "listen_addr = ::1",
      ].join("\n"),
      "b.cfg",
    );
    expect(r.errors).toEqual([]);
    const c = r.config;
    expect(c.int("global", "max_file_size")).toBe(25 * 1024 * 1024);
    expect(c.list("global", "syslog_class")).toEqual(["error", "info"]);
    expect(c.str("smtp", "action_av_infected")).toBe("defer"); // agent override
    expect(c.str("pop3", "action_av_infected")).toBe("discard"); // inherited from [global]
    expect(c.bool("imap", "av_hdr_enabled")).toBe(false); // inherited from [global]
    expect(c.str("cli", "action_av")).toBe("scan"); // schema default
    expect(c.int("smtp", "listen_port")).toBe(10026);
    expect(c.int("pop3", "listen_port")).toBe(8110);
    expect(c.str("pop3", "listen_addr")).toBe("::1");
    expect(c.enabledAgents().sort()).toEqual(["clamd", "cli", "pipe", "smtp"]);
    expect(() => c.int("smtp", "listen_addr")).toThrow(/not of type/);
    expect(() => c.get("global", "listen_port")).toThrow(/no option global.listen_port/);
  });

  it("gives every section every option", () => {
    const { config } = loadConfigText("", "e.cfg");
    for (const s of ["global", ...AGENT_SECTIONS] as const) {
      expect(Object.keys(config.section(s)).sort()).toEqual(optionsFor(s).map((o) => o.key).sort());
    }
  });

  it.each([
    ["unknown key with suggestion", "[smtp]\nlisten_prot = 25\n", 2, "unknown key listen_prot in [smtp] (did you mean listen_port?)"],
    ["key of another section", "[global]\nmda_path = \"/x\"\n", 2, "unknown key mda_path in [global] (mda_path belongs in [mda])"],
    ["unknown section with suggestion", "[stmp]\n", 1, "unknown section [stmp] (did you mean [smtp]?)"],
    ["unknown section without suggestion", "[antispam]\n", 1, "unknown section [antispam] (known sections: global, smtp, pop3, imap, smfi, mda, pipe, cgp, zmfi, gwia, cli, wwwi, mird, clamd, spamd)"],
    ["bad bool", "[global]\n\nsamples_enabled = maybe\n", 3, 'samples_enabled expects yes or no, got "maybe"'],
    ["bad port", "[clamd]\nlisten_port = 70000\n", 2, "listen_port expects a port number 0-65535, got 70000"],
    ["bad enum", "[global]\naction_av = \"scna\"\n", 2, 'action_av expects one of scan, accept, defer, discard, reject, got "scna"'],
    ["bad size", "[global]\nmax_scan_size = 4T\n", 2, 'max_scan_size expects a size such as 25K, 100M, 1G or a byte count, got "4T"'],
    ["int below minimum", "[global]\nmax_files = 0\n", 2, "max_files must be at least 1, got 0"],
    ["bad list item", "[global]\nsyslog_class = \"error:loud\"\n", 2, 'syslog_class items must be among error, warning, summall, summ, partall, part, info, debug, got "loud"'],
    ["bad address", "[smtp]\nserver_addr = \"mail server\"\n", 2, 'server_addr expects an IP address or host name, got "mail server"'],
    ["unterminated quote", "[global]\nbase_dir = \"/var\n", 2, 'unterminated quoted string (missing closing ")'],
    ["key outside a section", "workers = 2\n[global]\n", 1, "key workers outside any section (put it under [global] or an agent section)"],
    ["duplicate key", "[mird]\nauth_mode = none\nauth_mode = basic\n", 3, "duplicate key auth_mode in [mird]"],
  ])("reports %s as file:line: reason", (_n, text, line, reason) => {
    const file = join(dir, "bad.cfg");
    writeFileSync(file, text);
    const r = loadConfig(file);
    expect(r.errors.map(formatConfigError)).toEqual([`${file}:${line}: ${reason}`]);
  });

  it("treats [global], unknown sections and lines outside sections as fatal", () => {
    for (const text of ["[global]\nworkers = lots\n", "[nosuch]\n", "workers = 1\n"]) {
      const r = loadConfigText(text, "g.cfg");
      expect(r.globalErrors, text).toHaveLength(1);
      expect(r.disabledAgents).toEqual([]);
    }
  });

  it("disables only the agent whose section is broken", () => {
    const r = loadConfigText(
      ["[global]", "workers = 2", "[smtp]", "agent_enabled = yes", "listen_port = 70000", "[pop3]", "agent_enabled = yes"].join("\n"),
      "a.cfg",
    );
    expect(r.globalErrors).toEqual([]);
    expect(r.disabledAgents.map((d) => d.agent)).toEqual(["smtp"]);
    expect(formatConfigError(r.disabledAgents[0].errors[0])).toBe("a.cfg:5: listen_port expects a port number 0-65535, got 70000");
    expect(r.config.bool("smtp", "agent_enabled")).toBe(false);
    expect(r.config.enabledAgents().sort()).toEqual(["clamd", "cli", "pipe", "pop3"]);
    expect(r.config.int("global", "workers")).toBe(2);
  });

  it("resolves relative paths: sockets inside cache_dir, others beside the file", () => {
    const r = loadConfigText('[global]\ncache_dir = "state"\n[smtp]\nuser_config = "users.cfg"\n[clamd]\nsocket_path = "/run/c.sock"\n', "/etc/bw/b.cfg");
    expect(r.errors).toEqual([]);
    const c = r.config;
    expect(c.path("global", "cache_dir")).toBe("/etc/bw/state");
    expect(c.path("global", "daemon_socket_path")).toBe("/etc/bw/state/bulwark.sock");
    expect(c.path("smfi", "smfi_sock_path")).toBe("/etc/bw/state/smfi.sock");
    expect(c.path("clamd", "socket_path")).toBe("/run/c.sock");
    expect(c.path("smtp", "user_config")).toBe("/etc/bw/users.cfg");
    expect(c.path("pop3", "user_config")).toBe(""); // unset stays unset
    expect(() => c.path("clamd", "listen_addr")).toThrow(/not of type path/);
  });

  it("reports a missing file as a fatal error at line 0", () => {
    const r = loadConfig(join(dir, "missing.cfg"));
    expect(r.globalErrors).toHaveLength(1);
    expect(r.globalErrors[0]).toMatchObject({ line: 0, reason: expect.stringMatching(/cannot read the configuration/) });
  });
});

describe("defaultConfigText", () => {
  it("parses with zero errors and yields exactly the schema defaults", () => {
    const r = loadConfigText(defaultConfigText(), "default.cfg");
    expect(r.errors).toEqual([]);
    for (const o of OPTIONS) {
      const section = o.section === "agent" ? "smtp" : o.section;
      expect(r.config.get(section, o.key), `${section}.${o.key}`).toEqual(o.default);
    }
  });

  it("documents every option of every section in comments", () => {
    const text = defaultConfigText();
    for (const o of OPTIONS) {
      expect(text, o.key).toContain(`# ${o.key} (${o.type}):`);
    }
    for (const s of AGENT_SECTIONS) expect(text).toMatch(new RegExp(`^\\[${s}\\]$`, "m"));
  });

  it("writes overrides as active lines and rejects unknown ones", () => {
    const text = defaultConfigText({ "global.cache_dir": '"/tmp/bw"', "clamd.listen_port": "0" });
    const r = loadConfigText(text, "o.cfg");
    expect(r.errors).toEqual([]);
    expect(r.config.str("global", "cache_dir")).toBe("/tmp/bw");
    expect(r.config.int("clamd", "listen_port")).toBe(0);
    expect(() => defaultConfigText({ "global.nope": "1" })).toThrow(/unknown option/);
  });
});
