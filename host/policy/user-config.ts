/**
 * User-specific configuration (SPEC §5): the special sections of a `user_config` file, and which of
 * them set the options of one message for one recipient.
 *
 * Section names (case-insensitive; brackets as in the file, shown here without them):
 *   rcpt@domain            recipient                    @domain           any recipient of domain
 *   |sender@domain         sender                       |@domain          any sender of domain
 *   rcpt@domain|sender@d   this recipient from this sender (either side may be "@domain")
 *   client:192.0.2.7       the SMTP client's address    server:2001:db8::1  the address the mail came in on
 *   black-list, any-name   a group: matches nothing by itself; members join it with parent_id = "name"
 *
 * Precedence, most specific first. For each option key the first level that sets it wins:
 *    1. rcpt@d|sender@d     2. rcpt@d|@d        3. @d|sender@d      4. @d|@d
 *    5. rcpt@d              6. @d               7. |sender@d        8. |@d
 *    9. client:IP          10. server:IP       11. the agent's base options (agent section over
 *                                                  [global], merged by the caller)
 * Why recipient before sender: the recipient owns the mailbox and the settings made for them are
 * the site's policy for that mailbox; a sender address is chosen by whoever sends. Why addresses
 * before IP sections: they are the finer selector; an IP section is a site-wide default for a relay.
 * A matched section's parent_id chain is part of its level: the member's own keys first, then its
 * group's keys for what the member left unset, then the group's parent, and so on, before the next
 * less specific level. So `[|a@x] parent_id = "black-list"` beats `[|@x]` for action_av.
 *
 * Errors (thrown by `compileUserConfig`, never while resolving a message): a name that is none of
 * the forms above, two names that select the same (equal but for case, "@d" and "@D.", two
 * spellings of one IP), parent_id naming no section or a non-group, a parent_id cycle, a chain
 * deeper than MAX_PARENT_DEPTH, an option the caller's `checkOption` refuses. A broken file is refused as a whole,
 * because silently skipping the one broken section might be skipping a black-list.
 *
 * Message addresses are normalised (surrounding <> removed, lower-cased, domain to IDNA A-labels,
 * a trailing dot dropped). The local part is compared case-insensitively too: RFC 5321 allows a
 * case-sensitive one, but no mail system in use treats Bob and bob as two mailboxes, and an
 * administrator writing [Bob@corp] means bob. A domain section does not match subdomains.
 * An address that is not a plain local@domain (CR/LF, spaces, brackets, quoted local parts,
 * address literals) matches no address section and is reported in `ignored`; its recipient still
 * gets the base options, so a hostile address can choose nothing but the defaults.
 */
import { isIP } from "node:net";
import { domainToASCII } from "node:url";

export type UserConfigSections = Record<string, Record<string, string>>;

/** Max parent_id hops from a member to its farthest group. Real setups use one (member -> list)
 *  or two (list -> site-wide group); the bound keeps per-message work at sections x depth and
 *  catches a runaway generated file. */
export const MAX_PARENT_DEPTH = 8;
export const PARENT_KEY = "parent_id";
/** RFC 5321 §4.5.3.1: local part 64, domain 255, path 256 octets (254 for the address itself). */
export const MAX_LOCAL_PART = 64;
export const MAX_DOMAIN = 255;
export const MAX_ADDRESS = 254;

export class UserConfigError extends Error {
  constructor(
    message: string,
    readonly section: string,
  ) {
    super(message);
    this.name = "UserConfigError";
  }
}

export interface CompileOptions {
  /** file name for error messages */
  file?: string;
  /** line of each section header (as named in `sections`), for error messages */
  sectionLines?: Record<string, number>;
  /** schema check of one option of a special section: an error reason, or undefined when fine */
  checkOption?: (key: string, value: string) => string | undefined;
}

interface CompiledSection {
  name: string;
  options: Record<string, string>;
  /** this section, then its parent, grandparent... (names as written) */
  chain: string[];
}

export interface CompiledUserConfig {
  /** lookup key ("addr:rcpt|sender", "client:ip", "server:ip") -> section; groups are not indexed */
  readonly index: ReadonlyMap<string, CompiledSection>;
  readonly sections: ReadonlyMap<string, CompiledSection>;
}

export interface MessageContext {
  /** envelope sender; "" or "<>" for the null sender of bounces (matches no sender section) */
  sender: string;
  recipients: string[];
  clientAddress?: string;
  serverAddress?: string;
}

export interface RecipientOptions {
  /** the recipient as given ("" when the message had none) */
  recipient: string;
  options: Record<string, string>;
  /** option key -> section that supplied it; keys taken from the base options are absent */
  sources: Record<string, string>;
  /** the matched member sections, most specific first (their groups are in `sources`) */
  matched: string[];
}

export interface ResolvedMessage {
  /** one entry per recipient, in the given order; one entry with recipient "" when there were none */
  perRecipient: RecipientOptions[];
  /** message addresses that matched nothing because they are not plain local@domain */
  ignored: string[];
}

/** Trim spaces only: CR, LF and other controls must stay so that validation sees and refuses them. */
const trimSpaces = (s: string) => s.replace(/^ +| +$/g, "");

// ---- addresses -------------------------------------------------------------------------------

/** Characters never allowed in an unquoted local part here: specials of RFC 5322 plus "|". */
const LOCAL_FORBIDDEN = /[\s"(),:;<>@[\\\]|\x00-\x1f\x7f]/u;
const DOMAIN_LABEL = /^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?$/;

function normalizeDomain(d: string): string | undefined {
  if (d.length === 0 || d.length > MAX_DOMAIN || /[\s[\]\\|@\x00-\x1f\x7f]/u.test(d)) return undefined;
  const ascii = domainToASCII(d.replace(/\.$/, "")); // "" when not a valid domain
  if (!ascii || ascii.length > MAX_DOMAIN) return undefined;
  return ascii.split(".").every((l) => l.length <= 63 && DOMAIN_LABEL.test(l)) ? ascii : undefined;
}

/** "Local@Domain" -> "local@domain", or undefined when it is not a plain address. */
export function normalizeAddress(a: string): string | undefined {
  if (typeof a !== "string" || a.length > MAX_ADDRESS + 2) return undefined;
  let s = trimSpaces(a);
  if (s.startsWith("<") && s.endsWith(">")) s = s.slice(1, -1);
  const at = s.indexOf("@");
  if (at <= 0 || at !== s.lastIndexOf("@")) return undefined;
  const local = s.slice(0, at).toLowerCase();
  if (local.length > MAX_LOCAL_PART || LOCAL_FORBIDDEN.test(local)) return undefined;
  const domain = normalizeDomain(s.slice(at + 1).toLowerCase());
  if (!domain) return undefined;
  const out = `${local}@${domain}`;
  return out.length <= MAX_ADDRESS ? out : undefined;
}

/** IP address in one spelling: IPv6 compressed lower-case, IPv4-mapped IPv6 as IPv4. */
export function normalizeIp(ip: string): string | undefined {
  if (typeof ip !== "string") return undefined;
  let s = trimSpaces(ip).toLowerCase();
  if (s.startsWith("[") && s.endsWith("]")) s = s.slice(1, -1);
  if (s.startsWith("::ffff:") && isIP(s.slice(7)) === 4) s = s.slice(7);
  const kind = isIP(s);
  if (kind === 4) return s.split(".").map((o) => String(Number(o))).join(".");
  if (kind === 6) {
    if (s.includes("%")) return undefined; // zone ids are local to one host
    const host = new URL(`http://[${s}]/`).hostname.slice(1, -1);
    const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
    if (mapped) {
      const hi = parseInt(mapped[1], 16), lo = parseInt(mapped[2], 16);
      return [hi >> 8, hi & 255, lo >> 8, lo & 255].join(".");
    }
    return host;
  }
  return undefined;
}

/** The address forms a message address is looked up under: exact, then its domain. */
function addressForms(normalized: string | undefined): string[] {
  if (!normalized) return [];
  return [normalized, normalized.slice(normalized.indexOf("@"))];
}

// ---- compiling a file --------------------------------------------------------------------------

const GROUP_NAME = /^[a-z0-9][a-z0-9_.-]*$/;

/** "" | "local@domain" | "@domain", normalised; undefined when malformed. */
function parsePattern(p: string): string | undefined {
  if (p === "") return "";
  if (p.startsWith("@")) {
    const d = normalizeDomain(p.slice(1));
    return d ? `@${d}` : undefined;
  }
  return normalizeAddress(p);
}

type Kind = { kind: "group" } | { kind: "indexed"; key: string };

function classify(name: string): Kind | string {
  const n = trimSpaces(name).toLowerCase();
  const ipForm = /^(client|server):(.+)$/.exec(n);
  if (ipForm) {
    const ip = normalizeIp(ipForm[2]);
    return ip ? { kind: "indexed", key: `${ipForm[1]}:${ip}` } : `${JSON.stringify(ipForm[2])} is not an IP address`;
  }
  if (n.includes("|") || n.includes("@")) {
    const bar = n.indexOf("|");
    const [r, s] = bar < 0 ? [n, ""] : [n.slice(0, bar), n.slice(bar + 1)];
    if (s.includes("|")) return `more than one "|"`;
    if (r === "" && s === "") return "neither a recipient nor a sender";
    const rp = parsePattern(r), sp = parsePattern(s);
    if (rp === undefined) return `${JSON.stringify(r)} is not an address or @domain`;
    if (sp === undefined) return `${JSON.stringify(s)} is not an address or @domain`;
    return { kind: "indexed", key: `addr:${rp}|${sp}` };
  }
  return GROUP_NAME.test(n) ? { kind: "group" } : "not an address, @domain, client:/server: address or group name";
}

/** Validate a parsed user_config file and index it for `resolveUserConfig`. Throws UserConfigError. */
export function compileUserConfig(sections: UserConfigSections, opts: CompileOptions = {}): CompiledUserConfig {
  const where = (section: string) => {
    const line = opts.sectionLines?.[section];
    const file = opts.file ?? "user_config";
    return `${file}${line !== undefined ? `:${line}` : ""}: [${JSON.stringify(section).slice(1, -1)}]`;
  };
  const fail = (section: string, reason: string): never => {
    // one line whatever the file held: a control character is shown escaped, never written raw
    const oneLine = reason.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
    throw new UserConfigError(`${where(section)}: ${oneLine}`, section);
  };

  const byLower = new Map<string, string>(); // lower-cased name -> name as written
  const kinds = new Map<string, Kind>();
  const index = new Map<string, CompiledSection>();
  const keyOwner = new Map<string, string>();
  for (const name of Object.keys(sections)) {
    const lower = trimSpaces(name).toLowerCase();
    const prev = byLower.get(lower);
    if (prev !== undefined) fail(name, `same section as [${prev}] (names are case-insensitive)`);
    byLower.set(lower, name);
    const kind = classify(name);
    if (typeof kind === "string") fail(name, `bad section name: ${kind}`);
    kinds.set(name, kind as Kind);
    const body = sections[name];
    if (!body || typeof body !== "object") fail(name, "no options");
    for (const [key, value] of Object.entries(body)) {
      if (typeof value !== "string") fail(name, `${key}: value is not a string`);
      if (key === PARENT_KEY) continue;
      const bad = opts.checkOption?.(key, value);
      if (bad !== undefined) fail(name, `${key}: ${bad}`);
    }
    const k = kind as Kind;
    if (k.kind === "indexed") {
      // Two spellings of one selector ("a@B.example" and "A@b.example." ) would make the winner
      // depend on file order; refuse instead.
      const other = keyOwner.get(k.key);
      if (other !== undefined) fail(name, `selects the same as [${other}]`);
      keyOwner.set(k.key, name);
    }
  }

  const compiled = new Map<string, CompiledSection>();
  for (const name of Object.keys(sections)) {
    const chain = [name];
    let current = name;
    for (;;) {
      const parent = sections[current][PARENT_KEY];
      if (parent === undefined) break;
      const parentName = byLower.get(trimSpaces(parent).toLowerCase());
      if (parentName === undefined) fail(current, `parent_id ${JSON.stringify(parent)} names no section`);
      if (kinds.get(parentName!)?.kind !== "group") fail(current, `parent_id ${JSON.stringify(parent)} is not a group section`);
      if (chain.includes(parentName!)) fail(name, `parent_id cycle: ${[...chain, parentName!].join(" -> ")}`);
      if (chain.length > MAX_PARENT_DEPTH) fail(name, `parent_id chain deeper than ${MAX_PARENT_DEPTH}`);
      chain.push(parentName!);
      current = parentName!;
    }
    const options: Record<string, string> = Object.create(null);
    for (const [key, value] of Object.entries(sections[name])) if (key !== PARENT_KEY) options[key] = value;
    compiled.set(name, { name, options, chain });
  }
  for (const [name, kind] of kinds) if (kind.kind === "indexed") index.set(kind.key, compiled.get(name)!);
  return { index, sections: compiled };
}

// ---- resolving one message ---------------------------------------------------------------------

/** Lookup keys for one recipient, in precedence order (see the table at the top). */
function lookupKeys(rcpt: string[], sender: string[], client?: string, server?: string): string[] {
  const keys: string[] = [];
  for (const r of rcpt) for (const s of sender) keys.push(`addr:${r}|${s}`);
  for (const r of rcpt) keys.push(`addr:${r}|`);
  for (const s of sender) keys.push(`addr:|${s}`);
  if (client) keys.push(`client:${client}`);
  if (server) keys.push(`server:${server}`);
  return keys;
}

function resolveOne(cfg: CompiledUserConfig, base: Record<string, string>, recipient: string, keys: string[]): RecipientOptions {
  const options: Record<string, string> = Object.create(null);
  const sources: Record<string, string> = Object.create(null);
  const matched: string[] = [];
  for (const key of keys) {
    const member = cfg.index.get(key);
    if (!member) continue;
    matched.push(member.name);
    for (const sectionName of member.chain) {
      const section = cfg.sections.get(sectionName)!;
      for (const [k, v] of Object.entries(section.options)) {
        if (Object.prototype.hasOwnProperty.call(options, k)) continue; // a more specific level set it
        options[k] = v;
        sources[k] = sectionName;
      }
    }
  }
  for (const [k, v] of Object.entries(base)) if (!Object.prototype.hasOwnProperty.call(options, k)) options[k] = v;
  return { recipient, options, sources, matched };
}

/** The effective options of each recipient of one message. Never throws on message input. */
export function resolveUserConfig(cfg: CompiledUserConfig, base: Record<string, string>, ctx: MessageContext): ResolvedMessage {
  const ignored: string[] = [];
  const norm = (a: string): string | undefined => {
    const n = normalizeAddress(a);
    if (n === undefined) ignored.push(a);
    return n;
  };
  const rawSender = typeof ctx.sender === "string" ? ctx.sender : "";
  const nullSender = trimSpaces(rawSender) === "" || trimSpaces(rawSender) === "<>";
  const sender = addressForms(nullSender ? undefined : norm(rawSender));
  const ip = (a: string | undefined) => {
    if (a === undefined || a === "") return undefined;
    const n = normalizeIp(a);
    if (n === undefined) ignored.push(a);
    return n;
  };
  const client = ip(ctx.clientAddress);
  const server = ip(ctx.serverAddress);
  const recipients = Array.isArray(ctx.recipients) && ctx.recipients.length > 0 ? ctx.recipients : [""];
  const perRecipient = recipients.map((r) => {
    const forms = r === "" ? [] : addressForms(norm(r));
    return resolveOne(cfg, base, r, lookupKeys(forms, sender, client, server));
  });
  return { perRecipient, ignored };
}

/** Equal for two recipients exactly when their effective options are equal. */
export function optionsKey(options: Record<string, string>): string {
  return JSON.stringify(Object.keys(options).sort().map((k) => [k, options[k]]));
}

/** Recipients whose effective options are identical, in first-seen order, so an agent can scan
 *  and decide once per distinct option set. */
export function groupByOptions(perRecipient: RecipientOptions[]): Array<{ options: Record<string, string>; recipients: string[] }> {
  const groups = new Map<string, { options: Record<string, string>; recipients: string[] }>();
  for (const r of perRecipient) {
    const key = optionsKey(r.options);
    const g = groups.get(key);
    if (g) g.recipients.push(r.recipient);
    else groups.set(key, { options: r.options, recipients: [r.recipient] });
  }
  return [...groups.values()];
}
