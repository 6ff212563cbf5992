/**
 * The [clamd] agent: clamd's protocol for clamdscan, amavisd-new, rspamd and other clamd
 * clients, run by the daemon's supervisor as `node dist/agents/clamd/main.js --config FILE`.
 * Talks to: clamd clients on [clamd] socket_path and on listen_addr:listen_port (clamd's
 *   protocol has no authentication: keep these local); the manager on daemon_socket_path, with
 *   one zBWSCAN request per scanned object and plain zRELOAD / zSHUTDOWN when a client sends
 *   RELOAD / SHUTDOWN; its parent over the IPC channel (it says "ready" once it listens).
 * Reads: the configuration, and the files that SCAN/CONTSCAN/MULTISCAN/ALLMATCHSCAN name, with
 *   this process's permissions: this is the network-facing process, so a client reads files at
 *   its trust level, never the manager's. File contents, and INSTREAM chunks as they arrive, are
 *   streamed to the manager (never held whole here).
 * Writes: its unix socket file (removed on exit) and log lines on stderr (the supervisor relays
 *   them into the daemon's log). Nothing else.
 * On failure: a scan the manager cannot answer is replied `... ERROR` (never OK). A bad
 *   configuration or a listener that cannot be opened exits 2; the supervisor restarts it with
 *   back-off and gives up after repeated failures. SIGTERM/SIGINT or a closed IPC channel (the
 *   manager is gone) closes the listeners and exits 0.
 */
import net from "node:net";
import { startClamdServer, type ClamdServer } from "../../host/clamd/server.js";
import { agentLog, loadResidentConfig, runResidentAgent, serveUntilStopped, stopListeners } from "../common/resident.js";
import { RemoteScanner } from "./remote-scanner.js";

/** Added to max_scan_time for the longest silence of the manager on one request: the scan may
 *  take max_scan_time plus the pool watchdog's grace (5 s), and a request may wait in the
 *  manager's queue behind others; 30 s covers both without letting a lost request hang. */
const REPLY_MARGIN_MS = 30_000;
/** Time for a zRELOAD / zSHUTDOWN to be delivered to the manager. */
const FORWARD_TIMEOUT_MS = 5_000;

const log = agentLog;

/** Send a one-line command (RELOAD, SHUTDOWN) to the manager; resolves when it answered or
 *  closed, rejects when it cannot be reached. */
function forward(socketPath: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.createConnection({ path: socketPath });
    let got = "";
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no answer within ${FORWARD_TIMEOUT_MS} ms`));
    }, FORWARD_TIMEOUT_MS);
    sock.on("connect", () => sock.write(`z${command}\0`));
    sock.on("data", (d) => (got += d.toString("latin1")));
    sock.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    sock.on("close", () => {
      clearTimeout(timer);
      resolve(got.replace(/\0$/, ""));
    });
  });
}

async function main(argv: string[]): Promise<number> {
  const ac = loadResidentConfig(argv, "clamd", log);
  if (!ac) return 2;
  const { config, socketPath: daemonSocket } = ac;
  const scanner = new RemoteScanner(daemonSocket, "clamd", config.int("global", "max_scan_time") + REPLY_MARGIN_MS);
  const unixPath = config.path("clamd", "socket_path");
  const port = config.int("clamd", "listen_port");
  const servers: ClamdServer[] = [];
  const stop = stopListeners(servers, unixPath);
  const common = {
    scanner,
    log,
    streamMaxLength: config.int("clamd", "stream_max_length"),
    onReload: () => {
      forward(daemonSocket, "RELOAD").then(
        () => log("RELOAD forwarded to the daemon"),
        (e: Error) => log(`error: cannot forward RELOAD to the daemon: ${e.message}`),
      );
    },
    onShutdown: () => {
      // clamd's SHUTDOWN stops the whole daemon; it stops this agent in turn
      forward(daemonSocket, "SHUTDOWN").then(
        () => log("SHUTDOWN forwarded to the daemon"),
        (e: Error) => {
          log(`error: cannot forward SHUTDOWN to the daemon: ${e.message}`);
          void stop(0);
        },
      );
    },
  };

  if (!unixPath && port === 0) {
    log("error: [clamd] has neither socket_path nor listen_port; nothing to listen on");
    return 2;
  }
  try {
    if (unixPath) servers.push(await startClamdServer({ ...common, listen: { path: unixPath } }));
    if (port !== 0) servers.push(await startClamdServer({ ...common, listen: { host: config.str("clamd", "listen_addr"), port } }));
  } catch (e) {
    log(`error: cannot listen: ${(e as Error).message}`);
    await Promise.allSettled(servers.map((s) => s.close()));
    return 2;
  }
  serveUntilStopped((code) => void stop(code), log);
  return -1; // keep serving
}

runResidentAgent(main, log);
