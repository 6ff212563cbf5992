/**
 * The schema table is the single source of options: every option must carry a real sentence
 * of documentation and a default that passes its own type check (written out and parsed back
 * the way the default file does it), and every option SPEC §3 and issue 3 name must exist.
 */
import { describe, expect, it } from "vitest";
import { parseIni } from "../../host/config/ini.js";
import { AGENT_SECTIONS, OPTIONS, SECTIONS, findOption, optionsFor } from "../../host/config/schema.js";
import { formatOptionValue, parseOptionValue } from "../../host/config/values.js";

/** Option names SPEC §3 lists, plus what issue 3 adds (clamd, limits, workers, headers). */
const REQUIRED = {
  agent: ["agent_enabled", "user_config"],
  global: [
    "action_av", "action_av_infected", "action_av_notscanned", "action_av_deleted", "av_clean_mode", "action_as",
    "as_approved_ip_list", "as_rbl_service", "as_message_scan_size", "as_eml_subject_template",
    "base_dir", "samples_enabled", "scheduler_tasks", "syslog_facility", "syslog_class", "av_mail_notified_users",
    "report_enabled", "report_domains", "av_update_username", "av_update_password", "proxy_addr", "proxy_port",
    "proxy_username", "proxy_password", "av_mirror_enabled", "racl_server_addr", "racl_server_port", "racl_password",
    "racl_interval", "racl_logs_lifetime", "max_file_size", "max_scan_size", "max_files", "max_recursion",
    "max_scan_time", "workers", "av_hdr_enabled", "av_footnote_enabled", "av_footnote_text",
  ],
  smtp: ["listen_addr", "listen_port", "server_addr", "server_port"],
  smfi: ["smfi_sock_path"],
  mda: ["mda_path"],
  gwia: ["gwia_smtphome", "gwia_dhome"],
  wwwi: ["listen_addr", "listen_port", "username", "password"],
  mird: ["listen_addr", "listen_port", "auth_mode", "username", "password"],
  clamd: ["agent_enabled", "listen_addr", "listen_port", "socket_path", "stream_max_length"],
} as const;

describe("config schema", () => {
  it.each(OPTIONS.map((o) => [`${o.section}.${o.key}`, o] as const))("%s has a real doc sentence", (_name, o) => {
    expect(o.doc.trim().length).toBeGreaterThan(20);
    expect(o.doc).toMatch(/^[A-Z0-9`"[(a-z].*[.)]$/s); // a sentence: ends with a period
  });

  it.each(OPTIONS.map((o) => [`${o.section}.${o.key}`, o] as const))("%s default round-trips through its own type", (_name, o) => {
    const text = formatOptionValue(o, o.default);
    const { doc, errors } = parseIni(`[s]\nk = ${text}\n`, "t");
    expect(errors).toEqual([]);
    const line = doc.lines[1];
    if (line.kind !== "entry") throw new Error("not an entry");
    const parsed = parseOptionValue(o, line.value);
    expect(parsed).toEqual({ ok: true, value: o.default });
  });

  it("declares each key once per section", () => {
    const names = OPTIONS.map((o) => `${o.section}.${o.key}`);
    expect(new Set(names).size).toBe(names.length);
  });

  it("covers every option SPEC §3 and issue 3 name", () => {
    for (const [where, keys] of Object.entries(REQUIRED)) {
      const sections = where === "agent" ? AGENT_SECTIONS : [where as (typeof SECTIONS)[number]];
      for (const s of sections) for (const k of keys) expect(findOption(s, k), `${s}.${k}`).toBeDefined();
    }
  });

  it("is safe by default: only clamd and the listener-less pipe and cli are enabled", () => {
    const enabled = AGENT_SECTIONS.filter((a) => findOption(a, "agent_enabled")!.default === true);
    expect(enabled.sort()).toEqual(["clamd", "cli", "pipe"]);
    for (const a of AGENT_SECTIONS) {
      const addr = findOption(a, "listen_addr");
      if (addr) expect(addr.default, `${a}.listen_addr`).toBe("127.0.0.1");
    }
  });

  it("resolves agent-specific before agent-wide before inherited global entries", () => {
    expect(findOption("clamd", "agent_enabled")!.section).toBe("clamd");
    expect(findOption("smtp", "agent_enabled")!.section).toBe("agent");
    expect(findOption("smtp", "action_av")!.section).toBe("global");
    expect(findOption("smtp", "base_dir")).toBeUndefined(); // daemon-wide only
    expect(findOption("global", "agent_enabled")).toBeUndefined();
    expect(optionsFor("clamd").map((o) => o.key)).toContain("stream_max_length");
    expect(optionsFor("global").map((o) => o.key)).not.toContain("listen_port");
  });
});
