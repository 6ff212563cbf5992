/**
 * The anti-spam engine for the embedded library: `import { createSpamFilter } from "bulwark"`.
 * The same engine the daemon runs (engine.ts), built from plain options instead of bulwark.cfg.
 * Option values are checked like the configuration's (a bad block-list entry or DNS server
 * throws with the entry named).
 */
import { parseRblServices } from "./net/dnsbl.js";
import { parseDnsServers } from "./net/resolver.js";
import { createSpamEngine, type LocalSpamEngine } from "./engine.js";

export interface SpamFilterOptions {
  /** the Bayes database (SQLite) file; created when missing */
  database: string;
  /** rules files read after the built-in ones (the format of host/spam/rules/default.rules) */
  rules?: string[];
  /** network checks; absent or false: none (classification stays local) */
  network?: false | {
    /** "IP", "IP:port", "[v6]:port"; empty: the system's resolvers */
    dnsServers?: string[];
    /** per check; default 3 */
    timeoutSeconds?: number;
    /** "zone", "zone:127.0.0.2", "zone:127.0.0.4-127.0.0.7" */
    blockLists?: string[];
    /** SPF, DKIM and DMARC; default true */
    auth?: boolean;
  };
  /** one line per soft failure or problem */
  log?: (line: string) => void;
}

export type SpamFilter = LocalSpamEngine;

/** Default per-check DNS timeout, the same as as_dns_timeout's. */
const DEFAULT_TIMEOUT_SECONDS = 3;

export async function createSpamFilter(o: SpamFilterOptions): Promise<SpamFilter> {
  const net = o.network || undefined;
  const blockLists = net?.blockLists ?? [];
  parseRblServices(blockLists);
  const dnsServers = parseDnsServers(net?.dnsServers ?? []);
  return createSpamEngine({
    settings: {
      bayesDb: o.database,
      extraRules: o.rules ?? [],
      dnsServers,
      dnsTimeoutSeconds: net?.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS,
      rbl: blockLists,
      auth: net ? net.auth !== false : false,
    },
    network: net !== undefined,
    ...(o.log ? { log: o.log } : {}),
  });
}
