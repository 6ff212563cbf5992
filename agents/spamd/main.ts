/**
 * The [spamd] agent: SpamAssassin's spamd protocol for spamc and other spamd clients (PING,
 * CHECK, SYMBOLS, REPORT, REPORT_IFSPAM, SKIP, PROCESS, HEADERS, TELL), run by the daemon's
 * supervisor as `node dist/agents/spamd/main.js --config FILE`.
 * Talks to: spamd clients on [spamd] socket_path and on listen_addr:listen_port (the protocol
 *   has no authentication: keep these local; TELL trains the filter, so it is refused unless
 *   allow_tell = yes); the manager on daemon_socket_path, with one zBWSPAM request per checked
 *   message and one zBWLEARN per TELL; its parent over the IPC channel ("ready" once it listens).
 * Reads: the configuration. Holds each message in memory while it is checked (at most
 *   max_file_size, charged to the process's stream budget).
 * Writes: its unix socket file (removed on exit) and log lines on stderr (the supervisor relays
 *   them into the daemon's log). Nothing else: PROCESS/HEADERS marking is done in memory.
 * On failure: a request the manager cannot answer gets spamd's temporary-failure line
 *   (`SPAMD/1.0 69|75 ...`; `spamc -x` exits 74 and the MTA retries), never a verdict. A bad
 *   configuration or a listener that cannot be opened exits 2; the supervisor restarts it with
 *   back-off. SIGTERM/SIGINT or a closed IPC channel closes the listeners and exits 0.
 */
import { startSpamdServer, type SpamdServer } from "../../host/spamd/server.js";
import { agentLog, loadResidentConfig, runResidentAgent, serveUntilStopped, stopListeners } from "../common/resident.js";
import { RemoteSpamEngine } from "./remote-engine.js";

const log = agentLog;

async function main(argv: string[]): Promise<number> {
  const ac = loadResidentConfig(argv, "spamd", log);
  if (!ac) return 2;
  const { config, socketPath: daemonSocket } = ac;
  const unixPath = config.path("spamd", "socket_path");
  const port = config.int("spamd", "listen_port");
  if (!unixPath && port === 0) {
    log("error: [spamd] has neither socket_path nor listen_port; nothing to listen on");
    return 2;
  }
  const backend = new RemoteSpamEngine({ socketPath: daemonSocket, subjectTemplate: () => config.str("spamd", "as_eml_subject_template") });
  const common = {
    backend,
    log,
    maxBody: config.int("global", "max_file_size"),
    allowTell: config.bool("spamd", "allow_tell"),
  };
  const servers: SpamdServer[] = [];
  // Closing the unix listener removes its file (as real spamd's does): spamc -U then exits 70
  // (EX_SOFTWARE) before connecting, which an MTA's pipe bounces; the README says to give MTAs
  // the TCP listener with spamc -x -X (75, retry later, while nobody listens).
  const stop = stopListeners(servers, unixPath);
  try {
    if (unixPath) servers.push(await startSpamdServer({ ...common, listen: { path: unixPath } }));
    if (port !== 0) servers.push(await startSpamdServer({ ...common, listen: { host: config.str("spamd", "listen_addr"), port } }));
  } catch (e) {
    log(`error: cannot listen: ${(e as Error).message}`);
    await Promise.allSettled(servers.map((s) => s.close()));
    return 2;
  }
  if (common.allowTell) log("warning: [spamd] allow_tell = yes: any client that can connect may train the filter");
  serveUntilStopped((code) => void stop(code), log);
  return -1; // keep serving
}

runResidentAgent(main, log);
