/**
 * Per-agent statistics (SPEC §2), in memory: what each agent scanned and decided since its
 * counters were last reset. Persistence lives in persist.ts; this file only counts.
 *
 * Two units, as the reference product counts them:
 *   - OBJECTS: scanned, cleaned, infected, notScanned. A mail with two attachments is three
 *     objects (the mail and each attachment), so one infected attachment in it reads
 *     "scanned 3, infected 1".
 *   - MESSAGES: accepted, deferred, discarded, rejected. One decision per mail, whatever it holds.
 *
 * Counters are plain numbers that saturate at Number.MAX_SAFE_INTEGER instead of losing
 * precision (past 2^53 `n + 1 === n` and counts would silently freeze at a wrong value anyway;
 * saturation makes the ceiling explicit and keeps every stored value an exact integer).
 */
import { AGENT_SECTIONS, type AgentSection } from "../config/schema.js";
import type { Verdict } from "../scan/verdict.js";

/** Agents that keep statistics: every agent section of the configuration (SPEC §3), which
 *  includes [clamd] (the clamd-protocol listener counts like any agent). */
export const STATS_AGENTS: readonly AgentSection[] = AGENT_SECTIONS;
export type StatsAgent = AgentSection;

/** Counter names in display order (the `bulwark stats` table and --json use this order). */
export const COUNTER_NAMES = [
  "scanned", "cleaned", "infected", "notScanned", "accepted", "deferred", "discarded", "rejected",
] as const;
export type CounterName = (typeof COUNTER_NAMES)[number];
export type Counters = Record<CounterName, number>;

/** One agent's counters plus when they started counting (creation or last reset), ISO 8601 UTC. */
export interface AgentStats extends Counters {
  since: string;
}

export interface StatsSnapshot {
  /** when the snapshot was taken, ISO 8601 UTC */
  takenAt: string;
  /** every agent of STATS_AGENTS, in that order */
  agents: Record<StatsAgent, AgentStats>;
  /** the sum over all agents (saturating) */
  total: Counters;
}

/** The actions of the Handle Object Policy (SPEC §4) that end a message's handling. */
export const DECISION_ACTIONS = ["accept", "defer", "discard", "reject"] as const;
export type DecisionAction = (typeof DECISION_ACTIONS)[number];

const DECISION_COUNTER: Record<DecisionAction, CounterName> = {
  accept: "accepted",
  defer: "deferred",
  discard: "discarded",
  reject: "rejected",
};

export class UnknownAgentError extends Error {}

export function isStatsAgent(name: string): name is StatsAgent {
  return (STATS_AGENTS as readonly string[]).includes(name);
}

export function assertAgent(name: string): StatsAgent {
  if (!isStatsAgent(name)) {
    throw new UnknownAgentError(`unknown agent ${JSON.stringify(name)} (known: ${STATS_AGENTS.join(", ")})`);
  }
  return name;
}

/** a + b, pinned at Number.MAX_SAFE_INTEGER. Both operands must be safe non-negative integers;
 *  their float sum is then >= 2^53 exactly when the true sum exceeds the ceiling. */
export function saturatingAdd(a: number, b: number): number {
  return Math.min(Number.MAX_SAFE_INTEGER, a + b);
}

export function zeroCounters(): Counters {
  return { scanned: 0, cleaned: 0, infected: 0, notScanned: 0, accepted: 0, deferred: 0, discarded: 0, rejected: 0 };
}

/**
 * How one scan counts, in objects. The rules:
 *   scanned    = verdict.objects: the input plus every member the scanner extracted and looked
 *                at (whether or not looking at it completed).
 *   infected   = the number of DISTINCT detection paths: an object matching two signatures is one
 *                infected object; a zip member and the zip's own bytes matching are two.
 *   cleaned    = when `cleaned` is true (the cleaner removed every infected part, the policy's
 *                meaning of cleaned, host/policy/actions.ts), every infected object was removed,
 *                so cleaned = infected; otherwise 0. `cleaned` with a status other than
 *                "infected" is a caller bug and throws.
 *   notScanned = the number of DISTINCT notScanned paths (a part hitting two limits is one
 *                object). A verdict with status "error" (the input could not be read at all)
 *                lists no such path; its input then counts as one object not scanned.
 * An object can be both scanned and notScanned (looked at, but not completely): the counters
 * answer different questions and are not meant to add up.
 */
export function objectCounts(verdict: Verdict, cleaned: boolean): Pick<Counters, "scanned" | "cleaned" | "infected" | "notScanned"> {
  const objects = verdict?.objects;
  if (!Number.isSafeInteger(objects) || objects < 0) {
    throw new TypeError(`verdict.objects must be a non-negative integer, got ${String(objects)}`);
  }
  if (!Array.isArray(verdict.detections) || !Array.isArray(verdict.notScanned)) {
    throw new TypeError("verdict.detections and verdict.notScanned must be arrays");
  }
  if (typeof cleaned !== "boolean") throw new TypeError("cleaned must be a boolean");
  if (cleaned && verdict.status !== "infected") throw new TypeError(`cleaned, but verdict status is ${String(verdict.status)}`);
  const infected = new Set(verdict.detections.map((d) => d.path)).size;
  let notScanned = new Set(verdict.notScanned.map((n) => n.path)).size;
  if (verdict.status === "error" && notScanned === 0) notScanned = 1;
  return { scanned: objects, cleaned: cleaned ? infected : 0, infected, notScanned };
}

export interface StatisticsOptions {
  /** milliseconds since the epoch; injectable for tests (default Date.now) */
  now?: () => number;
  /** counters to start from (a loaded state); agents missing here start at zero, since now */
  initial?: Partial<Record<StatsAgent, AgentStats>>;
}

export class Statistics {
  protected readonly now: () => number;
  private readonly agents = new Map<StatsAgent, AgentStats>();

  constructor(options: StatisticsOptions = {}) {
    this.now = options.now ?? Date.now;
    for (const agent of STATS_AGENTS) {
      const init = options.initial?.[agent];
      this.agents.set(agent, init ? { ...init } : this.fresh());
    }
  }

  /** Count one scan of one input by `agent` (rules: objectCounts above). */
  recordScan(agent: string, verdict: Verdict, cleaned: boolean): void {
    const a = assertAgent(agent);
    const add = objectCounts(verdict, cleaned); // validates before anything changes
    this.checkWritable();
    const s = this.agents.get(a)!;
    for (const [k, n] of Object.entries(add) as Array<[CounterName, number]>) s[k] = saturatingAdd(s[k], n);
    this.changed();
  }

  /** Count one message's final action by `agent`: one message, whatever it contained. */
  recordDecision(agent: string, action: DecisionAction): void {
    const a = assertAgent(agent);
    // own keys only: "toString" must not find Object.prototype's
    const counter = Object.hasOwn(DECISION_COUNTER, action) ? DECISION_COUNTER[action] : undefined;
    if (!counter) {
      throw new TypeError(`unknown action ${JSON.stringify(action)} (known: ${DECISION_ACTIONS.join(", ")})`);
    }
    this.checkWritable();
    const s = this.agents.get(a)!;
    s[counter] = saturatingAdd(s[counter], 1);
    this.changed();
  }

  /** A deep copy of every agent's counters plus their total. */
  snapshot(): StatsSnapshot {
    const agents = {} as Record<StatsAgent, AgentStats>;
    const total = zeroCounters();
    for (const [agent, s] of this.agents) {
      agents[agent] = { ...s };
      for (const k of COUNTER_NAMES) total[k] = saturatingAdd(total[k], s[k]);
    }
    return { takenAt: new Date(this.now()).toISOString(), agents, total };
  }

  /** Zero one agent's counters (or every agent's), restarting its `since`. */
  reset(agent?: string): void {
    const targets = agent === undefined ? STATS_AGENTS : [assertAgent(agent)];
    this.checkWritable();
    for (const a of targets) this.agents.set(a, this.fresh());
    this.changed();
  }

  /** Hooks for persist.ts: refuse changes (closed), and learn about them (schedule a save). */
  protected checkWritable(): void {}
  protected changed(): void {}

  private fresh(): AgentStats {
    return { ...zeroCounters(), since: new Date(this.now()).toISOString() };
  }
}
