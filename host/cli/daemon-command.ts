/**
 * `bulwark daemon [--config FILE] [--foreground]`: run the daemon (host/daemon/daemon.ts).
 *
 * --foreground: run in this process, logging JSON lines (pino) to stdout (a service manager such
 *   as systemd captures it) and to syslog as [global] syslog_facility / syslog_class say
 *   (host/log/logger.ts; BULWARK_SYSLOG_SOCKET overrides /dev/log, "off" disables it). SIGTERM/SIGINT: stop the agents, remove the socket and the pid
 *   file, exit 0. SIGHUP: reload the configuration (a broken one is refused and logged, the old
 *   one stays), re-check the agents, reload the signatures.
 * Without it: start itself with --foreground as a detached process whose output goes to
 *   cache_dir/bulwark.log (host/daemon/background.ts), wait until it serves, and exit 0; if it
 *   fails to start, print what it logged and exit 2.
 * The configuration file is found as in host/daemon/config-file.ts (non-root without --config:
 * ./.bulwark/bulwark.cfg, created with local cache and signature folders when missing).
 * Exit codes: 0 stopped cleanly (or started in the background), 2 refused to start (bad
 * configuration, another daemon running, socket in use, ...).
 */
import { Command, Option } from "clipanion";
import { startInBackground } from "../daemon/background.js";
import { ensureConfigFile, resolveConfigFile } from "../daemon/config-file.js";
import { ConfigRefused, startDaemon } from "../daemon/daemon.js";
import { loadConfig } from "../config/load.js";
import { loggerFromConfig } from "../log/logger.js";

/** The log of last resort: one line per event on stderr, before a configuration is readable. */
export const stderrLog = (m: string) => process.stderr.write(`${new Date().toISOString()} bulwark[${process.pid}]: ${m}\n`);

/** Run the daemon in this process until SIGTERM/SIGINT or a SHUTDOWN request; the exit code. */
export async function runForeground(file: string, givenLog?: (m: string) => void): Promise<number> {
  // The structured logger: JSON lines on stdout (a service manager, or bulwark.log in the
  // background) plus syslog per [global] syslog_facility/syslog_class. A configuration with a
  // broken [global] gets no logger: startDaemon refuses it below, on stderr.
  const loaded = givenLog ? null : loadConfig(file);
  const logger = loaded && !loaded.globalErrors.length ? loggerFromConfig(loaded.config, { foreground: true }) : undefined;
  const log = givenLog ?? (logger ? (m: string) => logger.line(m) : stderrLog);
  let stop!: () => void;
  const stopped = new Promise<void>((r) => (stop = r));
  // Signals that arrive while the signatures load (seconds with a large set) must neither kill
  // the process (SIGHUP's default action) nor be lost: remember them and act once started.
  let early: "SIGHUP" | "SIGTERM" | null = null;
  const earlyHup = () => (early ??= "SIGHUP");
  const earlyTerm = () => (early = "SIGTERM");
  process.on("SIGHUP", earlyHup);
  process.on("SIGTERM", earlyTerm);
  process.on("SIGINT", earlyTerm);
  const dropEarly = () => {
    process.off("SIGHUP", earlyHup);
    process.off("SIGTERM", earlyTerm);
    process.off("SIGINT", earlyTerm);
  };
  let daemon;
  try {
    daemon = await startDaemon(file, log, () => stop(), { logger });
  } catch (e) {
    if (e instanceof ConfigRefused) for (const l of e.lines) process.stderr.write(`${l}\n`);
    else process.stderr.write(`ERROR: ${(e as Error).message}\n`);
    process.stderr.write(`bulwark: refusing to start\n`);
    dropEarly();
    await logger?.close();
    return 2;
  }
  const onHup = () => {
    log("SIGHUP received: reloading");
    void daemon.reload();
  };
  process.on("SIGHUP", onHup);
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  dropEarly();
  log(`ready: config ${file}, socket ${daemon.socketPath}, pid file ${daemon.pidFile}`);
  if (early === "SIGTERM") stop();
  else if (early === "SIGHUP") onHup();
  await stopped;
  log("stopping");
  process.off("SIGHUP", onHup);
  // A SIGHUP (default action: terminate) or a second SIGTERM/SIGINT while the agents stop (up to
  // AGENT_STOP_GRACE_MS) must not kill the daemon half-way, leaving its socket, pid file and a
  // hung agent behind: the stop is under way. Kept until the process exits (signal listeners
  // do not keep it alive).
  const whileStopping = (sig: NodeJS.Signals) => log(`${sig} received while stopping: ignored`);
  for (const sig of ["SIGHUP", "SIGTERM", "SIGINT"] as const) process.on(sig, whileStopping);
  await daemon.close();
  log("stopped");
  await logger?.close();
  return 0;
}

export class DaemonCommand extends Command {
  static paths = [["daemon"]];
  static usage = Command.Usage({
    description: "run the scanning daemon that the agents talk to",
    details: `
      Serves scan requests on daemon_socket_path and supervises the enabled resident agents (the [clamd] agent
      serves clamd's protocol on its listeners). Without --config (and not root) it uses ./.bulwark/bulwark.cfg,
      creating it on first start. Without --foreground it detaches, logs to cache_dir/bulwark.log and exits once
      the daemon serves (0) or failed to start (2). SIGTERM stops it, SIGHUP reloads the configuration and the
      signatures.
    `,
  });

  config = Option.String("--config", { description: "configuration file" });
  foreground = Option.Boolean("--foreground", false, { description: "stay in the foreground, logging JSON lines to stdout" });

  async execute(): Promise<number> {
    const file = resolveConfigFile(this.config);
    try {
      if (ensureConfigFile(file)) process.stderr.write(`bulwark: created the default configuration ${file}\n`);
    } catch (e) {
      process.stderr.write(`ERROR: cannot create ${file}: ${(e as Error).message}\n`);
      return 2;
    }
    return this.foreground ? runForeground(file) : startInBackground(file);
  }
}
