/**
 * Relay control for the SMTP agent (pure code: no I/O). Keeps the agent from being an open relay
 * when the downstream server trusts it (for example a Postfix reinjection port with
 * `permit_mynetworks`): the agent itself must refuse what the downstream would have refused.
 *
 * The networks and domains are [smtp] relay_networks and relay_domains (host/config/schema.ts).
 * Their defaults, loopback only and no domains, mean that out of the box only loopback clients
 * (Postfix's content_filter / smtpd_proxy_filter clients) may send at all; any other client is
 * refused for every recipient except <Postmaster> until relay_domains is set.
 *
 * Decision (`decideRelay`), in order:
 *  1. A recipient that is not a strict RFC 5321 Path is refused (syntax), from every client.
 *  2. A client inside a relay network may send to any syntactically valid recipient.
 *  3. Otherwise <Postmaster> (no domain, RFC 5321 §4.5.1) is accepted.
 *  4. Otherwise a recipient carrying any routing trick is refused, even for a local domain, because
 *     the downstream may interpret the trick and send the mail on elsewhere:
 *     percent hack `user%other@local`, bang path `host!user@local`, source route
 *     `<@a,@b:user@local>`, quoted local part holding `@`, `%` or `!`, address literal
 *     `user@[192.0.2.1]`, trailing dot `user@local.`, IDNA forms (an `xn--` label or non-ASCII
 *     domain) unless the domain is exactly a configured local domain.
 *  5. Otherwise the recipient's domain must equal a configured local domain (case-insensitive,
 *     exact: subdomains must be listed themselves).
 */
import { BlockList, isIP } from "node:net";

/** RFC 5321 §4.5.3.1.1-3: local part 64 octets, domain 255, path 256 (with the angle brackets). */
export const MAX_LOCAL_PART_OCTETS = 64;
export const MAX_DOMAIN_OCTETS = 255;
export const MAX_PATH_OCTETS = 256;
/** RFC 1035 §2.3.4: a domain label is at most 63 octets. */
export const MAX_LABEL_OCTETS = 63;


export type RelayTrick =
  | "percent-hack"
  | "bang-path"
  | "source-route"
  | "quoted-local-part"
  | "address-literal"
  | "trailing-dot"
  | "idna";

export interface ParsedPath {
  /** true for <Postmaster> without a domain (case-insensitive). */
  postmaster: boolean;
  localPart: string; // as written, quotes included
  domain: string; // as written, without the trailing dot; "[...]" for an address literal
  /** The domains of a source route, in order (empty without one). */
  route: string[];
  tricks: RelayTrick[];
}

export type PathParse = { ok: true; path: ParsedPath; params: string } | { ok: false; error: string };

const ATEXT = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]$/;
const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$/;
const NON_ASCII = /[^\x00-\x7f]/;

/**
 * Parses a RCPT TO (or MAIL FROM) argument: `<Path>` optionally followed by SP and ESMTP
 * parameters, which are returned untouched in `params`. `smtputf8` allows UTF-8 in the local part
 * and domain (RFC 6531); a non-ASCII domain is then flagged "idna".
 */
export function parsePathArgument(text: string, options: { smtputf8?: boolean } = {}): PathParse {
  const p = new PathParser(text, options.smtputf8 === true);
  try {
    const path = p.path();
    let params = "";
    if (p.i < text.length) {
      if (text[p.i] !== " ") return { ok: false, error: "text after the closing '>' must be SP and parameters" };
      params = text.slice(p.i + 1);
    }
    if (Buffer.byteLength(text.slice(0, p.i)) > MAX_PATH_OCTETS) {
      return { ok: false, error: `path longer than ${MAX_PATH_OCTETS} octets` };
    }
    return { ok: true, path, params };
  } catch (e) {
    if (e instanceof PathSyntaxError) return { ok: false, error: e.message };
    throw e;
  }
}

class PathSyntaxError extends Error {}

class PathParser {
  i = 0;
  constructor(
    private readonly s: string,
    private readonly utf8: boolean,
  ) {}

  private fail(what: string): never {
    throw new PathSyntaxError(`${what} at offset ${this.i}`);
  }

  private expect(c: string): void {
    if (this.s[this.i] !== c) this.fail(`expected '${c}'`);
    this.i++;
  }

  path(): ParsedPath {
    this.expect("<");
    const route: string[] = [];
    if (this.s[this.i] === "@") {
      for (;;) {
        this.expect("@");
        route.push(this.domain().name);
        if (this.s[this.i] !== ",") break;
        this.i++;
      }
      this.expect(":");
    }
    const tricks = new Set<RelayTrick>();
    if (route.length > 0) tricks.add("source-route");
    const start = this.i;
    const local = this.localPart(tricks);
    if (this.s[this.i] === ">" && route.length === 0 && local.toLowerCase() === "postmaster") {
      this.i++;
      return { postmaster: true, localPart: local, domain: "", route, tricks: [] };
    }
    if (Buffer.byteLength(local) > MAX_LOCAL_PART_OCTETS) {
      this.i = start;
      this.fail(`local part longer than ${MAX_LOCAL_PART_OCTETS} octets`);
    }
    this.expect("@");
    let domain: string;
    if (this.s[this.i] === "[") {
      domain = this.addressLiteral();
      tricks.add("address-literal");
    } else {
      const d = this.domain();
      domain = d.name;
      if (d.trailingDot) tricks.add("trailing-dot");
      if (d.idna) tricks.add("idna");
    }
    this.expect(">");
    return { postmaster: false, localPart: local, domain, route, tricks: [...tricks] };
  }

  private localPart(tricks: Set<RelayTrick>): string {
    const start = this.i;
    if (this.s[this.i] === '"') {
      this.i++;
      let content = "";
      for (;;) {
        const c = this.s[this.i];
        if (c === undefined) this.fail("unterminated quoted string");
        if (c === '"') break;
        if (c === "\\") {
          const q = this.s[this.i + 1];
          if (q === undefined || !isPrintable(q)) this.fail("bad quoted pair");
          content += q;
          this.i += 2;
          continue;
        }
        if (!isPrintable(c) && !(this.utf8 && NON_ASCII.test(c))) this.fail("bad character in quoted string");
        content += c;
        this.i++;
      }
      this.i++;
      if (/[@%!]/.test(content)) tricks.add("quoted-local-part");
      return this.s.slice(start, this.i);
    }
    // Dot-string = Atom *("." Atom)
    for (;;) {
      const atomStart = this.i;
      while (this.i < this.s.length && this.isAtext(this.s[this.i])) this.i++;
      if (this.i === atomStart) this.fail("empty atom in local part");
      if (this.s[this.i] !== ".") break;
      this.i++;
    }
    const local = this.s.slice(start, this.i);
    if (local.includes("%")) tricks.add("percent-hack");
    if (local.includes("!")) tricks.add("bang-path");
    return local;
  }

  private isAtext(c: string): boolean {
    return ATEXT.test(c) || (this.utf8 && NON_ASCII.test(c));
  }

  /** Domain = sub-domain *("." sub-domain); a single trailing dot is tolerated and reported. */
  private domain(): { name: string; trailingDot: boolean; idna: boolean } {
    const labels: string[] = [];
    const labelChar = this.utf8 ? /[A-Za-z0-9-]|[^\x00-\x7f]/ : /[A-Za-z0-9-]/;
    let idna = false;
    let trailingDot = false;
    for (;;) {
      const labelStart = this.i;
      while (this.i < this.s.length && labelChar.test(this.s[this.i])) this.i++;
      const label = this.s.slice(labelStart, this.i);
      if (label === "") {
        // Only reached after a "." that followed a label: "example.test." ends in a trailing dot.
        if (labels.length === 0) this.fail("empty domain label");
        trailingDot = true;
        break;
      }
      if (Buffer.byteLength(label) > MAX_LABEL_OCTETS) this.fail(`domain label longer than ${MAX_LABEL_OCTETS} octets`);
      if (NON_ASCII.test(label)) idna = true;
      else if (!LABEL.test(label)) this.fail(`bad domain label '${label}'`);
      if (/^xn--/i.test(label)) idna = true;
      labels.push(label);
      if (this.s[this.i] !== ".") break;
      this.i++;
    }
    const name = labels.join(".");
    if (Buffer.byteLength(name) > MAX_DOMAIN_OCTETS) this.fail(`domain longer than ${MAX_DOMAIN_OCTETS} octets`);
    return { name, trailingDot, idna };
  }

  /** "[" IPv4 / "IPv6:" IPv6 / General-address-literal "]"; returned with its brackets. */
  private addressLiteral(): string {
    const start = this.i;
    const close = this.s.indexOf("]", this.i);
    if (close < 0) this.fail("unterminated address literal");
    const inner = this.s.slice(this.i + 1, close);
    const v6 = /^IPv6:(.*)$/i.exec(inner);
    const ok = v6 ? isIP(v6[1]) === 6 : isIP(inner) === 4 || /^[A-Za-z0-9-]*[A-Za-z0-9]:[\x21-\x5a\x5e-\x7e]+$/.test(inner);
    if (!ok) this.fail("bad address literal");
    this.i = close + 1;
    return this.s.slice(start, this.i);
  }
}

function isPrintable(c: string): boolean {
  const code = c.charCodeAt(0);
  return c.length === 1 && code >= 32 && code <= 126;
}

export interface RelayPolicy {
  readonly networks: BlockList;
  readonly networkList: readonly string[];
  /** Lower-case ASCII domains. */
  readonly localDomains: ReadonlySet<string>;
}

/**
 * Builds a policy from configuration strings. Networks are CIDR ("192.0.2.0/24", "2001:db8::/32")
 * or single addresses; domains are plain names. Every bad entry is reported, none ignored.
 */
export function compileRelayPolicy(
  networks: readonly string[],
  domains: readonly string[],
): { policy: RelayPolicy; errors: string[] } {
  const errors: string[] = [];
  const list = new BlockList();
  for (const entry of networks) {
    const m = /^([^/]+)(?:\/(\d{1,3}))?$/.exec(entry.trim());
    const family = m ? isIP(m[1]) : 0;
    const max = family === 4 ? 32 : 128;
    const prefix = m && m[2] !== undefined ? Number(m[2]) : max;
    if (!m || family === 0 || prefix > max) {
      errors.push(`relay network '${entry}' is not an IPv4 or IPv6 address or CIDR block`);
      continue;
    }
    list.addSubnet(m[1], prefix, family === 4 ? "ipv4" : "ipv6");
  }
  const local = new Set<string>();
  for (const entry of domains) {
    const d = entry.trim().toLowerCase();
    if (d === "" || NON_ASCII.test(d) || !d.split(".").every((l) => LABEL.test(l))) {
      errors.push(`local domain '${entry}' is not an ASCII domain name (write IDNs in xn-- form)`);
      continue;
    }
    local.add(d);
  }
  return { policy: { networks: list, networkList: [...networks], localDomains: local }, errors };
}

export type RelayDecision =
  | { allowed: true; reason: "relay-network" | "local-domain" | "postmaster"; detail: string }
  | { allowed: false; reason: "syntax" | "trick" | "not-local"; detail: string; tricks?: RelayTrick[] };

/** True when the client address (IPv4, IPv6, or IPv4-mapped IPv6) is inside a relay network. */
export function inRelayNetworks(policy: RelayPolicy, clientAddr: string): boolean {
  const family = isIP(clientAddr);
  if (family === 0) return false;
  return policy.networks.check(clientAddr, family === 4 ? "ipv4" : "ipv6");
}

/** Whether `clientAddr` may send to the recipient given as the RCPT TO argument. */
export function decideRelay(
  policy: RelayPolicy,
  clientAddr: string,
  rcptArgument: string,
  options: { smtputf8?: boolean } = {},
): RelayDecision {
  const parsed = parsePathArgument(rcptArgument, options);
  if (!parsed.ok) return { allowed: false, reason: "syntax", detail: parsed.error };
  if (inRelayNetworks(policy, clientAddr)) {
    return { allowed: true, reason: "relay-network", detail: `client ${clientAddr} is in a relay network` };
  }
  const path = parsed.path;
  if (path.postmaster) return { allowed: true, reason: "postmaster", detail: "<Postmaster> is always local" };
  const domain = path.domain.toLowerCase();
  const exactLocal = policy.localDomains.has(domain);
  const tricks = path.tricks.filter((t) => !(t === "idna" && exactLocal));
  if (tricks.length > 0) {
    return { allowed: false, reason: "trick", detail: `relay access denied: ${tricks.join(", ")}`, tricks };
  }
  if (exactLocal) return { allowed: true, reason: "local-domain", detail: `${domain} is a local domain` };
  return { allowed: false, reason: "not-local", detail: `relay access denied: ${domain} is not a local domain` };
}
