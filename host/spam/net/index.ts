/**
 * The network checks of one message: DNS block lists for the client address and SPF/DKIM/DMARC,
 * run in parallel.
 *
 * Talks to: DNS, through the resolver in the options (resolver.ts). Writes nothing.
 * On failure: every check fails soft: it adds no reason, and says why in `softFailures` (the
 * caller logs them and puts them into SpamResult.softFailures). Never rejects.
 *
 * Which client address: the SMTP client from the context; when there is none (spamd, `bulwark
 * spam check`) or it is on loopback (our MTA handing the mail over, e.g. a Postfix content_filter),
 * the client our MTA recorded in the top Received field (received.ts). A client that is not a
 * public address (private, link-local, loopback) is not looked up in block lists: lists do not
 * list such addresses.
 */
import { checkAuthentication } from "./auth.js";
import { createDnsbl, parseRblServices, type RblService, type ZoneBreaker } from "./dnsbl.js";
import { isLoopbackIp, isPublicIp, unmapIpv4 } from "./ip.js";
import { netLog, type NetLog } from "./log.js";
import { clientFromReceived } from "./received.js";
import type { DnsResolver } from "./resolver.js";
import type { SpamContext, SpamReason } from "../types.js";

export interface NetworkCheckOptions {
  resolver: DnsResolver;
  /** as_rbl_service entries (per recipient, so given per call); parsed lists are cached */
  rblServices: readonly string[];
  /** as_auth_enabled */
  authEnabled: boolean;
  log?: NetLog;
  /** authserv-id of the Authentication-Results value (default: the host name) */
  mta?: string;
  /** the block lists' circuit breaker and its clock; default: the process-wide one, Date.now */
  breaker?: ZoneBreaker;
  now?: () => number;
}

export interface NetworkCheckResult {
  reasons: SpamReason[];
  softFailures: string[];
  /** Authentication-Results field value for the caller to add to the mail, when auth ran */
  authResults?: string;
  /** the client address the checks used, and where it came from */
  client?: { addr: string; helo?: string; from: "connection" | "received" };
}

/** Parsed as_rbl_service lists kept; lists come from the configuration (global and per
 *  recipient), so a handful are live; past this the cache starts over. */
const MAX_CACHED_RBL_LISTS = 64;
const parsedLists = new Map<string, RblService[] | Error>();

function rblServicesOf(entries: readonly string[]): RblService[] | Error {
  const key = entries.join(",");
  let parsed = parsedLists.get(key);
  if (parsed === undefined) {
    try {
      parsed = parseRblServices(entries);
    } catch (e) {
      parsed = e as Error;
    }
    if (parsedLists.size >= MAX_CACHED_RBL_LISTS) parsedLists.clear();
    parsedLists.set(key, parsed);
  }
  return parsed;
}

/** The client to check: the connection's, or our MTA's Received record (see the file comment). */
export function effectiveClient(raw: Buffer, ctx: SpamContext): NetworkCheckResult["client"] {
  const conn = ctx.clientAddr ? unmapIpv4(ctx.clientAddr) : undefined;
  if (conn && !isLoopbackIp(conn)) return { addr: conn, helo: ctx.helo, from: "connection" };
  const rcvd = clientFromReceived(raw);
  if (rcvd) return { addr: rcvd.clientAddr, helo: rcvd.helo, from: "received" };
  return conn ? { addr: conn, helo: ctx.helo, from: "connection" } : undefined;
}

const EMPTY = { reasons: [] as SpamReason[], softFailures: [] as string[], authResults: undefined as string | undefined };

export async function networkChecks(raw: Buffer, ctx: SpamContext, opts: NetworkCheckOptions): Promise<NetworkCheckResult> {
  const client = effectiveClient(raw, ctx);
  const log = netLog(opts.log);
  let lookups: Promise<typeof EMPTY> = Promise.resolve(EMPTY);
  const services = opts.rblServices.length ? rblServicesOf(opts.rblServices) : [];
  if (services instanceof Error) {
    lookups = Promise.resolve({ ...EMPTY, softFailures: [`rbl: ${services.message}`] });
  } else if (services.length && client && isPublicIp(client.addr)) {
    const dnsbl = createDnsbl({ resolver: opts.resolver, services, log: opts.log, breaker: opts.breaker, now: opts.now });
    lookups = dnsbl.check(client.addr).then((r) => ({ ...r, authResults: undefined }));
  }
  const auth = opts.authEnabled
    ? checkAuthentication(raw, {
        resolver: opts.resolver,
        // SPF of a loopback client says nothing; without an address mailauth checks DKIM/DMARC only
        clientAddr: client && !isLoopbackIp(client.addr) ? client.addr : undefined,
        helo: client?.helo,
        sender: ctx.sender,
        mta: opts.mta,
      })
    : Promise.resolve(EMPTY);
  const [rbl, au] = await Promise.all([
    lookups.catch((e: unknown) => ({ ...EMPTY, softFailures: [`rbl: ${String(e)}`] })),
    auth.catch((e: unknown) => ({ ...EMPTY, softFailures: [`auth: ${String(e)}`] })),
  ]);
  const softFailures = [...rbl.softFailures, ...au.softFailures];
  if (softFailures.length) log.debug("network checks failed soft", { failures: softFailures });
  const out: NetworkCheckResult = { reasons: [...rbl.reasons, ...au.reasons], softFailures };
  if (au.authResults) out.authResults = au.authResults;
  if (client) out.client = client;
  return out;
}

export { parseApprovedList, ApprovedIpError, type ApprovedIpList } from "./approved-ip.js";
export { parseRblServices, createDnsbl, createZoneBreaker, RblConfigError, type RblService, type ZoneBreaker } from "./dnsbl.js";
export { createResolver, parseDnsServers, DnsConfigError, type DnsResolver } from "./resolver.js";
export { clientFromReceived, parseReceivedFrom, type ReceivedClient } from "./received.js";
export { checkAuthentication, AUTH_SCORES } from "./auth.js";
export { loadMailauth } from "./mailauth-load.js";
