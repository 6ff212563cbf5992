/**
 * The DNS resolver of the anti-spam network checks (block lists, SPF, DKIM, DMARC), built from
 * [global] as_dns_servers and as_dns_timeout.
 *
 * Talks to: the configured DNS servers (or the system's, from /etc/resolv.conf, when the list is
 * empty) over UDP/TCP through node:dns (c-ares). Writes nothing.
 * On failure: every query settles within its deadline. A query that the servers do not answer in
 * time is rejected with code ETIMEOUT (the code node:dns uses), so mailauth reads it as an SPF or
 * DKIM `temperror` and the block-list code as a soft failure. Other failures keep node:dns's codes
 * (ENOTFOUND = NXDOMAIN, ENODATA, ESERVFAIL, EREFUSED, ECONNREFUSED, ...).
 *
 * `resolve(name, rrtype)` has the shape of dns.promises.resolve, which is what mailauth calls
 * through its `resolver` option (A/AAAA -> string[], TXT -> string[][], MX -> {exchange,
 * priority}[], PTR/CNAME -> string[]).
 */
import { Resolver } from "node:dns/promises";
import { isIP } from "node:net";

/** More servers than this is a configuration error: c-ares tries them one after the other inside
 *  one query's deadline, so servers past the first few could never be reached in time anyway. */
export const MAX_DNS_SERVERS = 4;
/** c-ares tries per server: one retransmission covers a lost UDP datagram. The first try gets a
 *  third of the budget and the retry (c-ares doubles the timeout) the other two thirds. */
export const DNS_TRIES = 2;
/** The per-query deadline never goes below this, whatever the caller asks (tests use short ones). */
export const MIN_DNS_TIMEOUT_MS = 50;
/** as_dns_timeout's default in the schema, for callers that pass none. */
export const DEFAULT_DNS_TIMEOUT_SECONDS = 3;

/** What dns.promises.resolve returns for the record types mailauth asks (MX and SOA answers are
 *  objects, typed loosely as mailauth does). */
export type DnsAnswer = string[] | string[][];
/** What mailauth's `resolver` option calls: (name, rrtype) like dns.promises.resolve. */
export type ResolveFunction = (name: string, rrtype: string) => Promise<DnsAnswer>;

export interface DnsResolver {
  /** dns.promises.resolve-like; rejects with ETIMEOUT once `timeoutMs` has passed */
  resolve: ResolveFunction;
  /** the deadline of one query, and of one network check (one block list, SPF, ...) */
  timeoutMs: number;
  /** the servers in node:dns form ("1.2.3.4", "1.2.3.4:5353", "[::1]:53"); empty = system */
  servers: readonly string[];
}

/** A bad as_dns_servers entry; the message names the entry. */
export class DnsConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DnsConfigError";
  }
}

/** Error with a node:dns-style code, so callers (and mailauth) can switch on `code`. */
export function dnsError(code: string, message: string): Error & { code: string } {
  const err = new Error(message) as Error & { code: string };
  err.code = code;
  return err;
}

/** Parses as_dns_servers entries: "IP", "IPv4:port", "[IPv6]:port" or a bare IPv6 address. */
export function parseDnsServers(entries: readonly string[]): string[] {
  const out: string[] = [];
  for (const raw of entries) {
    const entry = raw.trim();
    if (entry === "") continue;
    out.push(parseDnsServer(entry));
  }
  if (out.length > MAX_DNS_SERVERS) {
    throw new DnsConfigError(`as_dns_servers: ${out.length} servers given, at most ${MAX_DNS_SERVERS} are used within one query's timeout`);
  }
  return out;
}

function parseDnsServer(entry: string): string {
  const bad = (why: string) => new DnsConfigError(`as_dns_servers: "${entry}" ${why} (use 127.0.0.1, 127.0.0.1:5353 or [::1]:53)`);
  let host: string;
  let port: string | undefined;
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
  if (v6) {
    host = v6[1]!;
    port = v6[2];
    if (isIP(host) !== 6) throw bad("is not an IPv6 address in brackets");
  } else if (isIP(entry) === 6) {
    host = entry;
  } else {
    const v4 = /^([^:]+)(?::(\d+))?$/.exec(entry);
    if (!v4 || isIP(v4[1]!) !== 4) throw bad("is not an IP address");
    host = v4[1]!;
    port = v4[2];
  }
  if (port !== undefined) {
    const n = Number(port);
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw bad("has a port outside 1-65535");
    return isIP(host) === 6 ? `[${host}]:${n}` : `${host}:${n}`;
  }
  return host;
}

/**
 * Rejects with ETIMEOUT when `promise` has not settled after `ms`. The timer is cleared when the
 * promise settles, so nothing keeps the process alive. The work itself is not cancelled (node:dns
 * cannot cancel one query); c-ares ends it on its own timeout.
 */
export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(dnsError("ETIMEOUT", `${what}: no answer within ${ms} ms`)), ms);
    promise.then(
      (v) => { clearTimeout(timer); resolve(v); },
      (e: unknown) => { clearTimeout(timer); reject(e); },
    );
  });
}

export interface DnsResolverOptions {
  /** as_dns_servers entries (parsed here, see parseDnsServers); empty = the system's resolvers */
  servers: readonly string[];
  /** as_dns_timeout; or timeoutMs (tests) */
  timeoutSeconds?: number;
  timeoutMs?: number;
}

/** The resolver for as_dns_servers and as_dns_timeout. Throws DnsConfigError naming a bad entry. */
export function createResolver(opts: DnsResolverOptions): DnsResolver {
  const servers = parseDnsServers(opts.servers);
  const asked = opts.timeoutMs ?? (opts.timeoutSeconds ?? DEFAULT_DNS_TIMEOUT_SECONDS) * 1000;
  const timeoutMs = Math.max(MIN_DNS_TIMEOUT_MS, Math.floor(asked));
  const resolver = new Resolver({ timeout: Math.max(1, Math.floor(timeoutMs / 3)), tries: DNS_TRIES });
  if (servers.length > 0) resolver.setServers(servers);
  const resolve: ResolveFunction = (name, rrtype) =>
    withDeadline(resolver.resolve(name, rrtype) as Promise<DnsAnswer>, timeoutMs, `${rrtype} ${name}`);
  return { resolve, timeoutMs, servers };
}
