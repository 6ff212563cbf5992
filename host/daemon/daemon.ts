/**
 * The Bulwark daemon: owns the one Scanner (signatures loaded once, worker pool) and serves it
 * to the agents over clamd's protocol on the local unix socket daemon_socket_path (agents are
 * clamd clients, agents/common/clamd-client.ts), plus the [clamd] agent's own listeners when it
 * is enabled. Writes a pid file in cache_dir. `reload` re-reads the configuration and keeps the
 * old one when the new one has fatal errors; options that shape the scanner or the listeners
 * (limits, workers, socket paths, ports) take effect only on restart, and reload says so.
 */
import fs from "node:fs";
import path from "node:path";
import type { Scanner } from "../api.js";
import { startClamdServer, type ClamdServer } from "../clamd/server.js";
import { formatConfigError } from "../config/ini.js";
import { type Config, loadConfig } from "../config/load.js";
import { createScanner } from "../scanner.js";

export const PID_FILE_NAME = "bulwark.pid";
/** Signature file kinds the scanner loads (host/api.ts); a base_dir without any is ignored so
 *  that a fresh install runs with the built-in signature set instead of failing. */
const SIGNATURE_EXTENSIONS = [".hdb", ".hsb", ".ndb", ".ldb", ".fp", ".sfp", ".ign2", ".cvd", ".cld"];
/** Options read once at start; a reload that changes them is logged as "needs a restart". */
const RESTART_OPTIONS: Array<["global" | "clamd", string]> = [
  ["global", "base_dir"], ["global", "cache_dir"], ["global", "daemon_socket_path"], ["global", "workers"],
  ["global", "max_file_size"], ["global", "max_scan_size"], ["global", "max_files"], ["global", "max_recursion"],
  ["global", "max_scan_time"], ["clamd", "agent_enabled"], ["clamd", "listen_addr"], ["clamd", "listen_port"],
  ["clamd", "socket_path"], ["clamd", "stream_max_length"],
];

export class ConfigRefused extends Error {
  constructor(readonly lines: string[]) {
    super(lines.join("\n"));
  }
}

export interface Daemon {
  readonly socketPath: string;
  readonly pidFile: string;
  config(): Config;
  /** Re-read the file; false (and the old config kept) when it has fatal errors. */
  reload(): boolean;
  /** Stop listening, close the scanner, remove the sockets and the pid file. Idempotent. */
  close(): Promise<void>;
}

function loadOrRefuse(file: string, log: (m: string) => void): Config {
  const r = loadConfig(file);
  if (r.globalErrors.length) throw new ConfigRefused(r.globalErrors.map(formatConfigError));
  for (const d of r.disabledAgents) {
    for (const e of d.errors) log(`warning: agent ${d.agent} disabled: ${formatConfigError(e)}`);
  }
  return r.config;
}

function signatureDatabases(baseDir: string): string[] {
  try {
    const has = fs.readdirSync(baseDir).some((n) => SIGNATURE_EXTENSIONS.includes(path.extname(n).toLowerCase()));
    return has ? [baseDir] : [];
  } catch {
    return [];
  }
}

export async function startDaemon(file: string, log: (m: string) => void, onShutdownRequest?: () => void): Promise<Daemon> {
  let config = loadOrRefuse(file, log);
  const cacheDir = config.path("global", "cache_dir");
  fs.mkdirSync(cacheDir, { recursive: true, mode: 0o750 });
  const socketPath = config.path("global", "daemon_socket_path");
  const pidFile = path.join(cacheDir, PID_FILE_NAME);

  const databases = signatureDatabases(config.path("global", "base_dir"));
  const workers = config.int("global", "workers");
  const scanner: Scanner = await createScanner({
    databases,
    builtin: true,
    // config 0 = one per core, which is the library's default when `workers` is absent
    ...(workers > 0 ? { workers } : {}),
    cacheDir: path.join(cacheDir, "db-cache"),
    limits: {
      maxFileSize: config.int("global", "max_file_size"),
      maxScanSize: config.int("global", "max_scan_size"),
      maxFiles: config.int("global", "max_files"),
      maxRecursion: config.int("global", "max_recursion"),
      maxScanTime: config.int("global", "max_scan_time"),
    },
  });
  log(`signatures: ${scanner.signatureCount} loaded (${databases.length ? databases.join(", ") : "built-in only"}) in ${Math.round(scanner.loadMs)} ms`);

  const servers: ClamdServer[] = [];
  const socketFiles: string[] = [socketPath];
  let closing: Promise<void> | null = null;
  const daemon: Daemon = {
    socketPath,
    pidFile,
    config: () => config,
    reload() {
      let next: Config;
      try {
        next = loadOrRefuse(file, log);
      } catch (e) {
        const lines = e instanceof ConfigRefused ? e.lines : [(e as Error).message];
        for (const l of lines) log(`error: reload refused, keeping the old configuration: ${l}`);
        return false;
      }
      for (const [s, k] of RESTART_OPTIONS) {
        if (JSON.stringify(next.get(s, k)) !== JSON.stringify(config.get(s, k))) log(`warning: ${s}.${k} changed; it takes effect on restart`);
      }
      config = next;
      log(`configuration reloaded from ${file}`);
      return true;
    },
    close() {
      closing ??= (async () => {
        await Promise.allSettled(servers.map((s) => s.close()));
        await scanner.close().catch((e: Error) => log(`error: closing the scanner: ${e.message}`));
        for (const f of [...socketFiles, pidFile]) fs.rmSync(f, { force: true });
      })();
      return closing;
    },
  };

  try {
    const common = {
      scanner,
      log,
      onReload: () => void daemon.reload(),
      onShutdown: () => onShutdownRequest?.(),
    };
    // Agents stream whole mails: the local socket accepts what max_file_size lets through.
    servers.push(await startClamdServer({ ...common, listen: { path: socketPath }, streamMaxLength: config.int("global", "max_file_size") }));
    if (config.bool("clamd", "agent_enabled")) {
      const streamMaxLength = config.int("clamd", "stream_max_length");
      const clamdSocket = config.path("clamd", "socket_path");
      if (clamdSocket) {
        servers.push(await startClamdServer({ ...common, listen: { path: clamdSocket }, streamMaxLength }));
        socketFiles.push(clamdSocket);
      }
      const port = config.int("clamd", "listen_port");
      if (port !== 0) servers.push(await startClamdServer({ ...common, listen: { host: config.str("clamd", "listen_addr"), port }, streamMaxLength }));
    }
    fs.writeFileSync(pidFile, `${process.pid}\n`);
  } catch (e) {
    // Only remove socket files we own: a "socket in use" failure must not unlink a live daemon's.
    await Promise.allSettled(servers.map((s) => s.close()));
    await scanner.close().catch(() => {});
    throw e;
  }
  return daemon;
}
