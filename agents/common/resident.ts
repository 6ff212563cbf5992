/**
 * The life cycle every resident agent process shares (the daemon's supervisor starts them as
 * `node ENTRY --config FILE`, host/daemon/supervisor.ts): read the configuration of its section,
 * say "ready" over the IPC channel once it listens, and stop on SIGTERM/SIGINT or when the
 * channel closes (the manager is gone, even killed with SIGKILL: the agent must free its ports
 * for the next one). Exit codes: 0 stopped, 2 cannot run (bad arguments or configuration,
 * cannot listen); the supervisor logs the agent's stderr.
 */
import fs from "node:fs";
import type { AgentSection } from "../../host/config/schema.js";
import { type AgentConfig, loadAgentConfig, splitConfigArg } from "./agent-config.js";

export type AgentLog = (m: string) => void;

/** One line per event on stderr, which the supervisor relays into the daemon's log. */
export const agentLog: AgentLog = (m) => process.stderr.write(`${m}\n`);

/** The agent's configuration from `--config FILE`, or null after logging why it cannot run. */
export function loadResidentConfig(argv: string[], agent: AgentSection, log: AgentLog): AgentConfig | null {
  const args = splitConfigArg(argv);
  if (args.error || args.rest.length) {
    log(`error: ${args.error ?? `unexpected argument ${JSON.stringify(args.rest[0])}`}; usage: ${agent} agent --config FILE`);
    return null;
  }
  const ac = loadAgentConfig(args.config, agent);
  if ("error" in ac) {
    log(`error: ${ac.error}`);
    return null;
  }
  return ac;
}

/** A listener of a resident agent: closing it ends its connections. */
export interface AgentListener {
  readonly address: { path: string } | { host: string; port: number };
  close(): Promise<void>;
}

/** The agent's stop, run once: close every listener, make sure the unix socket file is gone
 *  (a clean stop leaves no file for the next start to take over), exit with `code`. */
export function stopListeners(servers: readonly AgentListener[], unixPath: string): (code: number) => Promise<void> {
  let stopping = false;
  return async (code) => {
    if (stopping) return;
    stopping = true;
    await Promise.allSettled(servers.map((s) => s.close()));
    if (unixPath && servers.some((s) => "path" in s.address)) fs.rmSync(unixPath, { force: true });
    process.exit(code);
  };
}

/** Listening: stop on SIGTERM/SIGINT or when the manager goes away, then tell it "ready". */
export function serveUntilStopped(stop: (code: number) => void, log: AgentLog): void {
  process.once("SIGTERM", () => stop(0));
  process.once("SIGINT", () => stop(0));
  process.once("disconnect", () => {
    log("the daemon is gone; stopping");
    stop(0);
  });
  process.send?.({ type: "ready" });
}

/** Run an agent's main: a code >= 0 exits with it, a negative one keeps serving; a crash is 2. */
export function runResidentAgent(main: (argv: string[]) => Promise<number>, log: AgentLog = agentLog): void {
  main(process.argv.slice(2)).then(
    (code) => {
      if (code >= 0) process.exit(code);
    },
    (e: Error) => {
      log(`error: ${e?.stack ?? e}`);
      process.exit(2);
    },
  );
}
