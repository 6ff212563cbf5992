/**
 * SPF, DKIM and DMARC of one message through mailauth, turned into scored reasons.
 *
 * Talks to: DNS through the resolver it is given (resolver.ts); mailauth makes the queries (SPF
 * record and its includes, DKIM keys, DMARC records). Writes nothing.
 * On failure: a DNS timeout or error (mailauth's `temperror`), a broken SPF or DMARC record
 * (`permerror`), a message mailauth cannot parse, or the whole check passing its deadline adds
 * nothing to the score and is reported in `softFailures`. Never rejects.
 *
 * ARC is not evaluated (disableArc): an ARC pass only means something for sealers one trusts, and
 * there is no list of trusted sealers yet, so scoring it (rspamd: ARC_ALLOW -1.0) would only give
 * spammers who seal their own mail a bonus. BIMI is off (it is a display feature).
 */
import os from "node:os";
import type { AuthenticateResult } from "mailauth";
import { headerBlock } from "./header-block.js";
import { loadMailauth } from "./mailauth-load.js";
import { dnsError, withDeadline, type DnsResolver, type ResolveFunction } from "./resolver.js";
import type { SpamReason } from "../types.js";

/**
 * Scores of the authentication results. rspamd's policies_group weights (notes §2.3) are the
 * guide; SpamAssassin's 50_scores.cf (Debian 12) is the second opinion. Results not in this
 * table (SPF none/neutral, DKIM none/neutral/policy, DMARC none) add no reason.
 */
export const AUTH_SCORES = {
  /** rspamd R_SPF_ALLOW -0.2: a pass costs a spammer nothing on his own domain, so only a nudge */
  SPF_PASS: -0.2,
  /** rspamd R_SPF_FAIL +1.0, SA SPF_FAIL 0.92: the domain says this host may not send for it */
  SPF_FAIL: 1.0,
  /** rspamd 0.0, SA 0.67-0.97: "probably not allowed" is weaker than fail, so half of it */
  SPF_SOFTFAIL: 0.5,
  /** rspamd R_DKIM_ALLOW -0.2: any valid signature, aligned or not (DMARC scores alignment) */
  DKIM_VALID: -0.2,
  /** rspamd R_DKIM_REJECT +1.0: a signature that does not verify (bad signature or altered body)
   *  and no other signature that does */
  DKIM_INVALID: 1.0,
  /** rspamd DMARC_POLICY_ALLOW -0.5: the From domain is authenticated */
  DMARC_PASS: -0.5,
  /** rspamd DMARC_POLICY_REJECT +2.0 (SA DMARC_REJECT 1.8): the From domain asks receivers to
   *  refuse such mail. Not higher: forwarding and mailing lists break DMARC for legitimate mail */
  DMARC_REJECT: 2.0,
  /** rspamd DMARC_POLICY_QUARANTINE +1.5 (SA DMARC_QUAR 1.2) */
  DMARC_QUARANTINE: 1.5,
  /** rspamd DMARC_POLICY_SOFTFAIL +0.1: fails, but the domain publishes p=none */
  DMARC_FAIL_NONE: 0.1,
} as const;

/** DNS queries one message may cause: SPF's own limit is 10 lookups plus the client's A/AAAA and
 *  void lookups, each DKIM signature is one key query, DMARC a few. Past this budget a query fails
 *  (temperror), so a message with hundreds of signatures cannot make hundreds of queries. */
export const MAX_AUTH_DNS_QUERIES = 40;
/** DKIM-Signature fields verified; further ones are removed from the copy mailauth reads (each
 *  costs a key query and a hash of the header). Real mail carries one to three. */
export const MAX_DKIM_SIGNATURES = 5;
/** mailauth runs DKIM, then SPF, then DMARC one after the other, and each is one network check of
 *  as_dns_timeout (config doc); the whole authentication gets this many timeouts. */
export const AUTH_DEADLINE_CHECKS = 3;
/** Bytes searched for the end of the header when counting DKIM signatures. */
const HEADER_SCAN_BYTES = 256 * 1024;

export interface AuthCheckOptions {
  resolver: DnsResolver;
  clientAddr?: string;
  helo?: string;
  /** MAIL FROM address ("" or undefined for a bounce) */
  sender?: string;
  /** the authserv-id written into Authentication-Results (default: this host's name) */
  mta?: string;
}

export interface AuthCheckResult {
  reasons: SpamReason[];
  softFailures: string[];
  /** the Authentication-Results field value (folded, without the name), when mailauth made one */
  authResults?: string;
}

export async function checkAuthentication(raw: Buffer, opts: AuthCheckOptions): Promise<AuthCheckResult> {
  const softFailures: string[] = [];
  let res: AuthenticateResult;
  try {
    const { authenticate } = await loadMailauth();
    res = await withDeadline(
      authenticate(limitDkimSignatures(raw), {
        ip: opts.clientAddr,
        helo: opts.helo,
        sender: opts.sender,
        mta: opts.mta ?? os.hostname(),
        resolver: budgetedResolver(opts.resolver.resolve, MAX_AUTH_DNS_QUERIES),
        disableArc: true,
        disableBimi: true,
      }),
      opts.resolver.timeoutMs * AUTH_DEADLINE_CHECKS,
      "SPF/DKIM/DMARC",
    );
  } catch (e) {
    return { reasons: [], softFailures: [`auth: ${(e as { code?: string }).code ?? "error"} (${(e as Error).message})`] };
  }
  const reasons = [...spfReasons(res, softFailures), ...dkimReasons(res, softFailures), ...dmarcReasons(res, softFailures)];
  return { reasons, softFailures, authResults: authResultsValue(res.headers) };
}

function reason(name: keyof typeof AUTH_SCORES, description: string): SpamReason {
  return { name, score: AUTH_SCORES[name], description };
}

function spfReasons(res: AuthenticateResult, soft: string[]): SpamReason[] {
  const spf = res.spf;
  if (!spf) return [];
  const r = spf.status.result;
  const what = `SPF ${r} for ${spf.domain}${spf["client-ip"] ? ` from ${spf["client-ip"]}` : ""}`;
  if (r === "pass") return [reason("SPF_PASS", what)];
  if (r === "fail") return [reason("SPF_FAIL", what)];
  if (r === "softfail") return [reason("SPF_SOFTFAIL", what)];
  if (r === "temperror" || r === "temperr" || r === "permerror") soft.push(`spf: ${r}${spf.status.comment ? ` (${spf.status.comment})` : ""}`);
  return [];
}

function dkimReasons(res: AuthenticateResult, soft: string[]): SpamReason[] {
  const results = res.dkim?.results ?? [];
  const pass = results.find((d) => d.status.result === "pass");
  if (pass) return [reason("DKIM_VALID", `valid DKIM signature of ${pass.signingDomain}`)];
  const bad = results.find(
    (d) => d.status.result === "fail" || (d.status.result === "neutral" && /body hash/i.test(d.status.comment ?? "")),
  );
  if (bad) return [reason("DKIM_INVALID", `DKIM signature of ${bad.signingDomain} does not verify: ${bad.status.comment || bad.status.result}`)];
  const temp = results.find((d) => d.status.result === "temperror" || d.status.result === "temperr");
  if (temp) soft.push(`dkim: temperror for ${temp.signingDomain} (${temp.status.comment ?? ""})`);
  return [];
}

function dmarcReasons(res: AuthenticateResult, soft: string[]): SpamReason[] {
  const dmarc = res.dmarc;
  if (!dmarc) return [];
  const r = dmarc.status.result;
  const from = dmarc.status.header?.from ?? dmarc.domain;
  if (r === "pass") return [reason("DMARC_PASS", `DMARC pass for ${from}`)];
  if (r === "fail") {
    const what = `DMARC fail for ${from} (policy ${dmarc.policy})`;
    if (dmarc.policy === "reject") return [reason("DMARC_REJECT", what)];
    if (dmarc.policy === "quarantine") return [reason("DMARC_QUARANTINE", what)];
    return [reason("DMARC_FAIL_NONE", what)];
  }
  if (r === "temperror" || r === "temperr" || r === "permerror") soft.push(`dmarc: ${r}${dmarc.error ? ` (${dmarc.error})` : ""}`);
  return [];
}

/** The value of the Authentication-Results field in mailauth's `headers` block. */
function authResultsValue(headers: string | undefined): string | undefined {
  if (!headers) return undefined;
  const m = /^Authentication-Results:[ \t]*((?:.*)(?:\r?\n[ \t].*)*)/im.exec(headers);
  return m ? m[1]!.replace(/\r?\n/g, "\r\n") : undefined;
}

/** A resolver that fails (with a temperror-making code) once `max` queries were made. */
function budgetedResolver(resolve: ResolveFunction, max: number): ResolveFunction {
  let used = 0;
  return (name, rrtype) => {
    if (++used > max) return Promise.reject(dnsError("ETIMEOUT", `DNS query budget of ${max} per message used up (${rrtype} ${name})`));
    return resolve(name, rrtype);
  };
}

/**
 * The message with DKIM-Signature fields past the first MAX_DKIM_SIGNATURES removed (the mail
 * itself is not changed; this copy is only verified). Returns `raw` itself in the usual case.
 */
export function limitDkimSignatures(raw: Buffer): Buffer {
  const header = headerBlock(raw, HEADER_SCAN_BYTES);
  const count = header.match(/^dkim-signature[ \t]*:/gim)?.length ?? 0;
  if (count <= MAX_DKIM_SIGNATURES) return raw;
  const lines = header.split(/(?<=\n)/);
  let kept = "";
  let seen = 0;
  let dropping = false;
  for (const line of lines) {
    if (!/^[ \t]/.test(line)) {
      dropping = /^dkim-signature[ \t]*:/i.test(line) && ++seen > MAX_DKIM_SIGNATURES;
    }
    if (!dropping) kept += line;
  }
  return Buffer.concat([Buffer.from(kept, "latin1"), raw.subarray(Buffer.byteLength(header, "latin1"))]);
}
