/**
 * Which ESMTP keywords the SMTP agent offers its client, given what the downstream server
 * announced in its EHLO reply and what the agent itself can honour (pure code: no I/O).
 *
 * The agent receives the whole message, scans it, then relays it with its own SMTP client, so a
 * keyword may be offered only if the agent can keep the promise end to end:
 * - allow-list, not deny-list: a keyword not named here is never offered (unknown extensions
 *   could change the protocol under the agent's feet). Stripped always: CHUNKING (BDAT) and
 *   BINARYMIME (the agent reads DATA only), XCLIENT (a client must never change the identity the
 *   downstream trusts; RFC-less Postfix extension), CHECKPOINT, XEXCH50, ETRN, VRFY, EXPN ...
 * - 8BITMIME, SMTPUTF8, DSN: offered only when the downstream offers them AND the agent handles
 *   them (it must forward BODY=, SMTPUTF8, RET/ENVID, NOTIFY/ORCPT).
 * - SIZE: offered only when the downstream offers it; the advertised limit is the smaller of the
 *   agent's own limit and the downstream's ("SIZE" or "SIZE 0" = no fixed downstream limit,
 *   RFC 1870). Without downstream SIZE the agent still enforces its own limit at end of data (552).
 * - PIPELINING, ENHANCEDSTATUSCODES, XFORWARD: the agent's own features (the client talks to the
 *   agent, not the downstream), offered when the agent is configured to.
 * - STARTTLS and AUTH: never passed from the downstream (the agent cannot relay a TLS handshake or
 *   an authentication); offered only when the agent itself terminates TLS / serves AUTH.
 */

export interface AgentAbilities {
  /** The agent's own maximum message size in octets (its DataReader bound). */
  maxMessageBytes: number;
  pipelining: boolean;
  eightBitMime: boolean;
  smtputf8: boolean;
  dsn: boolean;
  enhancedStatusCodes?: boolean;
  /** Accept XFORWARD from a trusted Postfix. */
  xforward?: boolean;
  /** The agent terminates TLS itself. */
  starttls?: boolean;
  /** SASL mechanisms the agent itself serves; empty or absent = no AUTH. */
  authMechanisms?: readonly string[];
}

export interface DownstreamFeatures {
  eightBitMime: boolean;
  smtputf8: boolean;
  dsn: boolean;
  /** undefined: SIZE not offered; 0: offered with no fixed limit; n: limit in octets. */
  size: number | undefined;
  pipelining: boolean;
  xforward: boolean;
}

export interface EhloOffer {
  /** Keyword lines to announce after the greeting line, in this order. */
  keywords: string[];
  /** The SIZE the agent announces, or undefined when it announces none. */
  size: number | undefined;
  /** Downstream keywords (upper-case, without parameters) the agent does not announce, for logging. */
  stripped: string[];
  downstream: DownstreamFeatures;
}

/** XFORWARD attributes Postfix may send (XFORWARD_README). */
const XFORWARD_ATTRIBUTES = "NAME ADDR PORT PROTO HELO IDENT SOURCE";

/**
 * Reads the downstream's EHLO keyword lines: the text after "250-"/"250 " of every line except
 * the first (the greeting). Keywords are case-insensitive; a malformed SIZE counts as not offered.
 */
export function parseEhloKeywords(lines: readonly string[]): DownstreamFeatures & { keywords: string[] } {
  const f: DownstreamFeatures & { keywords: string[] } = {
    eightBitMime: false,
    smtputf8: false,
    dsn: false,
    size: undefined,
    pipelining: false,
    xforward: false,
    keywords: [],
  };
  for (const line of lines) {
    const [rawKeyword, ...params] = line.trim().split(/\s+/);
    if (!rawKeyword) continue;
    const keyword = rawKeyword.toUpperCase();
    f.keywords.push(keyword);
    if (keyword === "8BITMIME") f.eightBitMime = true;
    else if (keyword === "SMTPUTF8") f.smtputf8 = true;
    else if (keyword === "DSN") f.dsn = true;
    else if (keyword === "PIPELINING") f.pipelining = true;
    else if (keyword === "XFORWARD") f.xforward = true;
    else if (keyword === "SIZE") {
      if (params.length === 0) f.size = 0;
      else if (params.length === 1 && /^\d{1,15}$/.test(params[0])) f.size = Number(params[0]);
    }
  }
  return f;
}

export function filterEhlo(downstreamLines: readonly string[], agent: AgentAbilities): EhloOffer {
  const ds = parseEhloKeywords(downstreamLines);
  const keywords: string[] = [];
  if (agent.pipelining) keywords.push("PIPELINING");
  let size: number | undefined;
  if (ds.size !== undefined) {
    size = ds.size === 0 ? agent.maxMessageBytes : Math.min(ds.size, agent.maxMessageBytes);
    keywords.push(`SIZE ${size}`);
  }
  if (ds.eightBitMime && agent.eightBitMime) keywords.push("8BITMIME");
  if (ds.smtputf8 && agent.smtputf8) keywords.push("SMTPUTF8");
  if (ds.dsn && agent.dsn) keywords.push("DSN");
  if (agent.enhancedStatusCodes) keywords.push("ENHANCEDSTATUSCODES");
  if (agent.xforward) keywords.push(`XFORWARD ${XFORWARD_ATTRIBUTES}`);
  if (agent.starttls) keywords.push("STARTTLS");
  if (agent.authMechanisms && agent.authMechanisms.length > 0) {
    keywords.push(`AUTH ${agent.authMechanisms.map((m) => m.toUpperCase()).join(" ")}`);
  }
  const announced = new Set(keywords.map((k) => k.split(" ")[0]));
  const stripped = [...new Set(ds.keywords.filter((k) => !announced.has(k)))];
  const { eightBitMime, smtputf8, dsn, pipelining, xforward } = ds;
  return { keywords, size, stripped, downstream: { eightBitMime, smtputf8, dsn, size: ds.size, pipelining, xforward } };
}
