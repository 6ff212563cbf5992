/**
 * `bulwark daemon [--config FILE] --foreground`: run the daemon (host/daemon/daemon.ts) in the
 * foreground, logging one line per event to stderr (a service manager such as systemd captures
 * it). The configuration file is found as in host/daemon/config-file.ts (non-root without
 * --config: ./.bulwark/bulwark.cfg, created with local cache and signature folders when missing).
 * SIGTERM/SIGINT: stop, remove the socket and the pid file, exit 0. SIGHUP: reload the
 * configuration; a broken one is refused and logged, the old one stays.
 * Exit codes: 0 stopped cleanly, 2 refused to start (bad configuration, socket in use, ...).
 */
import { Command, Option } from "clipanion";
import { ensureConfigFile, resolveConfigFile } from "../daemon/config-file.js";
import { ConfigRefused, startDaemon } from "../daemon/daemon.js";

const log = (m: string) => process.stderr.write(`${new Date().toISOString()} bulwark[${process.pid}]: ${m}\n`);

export class DaemonCommand extends Command {
  static paths = [["daemon"]];
  static usage = Command.Usage({
    description: "run the scanning daemon that the agents talk to",
    details: `
      Serves scan requests on daemon_socket_path (clamd's protocol on a unix socket) and, when the [clamd] agent is
      enabled, on its listeners. Without --config (and not root) it uses ./.bulwark/bulwark.cfg, creating it on
      first start. Only --foreground is supported: run it under a service manager.
    `,
  });

  config = Option.String("--config", { description: "configuration file" });
  foreground = Option.Boolean("--foreground", false, { description: "stay in the foreground (required)" });

  async execute(): Promise<number> {
    if (!this.foreground) {
      process.stderr.write("ERROR: only --foreground is supported; run the daemon under a service manager\n");
      return 2;
    }
    const file = resolveConfigFile(this.config);
    try {
      if (ensureConfigFile(file)) log(`created the default configuration ${file}`);
    } catch (e) {
      process.stderr.write(`ERROR: cannot create ${file}: ${(e as Error).message}\n`);
      return 2;
    }
    let stop!: () => void;
    const stopped = new Promise<void>((r) => (stop = r));
    let daemon;
    try {
      daemon = await startDaemon(file, log, () => stop());
    } catch (e) {
      if (e instanceof ConfigRefused) for (const l of e.lines) process.stderr.write(`${l}\n`);
      else process.stderr.write(`ERROR: ${(e as Error).message}\n`);
      process.stderr.write(`bulwark: refusing to start\n`);
      return 2;
    }
    const onHup = () => void daemon.reload();
    process.on("SIGHUP", onHup);
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
    log(`ready: config ${file}, socket ${daemon.socketPath}`);
    await stopped;
    log("stopping");
    process.off("SIGHUP", onHup);
    await daemon.close();
    log("stopped");
    return 0;
  }
}
