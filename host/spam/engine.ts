/**
 * The anti-spam engine (SPEC §6): one object that puts the pieces together for the daemon, the
 * spamd listener, `bulwark spam` and the embedded library:
 *
 *   parse (message.ts) -> rules (rules.ts) + Bayes (tokenize.ts, bayes.ts, bayes-store.ts)
 *   -> network checks (net/: DNS block lists, SPF/DKIM/DMARC), each failing soft
 *   -> score = sum of the reasons; spam at the rules file's required_score, probable at
 *      probable_score.
 *
 * The rules are the built-in file plus [global] as_rules_file; the Bayes database is
 * [global] as_bayes_db. Building the engine fails (with a clear message) on a broken rules file
 * or database; the daemon then defers the mail that asks for classification instead of passing
 * it unclassified.
 *
 * Network checks are skipped when the local score already decides beyond doubt (GTUBE, or a
 * score past NETWORK_SKIP_MARGIN from the threshold): the answer could not change the verdict
 * and would only cost the DNS round trips.
 */
import type { Config } from "../config/load.js";
import { features } from "./tokenize.js";
import { bayesScore } from "./bayes.js";
import { type BayesStore, messageDigest, openBayesStore } from "./bayes-store.js";
import { parseMail } from "./message.js";
import { networkChecks } from "./net/index.js";
import { createResolver, type DnsResolver } from "./net/resolver.js";
import { clientFromReceived } from "./net/received.js";
import { defaultRulesPath, loadRules, type RuleSet } from "./rules.js";
import type { LearnOutcome, SpamContext, SpamEngine, SpamReason, SpamResult, SpamStatus } from "./types.js";

/** Points beyond the spam threshold (or below zero) past which network checks are not run:
 *  the largest single network score (a block-list listing, DMARC reject) is a few points, so
 *  a mail this far out keeps its verdict whatever they say. */
export const NETWORK_SKIP_MARGIN = 20;

/** The whole network phase of one mail (block lists and SPF/DKIM/DMARC together, whatever
 *  as_dns_timeout says): agents wait DEFAULT_REQUEST_TIMEOUT_MS (90 s) for the daemon's whole
 *  answer and the scan before it may take max_scan_time (60 s by default), so 20 s keeps the
 *  sum under the agents' limit: a dead DNS server costs each mail at most this and the mail
 *  is classified without the network (fail soft), instead of timing out at the agent. */
export const NETWORK_PHASE_MAX_MS = 20_000;

/** The network checks, or none with a soft failure once NETWORK_PHASE_MAX_MS has passed. */
async function boundedNetworkChecks(run: () => Promise<{ reasons: SpamReason[]; softFailures: string[] }>): Promise<{ reasons: SpamReason[]; softFailures: string[] }> {
  let timer: NodeJS.Timeout | undefined;
  const budget = new Promise<{ reasons: SpamReason[]; softFailures: string[] }>((resolve) => {
    timer = setTimeout(() => resolve({ reasons: [], softFailures: [`network checks over their ${NETWORK_PHASE_MAX_MS / 1000} s budget`] }), NETWORK_PHASE_MAX_MS);
  });
  try {
    return await Promise.race([run(), budget]);
  } catch (e) {
    return { reasons: [], softFailures: [`network checks failed: ${(e as Error)?.message ?? String(e)}`] };
  } finally {
    clearTimeout(timer);
  }
}

/** What the engine is built from: the [global] anti-spam options, or a library caller's own. */
export interface SpamSettings {
  /** the Bayes database file (as_bayes_db) */
  bayesDb: string;
  /** rules files read after the built-in one (as_rules_file) */
  extraRules: string[];
  /** DNS servers (as_dns_servers; empty: the system's) and the per-check timeout */
  dnsServers: string[];
  dnsTimeoutSeconds: number;
  /** default network checks when a request names none (as_rbl_service, as_auth_enabled) */
  rbl: string[];
  auth: boolean;
}

export function spamSettingsOf(config: Config): SpamSettings {
  const extra = config.path("global", "as_rules_file");
  return {
    bayesDb: config.path("global", "as_bayes_db"),
    extraRules: extra ? [extra] : [],
    dnsServers: [...config.list("global", "as_dns_servers")],
    dnsTimeoutSeconds: config.int("global", "as_dns_timeout"),
    rbl: [...config.list("global", "as_rbl_service")],
    auth: config.bool("global", "as_auth_enabled"),
  };
}

export interface SpamEngineOptions {
  /** the daemon's configuration, or `settings` directly (the embedded library) */
  config?: Config;
  settings?: SpamSettings;
  /** one line per soft failure and per problem */
  log?: (line: string) => void;
  /** run DNS block lists and SPF/DKIM/DMARC (default true); the bench and tests turn it off */
  network?: boolean;
  /** read-only users (`bulwark spam check`) need not create the database */
  mustExist?: boolean;
  /** the store's wait for another process's write lock (bayes-store.ts) */
  busyTimeoutMs?: number;
}

export interface LocalSpamEngine extends SpamEngine {
  readonly rules: RuleSet;
  readonly store: BayesStore;
  /** classification without any network check (the bench's and `spam check --local` path) */
  classifyLocal(raw: Buffer): SpamResult;
  close(): void;
}

function statusOf(score: number, rules: RuleSet): SpamStatus {
  return score >= rules.required ? "spam" : score >= rules.probable ? "probable" : "ham";
}

const sum = (reasons: readonly SpamReason[]) => reasons.reduce((a, r) => a + r.score, 0);

export async function createSpamEngine(o: SpamEngineOptions): Promise<LocalSpamEngine> {
  const settings = o.settings ?? (o.config ? spamSettingsOf(o.config) : undefined);
  if (!settings) throw new TypeError("createSpamEngine needs a configuration or settings");
  const log = o.log ?? (() => {});
  const rules = loadRules([defaultRulesPath(), ...settings.extraRules]);
  const store = openBayesStore(settings.bayesDb, { mustExist: o.mustExist === true, ...(o.busyTimeoutMs !== undefined ? { busyTimeoutMs: o.busyTimeoutMs } : {}) });
  const network = o.network !== false;
  let resolver: DnsResolver | undefined;
  try {
    resolver = network ? createResolver({ servers: settings.dnsServers, timeoutSeconds: settings.dnsTimeoutSeconds }) : undefined;
  } catch (e) {
    store.close();
    throw e;
  }
  const defaults = { rbl: settings.rbl, auth: settings.auth };

  function local(raw: Buffer): { reasons: SpamReason[]; score: number } {
    const mail = parseMail(raw);
    const reasons = rules.evaluate(mail, raw);
    const bayes = bayesScore(features(mail), store.counts());
    if (bayes.reason) reasons.push(bayes.reason);
    return { reasons, score: sum(reasons) };
  }

  function result(reasons: SpamReason[], softFailures: string[] = []): SpamResult {
    const score = sum(reasons);
    return {
      status: statusOf(score, rules), score, required: rules.required, probable: rules.probable, reasons,
      ...(softFailures.length ? { softFailures } : {}),
    };
  }

  const engine: LocalSpamEngine = {
    rules,
    store,
    classifyLocal: (raw) => result(local(raw).reasons),
    async classify(raw: Buffer, ctx: SpamContext): Promise<SpamResult> {
      const l = local(raw);
      const checks = ctx.network ?? defaults;
      const decided = l.score >= rules.required + NETWORK_SKIP_MARGIN || l.score <= -NETWORK_SKIP_MARGIN;
      if (!resolver || decided || (checks.rbl.length === 0 && !checks.auth)) return result(l.reasons);
      // callers without an envelope (spamd, `bulwark spam check`) take the client from the
      // topmost Received field our MTA wrote
      const fromReceived = ctx.clientAddr ? undefined : clientFromReceived(raw);
      const full: SpamContext = { ...(fromReceived ?? {}), ...ctx };
      const net = await boundedNetworkChecks(() => networkChecks(raw, full, { resolver: resolver!, rblServices: checks.rbl, authEnabled: checks.auth, log }));
      for (const f of net.softFailures) log(`anti-spam: network check failed soft: ${f}`);
      return result([...l.reasons, ...net.reasons], net.softFailures);
    },
    async learn(raw: Buffer, cls: "spam" | "ham"): Promise<LearnOutcome> {
      return store.learn(messageDigest(raw), cls, features(parseMail(raw)));
    },
    async forget(raw: Buffer): Promise<LearnOutcome> {
      return store.forget(messageDigest(raw));
    },
    close: () => store.close(),
  };
  return engine;
}
