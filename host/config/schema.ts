/**
 * The configuration schema: every option of bulwark.cfg declared once, as data. The parser
 * (load.ts), the generated default file, `bulwark set --list` and the tests all read this table,
 * so an option cannot exist without a type, a safe default and a sentence of documentation.
 *
 * Lookup order for a key in section S: an entry declared for S itself, then an "agent" entry
 * (valid in every agent section), then a "global" entry marked `inherit` (a scanner/policy
 * option: [global] gives the default, any agent section may override it, SPEC §3).
 */

import { parseApprovedList } from "../spam/net/approved-ip.js";
import { parseRblServices } from "../spam/net/dnsbl.js";
import { parseDnsServers } from "../spam/net/resolver.js";

export const AGENT_SECTIONS = [
  "smtp", "pop3", "imap", "smfi", "mda", "pipe", "cgp", "zmfi", "gwia", "cli", "wwwi", "mird", "clamd", "spamd",
] as const;
export type AgentSection = (typeof AGENT_SECTIONS)[number];
export type SectionName = "global" | AgentSection;
export const SECTIONS: readonly SectionName[] = ["global", ...AGENT_SECTIONS];

export type OptionType = "string" | "bool" | "int" | "enum" | "list" | "path" | "addr" | "port" | "size";
export type OptionValue = string | number | boolean | string[];

export interface OptionSpec {
  /** "global", "agent" (every agent section) or one specific agent section. */
  section: "global" | "agent" | AgentSection;
  key: string;
  type: OptionType;
  /** Allowed values of an enum, or of every item of a list. */
  enumValues?: readonly string[];
  /** Item separator of a list (default ":" as in the manual's syslog_class). */
  separator?: string;
  /** Inclusive bounds of an int/size. */
  min?: number;
  max?: number;
  /** For a path: a relative value is taken inside [global] cache_dir (sockets), not the
   *  configuration file's directory (everything else). */
  underCacheDir?: boolean;
  /** A [global] option that agent sections may override. */
  inherit?: boolean;
  /** For a list: why one item is wrong (the parser reports it with file:line), or undefined. */
  checkItem?: (item: string) => string | undefined;
  /** Typed default (sizes in bytes, lists as arrays). */
  default: OptionValue;
  doc: string;
}

const KiB = 1024;
const MiB = 1024 * KiB;
/** Largest object or stream size that may be configured: 2 GiB - 1, ClamAV's own hard cap for
 *  MaxFileSize/StreamMaxLength, and below Node's largest Buffer, so a whole object always fits
 *  in one buffer and 32-bit offsets in the engine never overflow. */
export const MAX_OBJECT_SIZE = 2 * 1024 * MiB - 1;
/** Upper bound for `workers`: beyond this, threads only add memory (one WASM instance each). */
export const MAX_WORKERS = 256;

const ACTIONS = ["accept", "defer", "discard", "reject"] as const;
const SYSLOG_FACILITIES = [
  "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp",
  "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
] as const;
const SYSLOG_CLASSES = ["error", "warning", "summall", "summ", "partall", "part", "info", "debug"] as const;

/** A checkItem from a parser that throws on a bad entry (host/spam/net/). */
const byParser = (parse: (items: string[]) => unknown) => (item: string): string | undefined => {
  try {
    parse([item]);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
};

export const OPTIONS: readonly OptionSpec[] = [
  // ---- [global]: daemon ----
  { section: "global", key: "base_dir", type: "path", default: "/var/lib/bulwark",
    doc: "Directory holding the signature modules the daemon loads; `bulwark update` installs new signatures here; a relative path is taken in the configuration file's directory." },
  { section: "global", key: "cache_dir", type: "path", default: "/var/cache/bulwark",
    doc: "Directory for quarantine, reports, statistics, temporary files and the local sockets; it must be writable by the daemon's user; a relative path is taken in the configuration file's directory." },
  { section: "global", key: "daemon_socket_path", type: "path", underCacheDir: true, default: "bulwark.sock",
    doc: "Unix socket on which the daemon serves scan requests to the agents (bulwark-pipe, bulwark-cli, ...); a relative path is taken inside cache_dir." },
  { section: "global", key: "workers", type: "int", min: 0, max: MAX_WORKERS, default: 0,
    doc: `Number of scanning worker threads; 0 starts one per CPU core, at most ${MAX_WORKERS}.` },
  { section: "global", key: "samples_enabled", type: "bool", default: false,
    doc: "When yes, suspicious objects found by heuristics are collected and submitted to the configured analysis endpoint; this sends data off the machine, so it is off by default." },
  { section: "global", key: "scheduler_tasks", type: "string", default: "",
    doc: "Scheduled tasks as \"id;name;flags;failstart;datespec;command;id2;...\" (escape ; and \\ inside fields with a backslash); empty runs the built-in tasks (log maintenance, regular update, threat notification, license warning)." },
  { section: "global", key: "syslog_facility", type: "enum", enumValues: SYSLOG_FACILITIES, default: "daemon",
    doc: "Syslog facility the daemon logs to; use mail or local0..local7 to route Bulwark's lines to their own file in the syslog configuration." },
  { section: "global", key: "syslog_class", type: "list", enumValues: SYSLOG_CLASSES, separator: ":", default: ["error", "warning", "summall"],
    doc: "Which kinds of messages go to syslog, separated by colons: error, warning, summall, summ, partall, part, info, debug." },
  { section: "global", key: "av_mail_notified_users", type: "list", separator: ":", default: [],
    doc: "Threat notifications as domain:address pairs (\"a.com:admin@a.com:b.com:admin@b.com\"); the administrator of the sender's or recipient's domain is mailed; empty sends none." },
  { section: "global", key: "report_enabled", type: "bool", default: false,
    doc: "When yes, daily per-domain mail statistics (UTC days) are stored under cache_dir for the domains in report_domains." },
  { section: "global", key: "report_domains", type: "list", separator: ":", default: [],
    doc: "Domains to keep daily mail reports for, separated by colons; only used when report_enabled is yes." },
  { section: "global", key: "av_update_username", type: "string", default: "",
    doc: "User name for downloading signature updates; leave empty when the update server needs none." },
  { section: "global", key: "av_update_password", type: "string", default: "",
    doc: "Password for downloading signature updates; keep this file readable only by root and the daemon's user." },
  { section: "global", key: "proxy_addr", type: "addr", default: "",
    doc: "HTTP proxy used for updates and remote administration; empty connects directly." },
  { section: "global", key: "proxy_port", type: "port", default: 3128,
    doc: "Port of the HTTP proxy named by proxy_addr." },
  { section: "global", key: "proxy_username", type: "string", default: "",
    doc: "User name for the HTTP proxy; leave empty when the proxy needs no authentication." },
  { section: "global", key: "proxy_password", type: "string", default: "",
    doc: "Password for the HTTP proxy; leave empty when the proxy needs no authentication." },
  { section: "global", key: "av_mirror_enabled", type: "bool", default: false,
    doc: "When yes, `bulwark update` keeps a copy of each update for the LAN mirror served by the [mird] agent." },
  { section: "global", key: "racl_server_addr", type: "addr", default: "",
    doc: "Address of the central management server that receives status and logs; empty disables remote administration." },
  { section: "global", key: "racl_server_port", type: "port", default: 2222,
    doc: "Port of the central management server named by racl_server_addr." },
  { section: "global", key: "racl_password", type: "string", default: "",
    doc: "Password for the central management server; leave empty when it needs none." },
  { section: "global", key: "racl_interval", type: "int", min: 1, max: 24 * 60, default: 1,
    doc: "Minutes between two reports to the central management server (1 to 1440)." },
  { section: "global", key: "racl_logs_lifetime", type: "int", min: 1, max: 3650, default: 30,
    doc: "Days that logs queued for the central management server are kept before they are dropped." },

  // ---- [global]: scan limits (host/limits.ts); fixed per daemon because the worker pool owns them ----
  { section: "global", key: "max_file_size", type: "size", min: 1, max: MAX_OBJECT_SIZE, default: 100 * MiB,
    doc: "Largest single object (a mail or an extracted attachment) that is scanned, e.g. 100M; a larger one is not scanned and gets action_av_notscanned." },
  { section: "global", key: "max_scan_size", type: "size", min: 1, default: 400 * MiB,
    doc: "Most data extracted and scanned from one mail, e.g. 400M; past it the mail is not scanned and gets action_av_notscanned." },
  { section: "global", key: "max_files", type: "int", min: 1, max: 10_000_000, default: 10_000,
    doc: "Most objects extracted from one mail (archive members, attachments); past it the mail gets action_av_notscanned." },
  { section: "global", key: "max_recursion", type: "int", min: 1, max: 1_000, default: 17,
    doc: "Deepest nesting of containers (an archive in a mail in an archive ...) that is unpacked; deeper mail gets action_av_notscanned." },
  { section: "global", key: "max_scan_time", type: "int", min: 1, max: 3_600_000, default: 60_000,
    doc: "Milliseconds one mail may take to scan; keep it well below your MTA's filter timeout (Postfix: 100 s)." },

  // ---- [global] and every agent section: Handle Object Policy (SPEC §4) ----
  { section: "global", inherit: true, key: "action_av", type: "enum", enumValues: ["scan", ...ACTIONS], default: "scan",
    doc: "First action for every object: scan checks it for viruses; accept, defer, discard or reject decide at once without scanning." },
  { section: "global", inherit: true, key: "action_av_infected", type: "enum", enumValues: ACTIONS, default: "reject",
    doc: "What happens to an infected object that was not cleaned: reject (sender notified), defer (MTA retries), discard (silently dropped) or accept." },
  { section: "global", inherit: true, key: "action_av_notscanned", type: "enum", enumValues: ACTIONS, default: "reject",
    doc: "What happens to an object that could not be scanned (a limit was exceeded, it is encrypted, an error); set accept to let such mail through unscanned." },
  { section: "global", inherit: true, key: "action_av_deleted", type: "enum", enumValues: ACTIONS, default: "accept",
    doc: "What happens to a mail from which cleaning removed an infected part (only when av_clean_mode is not none)." },
  { section: "global", inherit: true, key: "av_clean_mode", type: "enum", enumValues: ["none", "standard", "strict", "rigorous"], default: "none",
    doc: "Whether infected parts are removed and replaced by a short notice: none keeps mail as is and applies action_av_infected; standard removes infected parts; strict also removes parts that could not be scanned; rigorous also removes every non-text attachment when anything in the mail is infected. A mail whose infected content cannot be removed (an infected single-part body) is handled by action_av_infected." },
  { section: "global", inherit: true, key: "av_hdr_enabled", type: "bool", default: true,
    doc: "When yes, scanned mail gets X-Bulwark-* header fields with the verdict and the engine and signature versions (where the agent may modify mail)." },
  { section: "global", inherit: true, key: "av_footnote_enabled", type: "bool", default: false,
    doc: "When yes, a short text footnote (av_footnote_text) is appended to the body of scanned mail; off by default because it breaks DKIM body signatures." },
  { section: "global", inherit: true, key: "av_footnote_text", type: "string", default: "This message was scanned by Bulwark.",
    doc: "Text of the body footnote added when av_footnote_enabled is yes; \\n starts a new line." },

  // ---- [global] and every agent section: anti-spam (SPEC §6) ----
  { section: "global", inherit: true, key: "action_as", type: "enum", enumValues: ["scan", ...ACTIONS], default: "accept",
    doc: "Anti-spam: scan classifies mail; accept (the default) skips classification; defer, discard or reject decide without classifying." },
  { section: "global", inherit: true, key: "as_approved_ip_list", type: "list", separator: ",", default: [], checkItem: byParser(parseApprovedList),
    doc: "Client addresses whose mail skips anti-spam entirely, separated by commas: 1.2.3.4, 1.2.3.0/24, 1.2.3.0/255.255.255.0, 1.2.3.4-1.2.3.8, and the same for IPv6 (2001:db8::/32); an IPv4-mapped IPv6 client matches IPv4 entries." },
  { section: "global", inherit: true, key: "as_rbl_service", type: "list", separator: ",", default: [], checkItem: byParser(parseRblServices),
    doc: "DNS block lists, separated by commas: zone:answer (\"zen.spamhaus.org:127.0.0.2\"), zone:first-last (\"zen.spamhaus.org:127.0.0.2-127.0.0.11\") or a zone alone (any 127/8 answer but 127.0.0.1); the refusal answers 127.255.255.252/254/255 never count as listed; empty queries none." },
  { section: "global", inherit: true, key: "as_message_scan_size", type: "size", min: 0, default: 0,
    doc: "Mail larger than this (e.g. 500K) skips spam classification; 0 classifies every size; do not go below 100K or classification suffers." },
  { section: "global", inherit: true, key: "as_eml_subject_template", type: "string", default: "[%asstatus%]",
    doc: "Text put in front of the subject of mail classified as spam or probable spam; %asstatus% becomes SPAM or PROBABLE SPAM; empty leaves the subject alone." },
  { section: "global", inherit: true, key: "action_as_spam", type: "enum", enumValues: ACTIONS, default: "accept",
    doc: "With action_as = scan, what happens to mail classified as spam: accept delivers it marked (header fields and subject template), reject, discard or defer block it (blocked spam is kept in quarantine)." },
  { section: "global", inherit: true, key: "action_as_probable", type: "enum", enumValues: ACTIONS, default: "accept",
    doc: "With action_as = scan, what happens to mail classified as probable spam (a score between the rules file's probable and spam thresholds); accept delivers it marked." },
  { section: "global", key: "as_rules_file", type: "path", default: "",
    doc: "Extra anti-spam rules in the format of the built-in rules file (host/spam/rules/default.rules, documented at its top): new rules, new scores for built-in rules, thresholds; empty uses the built-in rules only." },
  { section: "global", key: "as_bayes_db", type: "path", underCacheDir: true, default: "bayes.sqlite",
    doc: "SQLite database of the trainable statistical filter (`bulwark spam learn`); a relative path is taken inside cache_dir; until it holds enough ham and spam the filter adds nothing." },
  { section: "global", key: "as_dns_servers", type: "list", separator: ",", default: [], checkItem: byParser(parseDnsServers),
    doc: "DNS servers for block lists and SPF/DKIM/DMARC, separated by commas (127.0.0.1, 127.0.0.1:5353, [::1]:53); empty uses the system's resolvers; use a local caching resolver, as public ones are refused by block lists." },
  { section: "global", key: "as_dns_timeout", type: "int", min: 1, max: 60, default: 3,
    doc: "Seconds each network check (one block list, SPF, DKIM/DMARC) may take; a check that times out or fails adds nothing to the score and is logged." },
  { section: "global", inherit: true, key: "as_auth_enabled", type: "bool", default: true,
    doc: "When yes, SPF, DKIM and DMARC are checked for classified mail and their results scored; needs DNS." },

  // ---- every agent section ----
  { section: "agent", key: "agent_enabled", type: "bool", default: false,
    doc: "When yes, the daemon starts and supervises this agent; agents are off until you enable the one your MTA uses." },
  { section: "agent", key: "user_config", type: "path", default: "",
    doc: "File of per-recipient ([rcpt@domain]), per-sender ([|sender@domain]) and group ([black-list]) settings for this agent; a relative path is taken in the configuration dir; empty uses none." },

  // ---- agent-specific ----
  { section: "smtp", key: "listen_addr", type: "addr", default: "127.0.0.1",
    doc: "Address the SMTP proxy listens on; keep 127.0.0.1 for a Postfix content filter, use 0.0.0.0 only behind a firewall REDIRECT." },
  { section: "smtp", key: "listen_port", type: "port", default: 2526,
    doc: "Port the SMTP proxy listens on (Postfix: content_filter = smtp:[127.0.0.1]:2526)." },
  { section: "smtp", key: "server_addr", type: "addr", default: "127.0.0.1",
    doc: "Address of the SMTP server that accepted mail is passed on to (Postfix's re-injection smtpd)." },
  { section: "smtp", key: "server_port", type: "port", default: 2525,
    doc: "Port of the SMTP server that accepted mail is passed on to." },
  { section: "smtp", key: "relay_networks", type: "list", separator: ",", default: ["127.0.0.0/8", "::1/128"],
    doc: "Client networks (addresses or CIDR blocks, separated by commas) that may send mail to any recipient, like Postfix's mynetworks; keep it to the MTA that hands mail to the proxy." },
  { section: "smtp", key: "relay_domains", type: "list", separator: ",", default: [],
    doc: "Domains (separated by commas, IDNs in xn-- form) that clients outside relay_networks may send mail to; empty refuses such clients every recipient but <Postmaster>." },
  { section: "pop3", key: "listen_addr", type: "addr", default: "127.0.0.1",
    doc: "Address the POP3 proxy listens on; use 0.0.0.0 only behind a firewall REDIRECT." },
  { section: "pop3", key: "listen_port", type: "port", default: 8110,
    doc: "Port the POP3 proxy listens on; point the firewall REDIRECT of port 110 here." },
  { section: "pop3", key: "server_addr", type: "addr", default: "",
    doc: "Address of the real POP3 server; empty uses the original destination of each redirected connection." },
  { section: "pop3", key: "server_port", type: "port", default: 110,
    doc: "Port of the real POP3 server." },
  { section: "imap", key: "listen_addr", type: "addr", default: "127.0.0.1",
    doc: "Address the IMAP proxy listens on; use 0.0.0.0 only behind a firewall REDIRECT." },
  { section: "imap", key: "listen_port", type: "port", default: 8143,
    doc: "Port the IMAP proxy listens on; point the firewall REDIRECT of port 143 here." },
  { section: "imap", key: "server_addr", type: "addr", default: "",
    doc: "Address of the real IMAP server; empty uses the original destination of each redirected connection." },
  { section: "imap", key: "server_port", type: "port", default: 143,
    doc: "Port of the real IMAP server." },
  { section: "smfi", key: "smfi_sock_path", type: "path", underCacheDir: true, default: "smfi.sock",
    doc: "Unix socket of the milter (Postfix: smtpd_milters = unix:PATH); a relative path is taken inside cache_dir." },
  { section: "smfi", key: "listen_addr", type: "addr", default: "127.0.0.1",
    doc: "Address of the milter's TCP listener, used only when listen_port is not 0." },
  { section: "smfi", key: "listen_port", type: "port", default: 0,
    doc: "TCP port of the milter (Sendmail: inet:PORT@127.0.0.1); 0 listens on smfi_sock_path only." },
  { section: "mda", key: "mda_path", type: "path", default: "/usr/bin/procmail",
    doc: "The real delivery agent bulwark-mda passes accepted mail to (procmail, maildrop, qmail-local, ...)." },
  { section: "gwia", key: "gwia_smtphome", type: "path", default: "",
    doc: "GroupWise Internet Agent's SMTP home queue directory to watch; required when the gwia agent is enabled." },
  { section: "gwia", key: "gwia_dhome", type: "path", default: "",
    doc: "GroupWise Internet Agent's delivery (dhome) directory that scanned files are moved to; required when the gwia agent is enabled." },
  { section: "wwwi", key: "listen_addr", type: "addr", default: "127.0.0.1",
    doc: "Address of the HTTPS web console; keep 127.0.0.1 unless administrators connect from other hosts." },
  { section: "wwwi", key: "listen_port", type: "port", default: 8443,
    doc: "Port of the HTTPS web console." },
  { section: "wwwi", key: "username", type: "string", default: "",
    doc: "User name for logging in to the web console; with an empty name or password nobody can log in." },
  { section: "wwwi", key: "password", type: "string", default: "",
    doc: "Password for logging in to the web console; choose a long one, this file must stay private." },
  { section: "mird", key: "listen_addr", type: "addr", default: "127.0.0.1",
    doc: "Address the update mirror serves on; set the LAN address to serve other Bulwark installs." },
  { section: "mird", key: "listen_port", type: "port", default: 2221,
    doc: "Port the update mirror serves on." },
  { section: "mird", key: "auth_mode", type: "enum", enumValues: ["none", "basic"], default: "none",
    doc: "none serves the mirror to anyone who can connect; basic requires username and password (HTTP basic authentication)." },
  { section: "mird", key: "username", type: "string", default: "",
    doc: "User name that mirror clients must send when auth_mode is basic." },
  { section: "mird", key: "password", type: "string", default: "",
    doc: "Password that mirror clients must send when auth_mode is basic." },

  // ---- [clamd]: clamd-compatible protocol; on by default (loopback and a socket in cache_dir) so `npm start` is usable ----
  { section: "clamd", key: "agent_enabled", type: "bool", default: true,
    doc: "When yes, Bulwark answers clamd's protocol so clamdscan, amavisd-new, rspamd and other clamd clients can use it; on by default, reachable only locally." },
  { section: "clamd", key: "listen_addr", type: "addr", default: "127.0.0.1",
    doc: "Address of the clamd-protocol TCP listener; the protocol has no authentication, so never expose it beyond trusted hosts." },
  { section: "clamd", key: "listen_port", type: "port", default: 3310,
    doc: "Port of the clamd-protocol TCP listener (clamd's own default is 3310); 0 disables TCP." },
  { section: "clamd", key: "socket_path", type: "path", underCacheDir: true, default: "clamd.sock",
    doc: "Unix socket of the clamd protocol (clamd's LocalSocket); a relative path is taken inside cache_dir; empty disables the socket." },
  { section: "clamd", key: "stream_max_length", type: "size", min: 1, max: MAX_OBJECT_SIZE, default: 100 * MiB,
    doc: "Largest INSTREAM upload accepted (clamd's StreamMaxLength, default 100M); larger streams get `INSTREAM size limit exceeded. ERROR`." },

  // ---- [spamd]: SpamAssassin's spamd protocol (spamc and other spamd clients); off by default ----
  { section: "spamd", key: "listen_addr", type: "addr", default: "127.0.0.1",
    doc: "Address of the spamd-protocol TCP listener; the protocol has no authentication (TELL trains the filter), so keep it on trusted hosts." },
  { section: "spamd", key: "listen_port", type: "port", default: 783,
    doc: "Port of the spamd-protocol TCP listener (spamd's own default is 783, which needs root); 0 disables TCP." },
  { section: "spamd", key: "socket_path", type: "path", underCacheDir: true, default: "",
    doc: "Unix socket of the spamd protocol (spamc -U PATH); a relative path is taken inside cache_dir; empty opens no socket." },
  { section: "spamd", key: "allow_tell", type: "bool", default: false,
    doc: "When yes, spamc -L/-C (TELL) may train and untrain the statistical filter; off by default because anyone who can connect could then poison it." },

  // ---- [pipe], [cli]: on by default so the programs work after `npm start`; they talk to the daemon socket only ----
  { section: "pipe", key: "agent_enabled", type: "bool", default: true,
    doc: "When yes, bulwark-pipe may ask the daemon to judge mail; on by default since it opens no listener: only users who can reach daemon_socket_path can use it." },
  { section: "cli", key: "agent_enabled", type: "bool", default: true,
    doc: "When yes, bulwark-cli may ask the daemon to scan files; on by default since it opens no listener: only users who can reach daemon_socket_path can use it." },
];

/** Key of the schema index: "section.key". */
const INDEX = new Map<string, OptionSpec>(OPTIONS.map((o) => [`${o.section}.${o.key}`, o]));

export function isSection(name: string): name is SectionName {
  return (SECTIONS as readonly string[]).includes(name);
}

export function isAgentSection(name: string): name is AgentSection {
  return (AGENT_SECTIONS as readonly string[]).includes(name);
}

/** The option `key` as it applies in `section`, or undefined when not valid there. */
export function findOption(section: SectionName, key: string): OptionSpec | undefined {
  if (section === "global") return INDEX.get(`global.${key}`);
  return INDEX.get(`${section}.${key}`) ?? INDEX.get(`agent.${key}`) ?? inheritable(key);
}

function inheritable(key: string): OptionSpec | undefined {
  const o = INDEX.get(`global.${key}`);
  return o?.inherit ? o : undefined;
}

/** Every option valid in `section`, each key once, in table order. */
export function optionsFor(section: SectionName): OptionSpec[] {
  const keys = new Set<string>();
  // An agent's own options first, then the [global] ones it inherits.
  for (const o of OPTIONS) {
    if (section === "global" ? o.section === "global" : o.section === section || o.section === "agent") keys.add(o.key);
  }
  if (section !== "global") for (const o of OPTIONS) if (o.inherit) keys.add(o.key);
  return [...keys].map((k) => findOption(section, k)!);
}

/** The closest known name to `word` within edit distance 2 (for "did you mean"), or undefined. */
export function suggest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best;
}

/** Levenshtein distance; inputs are config names bounded by the parser's line limit. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}
