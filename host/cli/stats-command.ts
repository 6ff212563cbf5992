/**
 * `bulwark stats`: show or reset the per-agent statistics (SPEC §2) kept in the state file.
 *   bulwark stats [--file FILE | --config FILE] [--agent NAME | NAME] [--json]
 *   bulwark stats [--file FILE | --config FILE] --reset [NAME]   (also --reset=NAME, --reset --agent NAME)
 * The file: --file, else cache_dir/stats.json of --config, else $BULWARK_STATS, else
 * cache_dir/stats.json of the configuration found as the daemon finds it (state-location.ts).
 * Showing never modifies the file (a corrupt one is reported, exit 2, and left for the daemon,
 * which keeps it aside). Resetting rewrites it atomically.
 * Exit code: 0 done, 2 usage error, unknown agent, corrupt or unreadable/unwritable file.
 */
import { Command, Option } from "clipanion";
import { COUNTER_NAMES, type Counters, STATS_AGENTS, type StatsAgent, Statistics, UnknownAgentError, assertAgent, zeroCounters } from "../stats/counters.js";
import { SYSTEM_STATS_FILE, openStatistics } from "../stats/persist.js";
import { CorruptStateError, readStateFile } from "../stats/state-file.js";
import { formatStatsTable } from "../stats/table.js";
import { StateLocationError, locateState } from "./state-location.js";

class StatsUsageError extends Error {}

export class StatsCommand extends Command {
  static paths = [["stats"]];

  static usage = Command.Usage({
    description: "show or reset the per-agent statistics",
    details: `
      Scanned, Cleaned, Infected and Not scanned count objects (a mail with two attachments is three);
      Accepted, Deferred, Discarded and Rejected count messages. Each agent counts since its \`Since\` time.

      The file is \`--file FILE\`, else the daemon's: \`stats.json\` in the cache_dir of \`--config FILE\`; without either,
      $BULWARK_STATS, else \`stats.json\` in the cache_dir of the configuration \`bulwark daemon\` reads ($BULWARK_CONFIG,
      else /etc/bulwark/bulwark.cfg for root and ./.bulwark/bulwark.cfg for anyone else). Without a readable
      configuration it is ${SYSTEM_STATS_FILE}; an unreadable \`--config FILE\` is an error.
      The daemon saves the file every few seconds; \`--reset\` rewrites it and is meant for a stopped daemon (a running
      one overwrites the file with its own counts at its next save).
      Exit code: 0 done, 2 error.
    `,
    examples: [
      ["Show every agent and the total", "$0 stats"],
      ["Show one agent as JSON", "$0 stats --agent smtp --json"],
      ["Show one agent (same as --agent smtp)", "$0 stats smtp"],
      ["Reset one agent's counters", "$0 stats --reset smtp"],
    ],
  });

  file = Option.String("--file", { description: "statistics state file (default: $BULWARK_STATS, else cache_dir/stats.json of the configuration)" });
  config = Option.String("--config", { description: "configuration whose cache_dir holds stats.json (default: as for `bulwark daemon`)" });
  agent = Option.String("--agent", { description: "show only this agent" });
  json = Option.Boolean("--json", false, { description: "print JSON instead of a table" });
  reset = Option.String("--reset", { tolerateBoolean: true, description: "zero the counters of AGENT (default: every agent)" });
  // `bulwark stats smtp` is `--agent smtp`; clipanion also reads `--reset smtp` as the flag plus this
  positionalAgent = Option.String({ required: false, name: "agent" });

  async execute(): Promise<number> {
    try {
      const where = locateState({ explicit: this.file, explicitFlag: "--file", envName: "BULWARK_STATS", configOption: this.config, leaf: "stats.json", fallback: SYSTEM_STATS_FILE });
      if (where.note) this.context.stderr.write(`${where.note}\n`);
      const file = where.path;
      // the agent may be named by --agent, by a trailing argument, or by --reset=AGENT; all must agree
      const named = [typeof this.reset === "string" ? this.reset : undefined, this.positionalAgent, this.agent].filter((a) => a !== undefined);
      if (new Set(named).size > 1) throw new StatsUsageError(`two different agents named: ${named.join(", ")}`);
      const agent = named[0] === undefined ? undefined : assertAgent(named[0]);
      if (this.reset !== undefined) return await this.doReset(file, agent);
      return this.doShow(file, agent);
    } catch (e) {
      if (!(e instanceof StatsUsageError || e instanceof UnknownAgentError || e instanceof StateLocationError)) throw e;
      this.context.stderr.write(`ERROR: ${e.message}\n`);
      return 2;
    }
  }

  private async doReset(file: string, agent: StatsAgent | undefined): Promise<number> {
    if (this.json) throw new StatsUsageError("--json applies to showing, not to --reset");
    const stats = openStatistics(file, { onProblem: (m) => this.context.stderr.write(`WARNING: ${m}\n`) });
    stats.reset(agent);
    try {
      await stats.close();
    } catch (e) {
      throw new StatsUsageError((e as Error).message);
    }
    this.context.stdout.write(`reset the statistics of ${agent ?? "every agent"} in ${file}\n`);
    return 0;
  }

  private doShow(file: string, agent: StatsAgent | undefined): number {
    let initial;
    try {
      initial = readStateFile(file);
    } catch (e) {
      if (e instanceof CorruptStateError) {
        throw new StatsUsageError(`${file} is corrupt: ${e.message} (the daemon keeps it aside and restarts from zero; \`bulwark stats --reset\` does the same now)`);
      }
      throw new StatsUsageError(`${file}: cannot read: ${(e as Error).message}`);
    }
    if (initial === null) this.context.stderr.write(`no statistics in ${file} yet: every counter is zero\n`);
    const snap = new Statistics({ initial: initial ?? undefined }).snapshot();
    const agents = agent ? [agent] : STATS_AGENTS;
    let total: Counters = snap.total;
    if (agent) {
      total = zeroCounters();
      for (const k of COUNTER_NAMES) total[k] = snap.agents[agent][k];
    }
    if (this.json) {
      const shown = Object.fromEntries(agents.map((a) => [a, snap.agents[a]]));
      this.context.stdout.write(`${JSON.stringify({ file, takenAt: snap.takenAt, agents: shown, total }, null, 2)}\n`);
    } else {
      this.context.stdout.write(formatStatsTable(agents.map((a) => [a, snap.agents[a]]), agent ? undefined : total));
    }
    return 0;
  }
}
