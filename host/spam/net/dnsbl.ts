/**
 * DNS block lists ([global] as_rbl_service): looks the client address up in each configured zone.
 *
 * Talks to: DNS through the resolver it is given (resolver.ts). Writes nothing; keeps in memory a
 * per-zone "blocked until" time (the circuit breaker below), so one checker is made per process
 * and reused for every message.
 * On failure: a zone that times out, fails (SERVFAIL, REFUSED), answers a refusal code or answers
 * outside 127/8 adds nothing to the score; it is reported in `softFailures` and logged.
 *
 * Entries are `zone:expected-answer` or `zone`:
 *   - `zen.spamhaus.org:127.0.0.2`  listed only when an A record of the answer is 127.0.0.2;
 *   - `zen.spamhaus.org:127.0.0.4-127.0.0.7`  an inclusive range inside 127/8 (XBL's codes);
 *   - `bl.example.org` (no answer) listed on any A record in 127.0.0.0/8 except 127.0.0.1 (RFC 5782
 *     §5 reserves it as "never listed", and some lists use it to say "query refused") and except
 *     the refusal codes below.
 * Several entries may name one zone (e.g. SBL and XBL codes of zen); the zone is queried once and
 * is listed when any of its entries matches: one reason per listed zone.
 *
 * Answer handling, per zone:
 *   - NXDOMAIN (or no A record): not listed.
 *   - a refusal code 127.255.255.252 (query typo), .254 (public/open resolver), .255 (too many
 *     queries): never "listed"; an operator note is logged and the zone is skipped for
 *     RBL_BLOCK_SECONDS (SpamAssassin's dns_block_time), since every further query would be refused
 *     too and hammering a list that refuses us gets the server banned for longer.
 *   - an answer outside 127/8: the list is broken (expired zone with a wildcard): soft failure, and
 *     the zone is skipped for RBL_BLOCK_SECONDS too.
 *   - timeout, SERVFAIL, REFUSED: soft failure. RBL_TIMEOUTS_TO_SKIP timeouts in a row skip the zone
 *     for RBL_TIMEOUT_SKIP_SECONDS, so a dead list does not add its timeout to every message.
 */
import { dnsblQueryName } from "./ip.js";
import { withDeadline, type DnsResolver } from "./resolver.js";
import type { SpamReason } from "../types.js";
import { netLog, type NetLog } from "./log.js";

/** Zones queried per message (entries naming the same zone count once): each one is a parallel
 *  DNS query and possibly a TXT query per message. More is a configuration error. */
export const MAX_RBL_ZONES = 16;
/** Score of one listing. SpamAssassin's set-1 scores for single big lists are 1.2-3.6
 *  (RCVD_IN_BL_SPAMCOP_NET 1.25, RCVD_IN_SBL 2.6, RCVD_IN_PSBL 2.7, RCVD_IN_PBL 3.56): 3.0 keeps one
 *  list alone below the default required score 5.0 (one list's mistake is not enough), while a
 *  listing plus one more spam sign (Bayes, a second list, SPF fail) reaches it. */
export const RBL_LISTED_SCORE = 3.0;
/** Seconds a zone is skipped after a refusal code or a broken answer (SA's dns_block_time). */
export const RBL_BLOCK_SECONDS = 300;
/** Consecutive timeouts after which a zone is skipped, and for how long. */
export const RBL_TIMEOUTS_TO_SKIP = 3;
export const RBL_TIMEOUT_SKIP_SECONDS = 60;
/** The listing's TXT reason is cut to this many characters for the one-line description. */
export const RBL_TXT_MAX_CHARS = 160;
/** The TXT query is skipped when less than this is left of the zone's deadline: a reason text is
 *  not worth a query that can hardly be answered in time. */
export const RBL_TXT_MIN_MS = 20;
/** Refusal answers: never a listing (notes §6.2). */
export const RBL_REFUSAL_CODES: ReadonlyMap<string, string> = new Map([
  ["127.255.255.252", "query refused: typing error in the list name"],
  ["127.255.255.254", "query refused: queries through a public/open resolver"],
  ["127.255.255.255", "query refused: excessive number of queries"],
]);

export class RblConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RblConfigError";
  }
}

export interface RblService {
  zone: string;
  /** inclusive ranges of accepted answers (IPv4 as numbers); empty = any 127/8 but 127.0.0.1 */
  expected: Array<readonly [number, number]>;
  /** reason name, e.g. RBL_ZEN_SPAMHAUS_ORG */
  name: string;
}

const ZONE = /^(?=.{1,240}$)([a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)+$/;

/** Parses as_rbl_service entries, merging entries of one zone. Throws RblConfigError naming a bad entry. */
export function parseRblServices(entries: readonly string[]): RblService[] {
  const byZone = new Map<string, RblService>();
  for (const raw of entries) {
    const entry = raw.trim();
    if (entry === "") continue;
    const bad = (why: string) => new RblConfigError(`as_rbl_service: "${entry}" ${why} (form: zone or zone:127.0.0.2 or zone:127.0.0.4-127.0.0.7)`);
    const colon = entry.indexOf(":");
    const zone = (colon < 0 ? entry : entry.slice(0, colon)).trim().toLowerCase().replace(/\.$/, "");
    if (!ZONE.test(zone)) throw bad("does not start with a DNS zone name");
    let svc = byZone.get(zone);
    if (!svc) {
      if (byZone.size >= MAX_RBL_ZONES) throw bad(`is past the limit of ${MAX_RBL_ZONES} zones`);
      svc = { zone, expected: [], name: "RBL_" + zone.toUpperCase().replace(/[^A-Z0-9]/g, "_") };
      byZone.set(zone, svc);
    }
    if (colon >= 0) {
      const answer = entry.slice(colon + 1).trim();
      const [a, b] = answer.includes("-") ? answer.split("-", 2).map((s) => s.trim()) : [answer, answer];
      const lo = ipv4Number(a!);
      const hi = ipv4Number(b!);
      if (lo === undefined || hi === undefined) throw bad(`has "${answer}", which is not an IPv4 answer or range`);
      if (lo >>> 24 !== 127 || hi >>> 24 !== 127) throw bad("expects an answer outside 127.0.0.0/8, which block lists never use for a listing");
      if (lo > hi) throw bad("has a range whose start is after its end");
      svc.expected.push([lo, hi]);
    }
  }
  return [...byZone.values()];
}

function ipv4Number(text: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  const p = m.slice(1).map(Number);
  if (p.some((x) => x > 255)) return undefined;
  return ((p[0]! << 24) >>> 0) + (p[1]! << 16) + (p[2]! << 8) + p[3]!;
}

export interface DnsblResult {
  reasons: SpamReason[];
  softFailures: string[];
}

/** The circuit breaker's memory: per zone, when it may be queried again and its timeouts in a row.
 *  One per process (a list that refuses us refuses every message), or one per test. */
export interface ZoneBreaker {
  blockedUntil: Map<string, number>;
  timeoutsInARow: Map<string, number>;
}

export function createZoneBreaker(): ZoneBreaker {
  return { blockedUntil: new Map(), timeoutsInARow: new Map() };
}

/** Holds at most one entry per zone ever configured, and zones come from the configuration. */
const processBreaker = createZoneBreaker();

export interface DnsblOptions {
  resolver: DnsResolver;
  services: readonly RblService[];
  log?: NetLog;
  /** default: the process-wide breaker */
  breaker?: ZoneBreaker;
  /** milliseconds clock, for the circuit breaker (tests move it forward) */
  now?: () => number;
  /** score of one listing, default RBL_LISTED_SCORE */
  score?: number;
}

type ZoneOutcome =
  | { kind: "listed"; answers: string[]; txt?: string }
  | { kind: "clean" }
  | { kind: "soft"; why: string; block?: number; timeout?: boolean; skipped?: boolean };

export interface Dnsbl {
  /** Looks `clientAddr` up in every zone, in parallel. Never rejects. Made per call: cheap, the
   *  state lives in the breaker. */
  check(clientAddr: string): Promise<DnsblResult>;
  readonly services: readonly RblService[];
}

export function createDnsbl(opts: DnsblOptions): Dnsbl {
  const now = opts.now ?? Date.now;
  const score = opts.score ?? RBL_LISTED_SCORE;
  const { blockedUntil, timeoutsInARow } = opts.breaker ?? processBreaker;
  const log = netLog(opts.log);

  async function queryZone(svc: RblService, name: string): Promise<ZoneOutcome> {
    const started = Date.now();
    let answers: string[];
    try {
      answers = (await opts.resolver.resolve(name, "A")) as string[];
    } catch (e) {
      const code = (e as { code?: string }).code ?? "";
      if (code === "ENOTFOUND" || code === "ENODATA") return { kind: "clean" };
      return { kind: "soft", why: `${code || "error"} (${(e as Error).message})`, timeout: code === "ETIMEOUT" };
    }
    const refusal = answers.find((a) => RBL_REFUSAL_CODES.has(a));
    if (refusal) return { kind: "soft", why: `answered ${refusal}, ${RBL_REFUSAL_CODES.get(refusal)}`, block: RBL_BLOCK_SECONDS };
    const outside = answers.find((a) => ipv4Number(a) === undefined || ipv4Number(a)! >>> 24 !== 127);
    if (outside) return { kind: "soft", why: `answered ${outside}, outside 127.0.0.0/8: the list looks broken`, block: RBL_BLOCK_SECONDS };
    const hits = answers.filter((a) => answerMatches(svc, ipv4Number(a)!));
    if (hits.length === 0) return { kind: "clean" };
    let txt: string | undefined;
    // one block list is one network check: the TXT query only gets what the A query left over
    const left = opts.resolver.timeoutMs - (Date.now() - started);
    try {
      if (left < RBL_TXT_MIN_MS) throw new Error("no time left for the TXT query");
      const records = (await withDeadline(opts.resolver.resolve(name, "TXT"), left, `TXT ${name}`)) as string[][];
      txt = records.map((r) => r.join("")).join(" ").replace(/[\x00-\x1f\x7f]+/g, " ").slice(0, RBL_TXT_MAX_CHARS);
    } catch {
      // the reason text is optional: a list without TXT records (or a slow one) is still a listing
    }
    return { kind: "listed", answers: hits, txt };
  }

  async function checkZone(svc: RblService, clientAddr: string): Promise<ZoneOutcome> {
    const until = blockedUntil.get(svc.zone);
    if (until !== undefined) {
      if (now() < until) return { kind: "soft", skipped: true, why: `skipped until ${new Date(until).toISOString()} after a refusal, broken answer or repeated timeouts` };
      blockedUntil.delete(svc.zone);
    }
    const name = dnsblQueryName(clientAddr, svc.zone);
    if (!name) return { kind: "clean" };
    // every query has its deadline (the resolver's, and the TXT one above): this settles
    const out = await queryZone(svc, name);
    if (out.kind === "soft" && out.timeout) {
      const n = (timeoutsInARow.get(svc.zone) ?? 0) + 1;
      timeoutsInARow.set(svc.zone, n);
      if (n >= RBL_TIMEOUTS_TO_SKIP) {
        timeoutsInARow.delete(svc.zone);
        return { ...out, block: RBL_TIMEOUT_SKIP_SECONDS };
      }
    } else {
      timeoutsInARow.delete(svc.zone);
    }
    return out;
  }

  return {
    services: opts.services,
    async check(clientAddr: string): Promise<DnsblResult> {
      const reasons: SpamReason[] = [];
      const softFailures: string[] = [];
      const outcomes = await Promise.all(
        opts.services.map((svc) => checkZone(svc, clientAddr).catch((e: unknown): ZoneOutcome => ({ kind: "soft", why: String(e) }))),
      );
      outcomes.forEach((out, i) => {
        const svc = opts.services[i]!;
        if (out.kind === "listed") {
          reasons.push({
            name: svc.name,
            score,
            description: `${clientAddr} listed in ${svc.zone} (${out.answers.join(", ")})${out.txt ? `: ${out.txt}` : ""}`,
          });
        } else if (out.kind === "soft") {
          const line = `rbl ${svc.zone}: ${out.why}`;
          softFailures.push(line);
          if (out.block !== undefined) {
            blockedUntil.set(svc.zone, now() + out.block * 1000);
            // the operator must act (use a local resolver, a DQS key, or drop the list): warn once per block
            log.warning(`block list ${svc.zone} is skipped for ${out.block} s`, { zone: svc.zone, reason: out.why });
          } else {
            log.debug("block list check failed soft", { zone: svc.zone, reason: out.why });
          }
        }
      });
      return { reasons, softFailures };
    },
  };
}

function answerMatches(svc: RblService, answer: number): boolean {
  if (svc.expected.length === 0) return answer >>> 24 === 127 && answer !== 0x7f000001;
  return svc.expected.some(([lo, hi]) => answer >= lo && answer <= hi);
}
