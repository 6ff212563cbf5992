/**
 * The supervisor of the resident agents (host/daemon/resident-agents.ts): each enabled one runs
 * as its own process, `node ENTRY --config FILE`, with an IPC channel to the manager. The agent
 * says {type:"ready"} on it once it listens; it exits when the channel closes, so a manager
 * killed with SIGKILL does not leave agents holding its ports.
 *
 * An agent that exits while it is wanted is restarted after a back-off that doubles per rapid
 * failure (an exit sooner than STABLE_UPTIME_MS after its start), from RESTART_BACKOFF_INITIAL_MS
 * up to RESTART_BACKOFF_CAP_MS. After MAX_RAPID_FAILURES rapid failures in a row the supervisor
 * gives up on that agent with an error and leaves it stopped; the manager and the other agents
 * go on. `reconcile(config)` (at start and on SIGHUP) starts newly enabled agents, stops
 * disabled ones, restarts those whose configuration changed and retries given-up ones.
 * `stop()` sends SIGTERM and, after AGENT_STOP_GRACE_MS, SIGKILL.
 *
 * The agents' stdout and stderr lines are relayed to the manager's log, prefixed with the agent
 * and its pid (an `error:`/`warning:` class prefix stays first).
 */
import { type ChildProcess, spawn } from "node:child_process";
import type { Config } from "../config/load.js";
import type { AgentSection } from "../config/schema.js";
import { packageFile } from "../paths.js";
import { RESIDENT_AGENTS } from "./resident-agents.js";

/** First restart delay: long enough not to spin on an agent that dies at once, short enough
 *  that clients of a crashed agent barely notice. */
export const RESTART_BACKOFF_INITIAL_MS = 250;
/** Each further rapid failure doubles the delay. */
export const RESTART_BACKOFF_FACTOR = 2;
/** Longest delay between restarts; an agent is never left down longer than this by back-off. */
export const RESTART_BACKOFF_CAP_MS = 30_000;
/** An agent that ran this long before exiting was healthy: its failure count and back-off start
 *  over. Starting an agent takes well under a second; 10 s separates "dies at start" from
 *  "crashed after serving". */
export const STABLE_UPTIME_MS = 10_000;
/** Rapid failures in a row before giving up. With the delays above, 5 failures take about 4 s:
 *  enough to ride out a port held briefly by a dying predecessor, few enough not to fill the
 *  log with a configuration mistake. SIGHUP tries again. */
export const MAX_RAPID_FAILURES = 5;
/** Time an agent gets between SIGTERM and SIGKILL; its listeners close at once, and a clamd
 *  request in flight is bounded by the scan time limit anyway, so a few seconds suffice. */
export const AGENT_STOP_GRACE_MS = 5_000;
/** How long start() waits for the agents' first "ready" before the daemon reports itself ready
 *  anyway (a slow agent is then still starting, not failed). */
export const AGENT_READY_TIMEOUT_MS = 15_000;
/** Longest relayed log line; a runaway child cannot make the manager buffer without bound. */
export const MAX_AGENT_LOG_LINE = 4096;

type State = "starting" | "running" | "backoff" | "stopping" | "stopped" | "given-up";

interface Managed {
  agent: AgentSection;
  state: State;
  child: ChildProcess | null;
  startedAt: number;
  /** rapid failures in a row */
  failures: number;
  timer: NodeJS.Timeout | null;
  /** the agent's configuration when started: a change restarts it */
  fingerprint: string;
  /** resolved at the next ready, exit or give-up: start() waits on it */
  settled: Promise<void>;
  settle: () => void;
  exited: Promise<void>;
}

export interface SupervisorOptions {
  configFile: string;
  log: (m: string) => void;
  /** entry file of an agent (default: RESIDENT_AGENTS in the package's dist/) */
  entryOf?: (agent: AgentSection) => string | undefined;
  /** extra environment for the agents (default: the manager's) */
  env?: NodeJS.ProcessEnv;
}

export interface AgentStatus {
  agent: AgentSection;
  state: State;
  pid: number | undefined;
  failures: number;
}

function fingerprint(config: Config, agent: AgentSection): string {
  return JSON.stringify([config.section(agent), config.path("global", "daemon_socket_path")]);
}

export class Supervisor {
  private readonly agents = new Map<AgentSection, Managed>();
  private stopping: Promise<void> | null = null;
  private readonly entryOf: (agent: AgentSection) => string | undefined;

  constructor(private readonly opts: SupervisorOptions) {
    this.entryOf = opts.entryOf ?? ((a) => (RESIDENT_AGENTS[a] ? packageFile(RESIDENT_AGENTS[a]!) : undefined));
  }

  status(): AgentStatus[] {
    return [...this.agents.values()].map((m) => ({ agent: m.agent, state: m.state, pid: m.child?.pid, failures: m.failures }));
  }

  /** Start the enabled agents and wait (bounded) until each is ready or has failed once. */
  async start(config: Config): Promise<void> {
    await this.reconcile(config);
    const waits = [...this.agents.values()].map((m) => m.settled);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((r) => (timer = setTimeout(r, AGENT_READY_TIMEOUT_MS)));
    await Promise.race([Promise.all(waits), timeout]);
    clearTimeout(timer);
  }

  /** Make the running set match `config` (see the file comment). */
  async reconcile(config: Config): Promise<void> {
    if (this.stopping) return;
    const work: Promise<void>[] = [];
    for (const agent of Object.keys(RESIDENT_AGENTS) as AgentSection[]) {
      const wanted = config.bool(agent, "agent_enabled");
      const m = this.agents.get(agent);
      const fp = fingerprint(config, agent);
      if (!wanted) {
        if (m && m.state !== "stopped") {
          this.opts.log(`agent ${agent}: disabled; stopping it`);
          work.push(this.stopOne(m));
        }
        continue;
      }
      // after `m` has stopped, start it again unless someone else did (or the daemon stops)
      const relaunch = () => void (this.stopping || this.agents.get(agent) !== m || this.launch(agent, fp, 0));
      if (!m || m.state === "stopped") {
        this.launch(agent, fp, 0);
      } else if (m.state === "given-up") {
        this.opts.log(`agent ${agent}: trying again after a reload`);
        this.launch(agent, fp, 0);
      } else if (m.state === "stopping") {
        // disabled by an earlier reload and still on its way out: start it once it is gone
        work.push(m.exited.then(relaunch));
      } else if (m.fingerprint !== fp) {
        this.opts.log(`agent ${agent}: configuration changed; restarting it`);
        work.push(this.stopOne(m).then(relaunch));
      }
    }
    await Promise.all(work);
  }

  /** Stop every agent: SIGTERM, SIGKILL after the grace period. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= Promise.all([...this.agents.values()].map((m) => this.stopOne(m))).then(() => {});
    return this.stopping;
  }

  private launch(agent: AgentSection, fp: string, failures: number): void {
    const entry = this.entryOf(agent);
    let settle!: () => void;
    const settled = new Promise<void>((r) => (settle = r));
    let exitedResolve!: () => void;
    const exited = new Promise<void>((r) => (exitedResolve = r));
    let ended = false;
    const endLaunch = (how: string) => {
      // a failed spawn can report both "error" and "exit": handle the end of this launch once
      if (ended) return;
      ended = true;
      exitedResolve();
      this.onExit(m, how);
    };
    const m: Managed = { agent, state: "starting", child: null, startedAt: Date.now(), failures, timer: null, fingerprint: fp, settled, settle, exited };
    this.agents.set(agent, m);
    if (!entry) {
      this.opts.log(`error: agent ${agent}: no entry file is registered for it`);
      m.state = "given-up";
      settle();
      exitedResolve();
      return;
    }
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, [entry, "--config", this.opts.configFile], {
        stdio: ["ignore", "pipe", "pipe", "ipc"],
        env: this.opts.env ?? process.env,
      });
    } catch (e) {
      endLaunch(`could not be started: ${(e as Error).message}`);
      return;
    }
    m.child = child;
    const tag = () => `${agent}[${child.pid ?? "?"}]`;
    relayLines(child.stdout!, (l) => this.opts.log(prefixLine(tag(), l)));
    relayLines(child.stderr!, (l) => this.opts.log(prefixLine(tag(), l)));
    child.on("message", (msg: unknown) => {
      if ((msg as { type?: unknown })?.type === "ready" && m.state === "starting") {
        m.state = "running";
        this.opts.log(`agent ${agent}: ready (pid ${child.pid})`);
        m.settle();
      }
    });
    child.on("error", (e) => {
      // spawn failure (ENOENT, EAGAIN) arrives here and is followed by "close"/"exit" or nothing
      if (child.pid === undefined) endLaunch(`could not be started: ${e.message}`);
    });
    child.on("exit", (code, signal) => endLaunch(signal ? `was killed by ${signal}` : `exited with code ${code}`));
    this.opts.log(`agent ${agent}: started (pid ${child.pid})`);
  }

  private onExit(m: Managed, how: string): void {
    if (m.timer) clearTimeout(m.timer);
    m.timer = null;
    m.child = null;
    m.settle();
    if (m.state === "stopping" || m.state === "stopped" || m.state === "given-up" || this.stopping) {
      m.state = "stopped";
      return;
    }
    if (this.agents.get(m.agent) !== m) return; // replaced meanwhile
    const uptime = Date.now() - m.startedAt;
    const failures = uptime >= STABLE_UPTIME_MS ? 1 : m.failures + 1;
    m.failures = failures;
    if (failures >= MAX_RAPID_FAILURES) {
      m.state = "given-up";
      this.opts.log(`error: agent ${m.agent}: ${how}; it failed ${failures} times in a row, each within ${STABLE_UPTIME_MS / 1000} s of its start; giving up on it (fix the cause, then send SIGHUP)`);
      return;
    }
    const delay = Math.min(RESTART_BACKOFF_INITIAL_MS * RESTART_BACKOFF_FACTOR ** (failures - 1), RESTART_BACKOFF_CAP_MS);
    m.state = "backoff";
    this.opts.log(`error: agent ${m.agent}: ${how}; restarting it in ${delay} ms`);
    m.timer = setTimeout(() => {
      m.timer = null;
      if (this.stopping || m.state !== "backoff" || this.agents.get(m.agent) !== m) return;
      this.launch(m.agent, m.fingerprint, failures);
    }, delay);
  }

  private async stopOne(m: Managed): Promise<void> {
    if (m.timer) clearTimeout(m.timer);
    m.timer = null;
    const child = m.child;
    if (!child || m.state === "stopped" || m.state === "given-up" || m.state === "backoff") {
      m.state = "stopped";
      return;
    }
    m.state = "stopping";
    child.kill("SIGTERM");
    const kill = setTimeout(() => {
      this.opts.log(`warning: agent ${m.agent} (pid ${child.pid}) did not stop within ${AGENT_STOP_GRACE_MS} ms; killing it`);
      child.kill("SIGKILL");
    }, AGENT_STOP_GRACE_MS);
    await m.exited;
    clearTimeout(kill);
    m.state = "stopped";
  }
}

function prefixLine(tag: string, line: string): string {
  const m = /^(error|warning): (.*)$/s.exec(line);
  return m ? `${m[1]}: ${tag}: ${m[2]}` : `${tag}: ${line}`;
}

/** Call `onLine` per line of a text stream, cutting lines at MAX_AGENT_LOG_LINE characters. */
function relayLines(stream: NodeJS.ReadableStream, onLine: (l: string) => void): void {
  let buf = "";
  stream.setEncoding("utf8");
  stream.on("data", (d: string) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      onLine(buf.slice(0, nl).slice(0, MAX_AGENT_LOG_LINE));
      buf = buf.slice(nl + 1);
    }
    if (buf.length > MAX_AGENT_LOG_LINE) {
      onLine(buf.slice(0, MAX_AGENT_LOG_LINE));
      buf = "";
    }
  });
  stream.on("end", () => {
    if (buf) onLine(buf);
    buf = "";
  });
}
