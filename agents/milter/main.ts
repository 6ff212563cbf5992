/**
 * The [smfi] agent: a Sendmail milter (protocol v6) for Postfix `smtpd_milters` and Sendmail
 * `INPUT_MAIL_FILTER`, run by the daemon's supervisor as `node dist/agents/milter/main.js --config FILE`.
 * Talks to: MTAs over the milter protocol on [smfi] smfi_sock_path (unix socket) and, when
 *   listen_port is not 0, on listen_addr:listen_port; the daemon on daemon_socket_path with one
 *   zBWMAIL request per message; its parent over the IPC channel (it says "ready" once it listens).
 * Writes: nothing but its unix socket file (removed on exit) and log lines on stderr (the
 *   supervisor relays them into the daemon's log).
 * On failure: every message the daemon cannot judge (down, silent, malformed answer) and every
 *   internal error is answered SMFIR_TEMPFAIL, so the MTA keeps the mail and its client retries.
 *   A bad configuration or a listener that cannot be opened exits 2 (the supervisor restarts it
 *   with back-off). SIGTERM/SIGINT or a closed IPC channel closes the listeners and exits 0.
 */
import fs from "node:fs";
import net from "node:net";
import { MAX_REWRITE_GROWTH } from "../../host/service/protocol.js";
import { agentLog, loadResidentConfig, runResidentAgent, serveUntilStopped } from "../common/resident.js";
import { daemonMail } from "../common/daemon-client.js";
import { RecipientSplitter } from "../common/recipient-split.js";
import { serveMilterConnection } from "./session.js";

/**
 * The unix socket is made world-connectable (0666): the MTA runs as another user (Postfix's
 * `postfix`, Sendmail's `smmsp`/root) whose group we cannot know, and with 0755 Postfix logs
 * "Permission denied" and tempfails every mail. Who can reach it is still limited by the
 * permissions of the directory that holds it (cache_dir), and a connecting process gains only a
 * verdict on mail it sends itself.
 */
const SOCKET_MODE = 0o666;
/** Simultaneous MTA connections: one per SMTP session; Postfix's default process limit is 100
 *  smtpd, so 1000 leaves room for several MTAs while bounding sockets and held mail. */
const MAX_CONNECTIONS = 1000;
/** Added to max_scan_time for the whole zBWMAIL request: the daemon's pool watchdog grace and
 *  time in its queue behind other requests (as the clamd agent allows). */
const REPLY_MARGIN_MS = 30_000;

const log = agentLog;

function listen(server: net.Server, where: net.ListenOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(where, () => {
      server.off("error", reject);
      server.on("error", (e) => log(`error: milter listener: ${e.message}`));
      resolve();
    });
  });
}

/** A socket file left by an agent that died is in the way of listen(): remove it, but only when
 *  nothing answers on it (a live milter there is a configuration error, not ours to take over). */
function removeStaleSocket(file: string): Promise<void> {
  let isSocket = false;
  try {
    isSocket = fs.lstatSync(file).isSocket();
  } catch {
    return Promise.resolve(); // nothing there
  }
  if (!isSocket) return Promise.resolve(); // listen() reports EADDRINUSE; never delete a plain file
  return new Promise((resolve, reject) => {
    const probe = net.createConnection({ path: file });
    probe.once("connect", () => {
      probe.destroy();
      reject(new Error(`${file} is in use by another process`));
    });
    probe.once("error", () => {
      fs.rmSync(file, { force: true });
      resolve();
    });
  });
}

async function main(argv: string[]): Promise<number> {
  const ac = loadResidentConfig(argv, "smfi", log);
  if (!ac) return 2;
  const { config, socketPath: daemonSocket } = ac;
  const maxMailBytes = config.int("global", "max_file_size");
  const timeoutMs = config.int("global", "max_scan_time") + REPLY_MARGIN_MS;
  const unixPath = config.path("smfi", "smfi_sock_path");
  const port = config.int("smfi", "listen_port");
  if (!unixPath && port === 0) {
    log("error: [smfi] has neither smfi_sock_path nor listen_port; nothing to listen on");
    return 2;
  }

  const sessionOptions = {
    splitter: new RecipientSplitter(config, "smfi", log),
    maxMailBytes,
    log,
    judge: (req: Parameters<typeof daemonMail>[1], mail: Buffer) =>
      daemonMail(daemonSocket, req, mail, maxMailBytes + MAX_REWRITE_GROWTH, timeoutMs),
  };
  const servers: net.Server[] = [];
  const newServer = () => {
    const s = net.createServer((sock) => serveMilterConnection(sock, sessionOptions));
    s.maxConnections = MAX_CONNECTIONS;
    servers.push(s);
    return s;
  };
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    await Promise.allSettled(servers.map((s) => new Promise((r) => s.close(r))));
    if (unixPath) fs.rmSync(unixPath, { force: true });
    process.exit(code);
  };

  try {
    if (unixPath) {
      await removeStaleSocket(unixPath);
      await listen(newServer(), { path: unixPath });
      fs.chmodSync(unixPath, SOCKET_MODE);
      log(`milter listening on unix:${unixPath}`);
    }
    if (port !== 0) {
      const host = config.str("smfi", "listen_addr");
      await listen(newServer(), { host, port });
      log(`milter listening on inet:${port}@${host}`);
    }
  } catch (e) {
    log(`error: cannot listen: ${(e as Error).message}`);
    servers.forEach((s) => s.close());
    return 2;
  }
  serveUntilStopped((code) => void stop(code), log);
  return -1; // keep serving
}

runResidentAgent(main, log);
