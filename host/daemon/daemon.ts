/**
 * The Bulwark daemon (the manager): owns the Scanner (signatures loaded once, the worker pool),
 * serves it to the agents over clamd's protocol and the private commands on the local unix
 * socket daemon_socket_path, and supervises the resident agents as child processes
 * (supervisor.ts; the [clamd] agent is one: it owns the clamd listeners, not the manager).
 * Takes cache_dir's start lock (start-lock.ts) before anything else and holds it until it has
 * stopped, so that of daemons started at once on one cache_dir exactly one runs; refuses to start
 * while another holds it. Writes a pid file in cache_dir once it serves.
 *
 * Reload (SIGHUP): re-read the configuration (a file with fatal errors is refused and the old one
 * kept), re-check which agents run, and reload the signatures from base_dir into a new scanner
 * that replaces the old one without dropping a request (swappable-scanner.ts). clamd's RELOAD
 * (forwarded by the [clamd] agent) reloads the signatures only. Scanner options (base_dir,
 * workers, limits) take effect with the new scanner; cache_dir and daemon_socket_path only on
 * restart, and reload says so. The anti-spam engine (rules, Bayes database, resolver) is rebuilt
 * on reload; a failed rebuild keeps the old one.
 */
import fs from "node:fs";
import path from "node:path";
import type { Scanner } from "../api.js";
import { startClamdServer, type ClamdServer } from "../clamd/server.js";
import { formatConfigError } from "../config/ini.js";
import { type Config, loadConfig } from "../config/load.js";
import { createScanner } from "../scanner.js";
import { openQuarantine } from "../quarantine/store.js";
import { createDaemonExtensions } from "../service/extensions.js";
import { lineLogger } from "../service/line-logger.js";
import type { Logger } from "../log/types.js";
import { openStatistics } from "../stats/persist.js";
import { SpamEngineHolder } from "./spam-engine-holder.js";
import { PID_FILE_NAME, runningDaemonPid, writePidFile } from "./pid-file.js";
import { type StartLock, takeStartLock } from "./start-lock.js";
import { Supervisor } from "./supervisor.js";
import { logLoadErrors, SwappableScanner } from "./swappable-scanner.js";
import { installFaultSignal, loggingScanStarts, TEST_SPIN_MARKER, testFaultsEnabled } from "./test-faults.js";

export { PID_FILE_NAME } from "./pid-file.js";
/** Signature file kinds the scanner loads (host/api.ts); a base_dir without any is ignored so
 *  that a fresh install runs with the built-in signature set instead of failing. */
const SIGNATURE_EXTENSIONS = [".hdb", ".hsb", ".ndb", ".ldb", ".fp", ".sfp", ".ign2", ".cvd", ".cld"];
/** Options read once at start; a reload that changes them is logged as "needs a restart". */
const RESTART_OPTIONS: Array<["global", string]> = [
  ["global", "cache_dir"], ["global", "daemon_socket_path"],
  // the logger (host/log) is built once at start, with its syslog child
  ["global", "syslog_facility"], ["global", "syslog_class"],
];

export class ConfigRefused extends Error {
  constructor(readonly lines: string[]) {
    super(lines.join("\n"));
  }
}

export interface Daemon {
  readonly socketPath: string;
  readonly pidFile: string;
  readonly scanner: SwappableScanner;
  readonly supervisor: Supervisor;
  config(): Config;
  /** SIGHUP: re-read the file (false, and the old config kept, when it has fatal errors),
   *  re-check the agents, reload the signatures. */
  reload(): Promise<boolean>;
  /** clamd's RELOAD: the signatures only. */
  reloadSignatures(): Promise<void>;
  /** Stop the agents and the listener, close the scanner, remove the socket and the pid file. Idempotent. */
  close(): Promise<void>;
}

export interface DaemonOptions {
  /** SHUTDOWN was received on the daemon socket */
  onShutdownRequest?: () => void;
  /** the test fault hooks (test-faults.ts); default: BULWARK_TEST_FAULTS=1 in the environment */
  testFaults?: boolean;
  /** the structured logger (host/log) the mail service logs its classes to; without it, a
   *  line logger over `log` that applies [global] syslog_class */
  logger?: Logger;
}

function loadOrRefuse(file: string, log: (m: string) => void): Config {
  const r = loadConfig(file);
  if (r.globalErrors.length) throw new ConfigRefused(r.globalErrors.map(formatConfigError));
  for (const d of r.disabledAgents) {
    for (const e of d.errors) log(`error: agent ${d.agent} disabled because of its section: ${formatConfigError(e)}`);
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

function buildScanner(config: Config, testFaults: boolean): Promise<Scanner> {
  const databases = signatureDatabases(config.path("global", "base_dir"));
  const workers = config.int("global", "workers");
  return createScanner({
    databases,
    builtin: true,
    // config 0 = one per core, which is the library's default when `workers` is absent
    ...(workers > 0 ? { workers } : {}),
    cacheDir: path.join(config.path("global", "cache_dir"), "db-cache"),
    limits: {
      maxFileSize: config.int("global", "max_file_size"),
      maxScanSize: config.int("global", "max_scan_size"),
      maxFiles: config.int("global", "max_files"),
      maxRecursion: config.int("global", "max_recursion"),
      maxScanTime: config.int("global", "max_scan_time"),
    },
    ...(testFaults ? { faults: { spin: TEST_SPIN_MARKER } } : {}),
  });
}

export async function startDaemon(file: string, log: (m: string) => void, onShutdownRequest?: () => void, opts: DaemonOptions = {}): Promise<Daemon> {
  const config = loadOrRefuse(file, log);
  const cacheDir = config.path("global", "cache_dir");
  fs.mkdirSync(cacheDir, { recursive: true, mode: 0o750 });
  // First of all, before the socket, the pid file or the stores are touched: of several daemons
  // started at once on this cache_dir, only the one holding the lock goes on (start-lock.ts).
  const lock = takeStartLock(cacheDir);
  try {
    return await startLocked(file, config, lock, log, onShutdownRequest, opts);
  } catch (e) {
    lock.release();
    throw e;
  }
}

/** The start proper, under the start lock; the daemon's close() releases it last. */
async function startLocked(file: string, config: Config, lock: StartLock, log: (m: string) => void, onShutdownRequest: (() => void) | undefined, opts: DaemonOptions): Promise<Daemon> {
  const cacheDir = config.path("global", "cache_dir");
  const socketPath = config.path("global", "daemon_socket_path");
  const pidFile = path.join(cacheDir, PID_FILE_NAME);
  // the lock rules out another daemon of this version; a live pid file without a lock is one
  // started by a version before the lock existed
  const other = runningDaemonPid(pidFile);
  if (other !== null) throw new Error(`another Bulwark daemon (pid ${other}) is running on ${cacheDir} (pid file ${pidFile})`);
  const shutdown = onShutdownRequest ?? opts.onShutdownRequest;
  const testFaults = opts.testFaults ?? testFaultsEnabled();
  // the mail service's statistics and quarantine (host/service/), both kept in cache_dir
  const stats = openStatistics(path.join(cacheDir, "stats.json"), { onProblem: (m) => log(`error: statistics: ${m}`) });
  let quarantine: Awaited<ReturnType<typeof openQuarantine>>;
  try {
    quarantine = await openQuarantine(path.join(cacheDir, "quarantine"), { warn: (m) => log(`warning: quarantine: ${m}`) });
  } catch (e) {
    await stats.close().catch(() => {});
    throw e;
  }
  // the anti-spam engine: rules and the Bayes database; a failure leaves it unavailable (mail
  // that asks for classification is deferred) without stopping the antivirus daemon
  const spam = new SpamEngineHolder(log);
  await spam.rebuild(config);
  const closeStores = async () => {
    spam.close();
    for (const r of await Promise.allSettled([stats.close(), quarantine.close()])) {
      if (r.status === "rejected") log(`error: closing statistics/quarantine: ${(r.reason as Error).message}`);
    }
  };

  let first: Scanner;
  try {
    first = await buildScanner(config, testFaults);
  } catch (e) {
    await closeStores();
    throw e;
  }
  const databases = signatureDatabases(config.path("global", "base_dir"));
  log(`signatures: ${first.signatureCount} loaded (${databases.length ? databases.join(", ") : "built-in only"}) in ${Math.round(first.loadMs)} ms`);
  logLoadErrors(log, first.loadErrors);
  const scanner = new SwappableScanner(first, () => buildScanner(config, testFaults), log);
  const served: Scanner = testFaults ? loggingScanStarts(scanner, log) : scanner;
  const removeFaultSignal = testFaults ? installFaultSignal(log) : () => {};
  const supervisor = new Supervisor({ configFile: file, log });

  const servers: ClamdServer[] = [];
  let closing: Promise<void> | null = null;
  const daemon: Daemon = {
    socketPath,
    pidFile,
    scanner,
    supervisor,
    config: () => config,
    async reload() {
      let ok = true;
      try {
        const next = loadOrRefuse(file, log);
        for (const [s, k] of RESTART_OPTIONS) {
          if (JSON.stringify(next.get(s, k)) !== JSON.stringify(config.get(s, k))) log(`warning: ${s}.${k} changed; it takes effect on restart`);
        }
        config = next;
        log(`configuration reloaded from ${file}`);
      } catch (e) {
        const lines = e instanceof ConfigRefused ? e.lines : [(e as Error).message];
        for (const l of lines) log(`error: reload refused, keeping the old configuration: ${l}`);
        ok = false;
      }
      await Promise.all([supervisor.reconcile(config), scanner.reload(), spam.rebuild(config)]);
      return ok;
    },
    async reloadSignatures() {
      await scanner.reload();
    },
    close() {
      closing ??= (async () => {
        try {
          removeFaultSignal();
          await supervisor.stop();
          await Promise.allSettled(servers.map((s) => s.close()));
          await scanner.close().catch((e: Error) => log(`error: closing the scanner: ${e.message}`));
          await closeStores();
          // the socket file only if it is still ours (a failed start must not unlink a live daemon's)
          if (servers.length) fs.rmSync(socketPath, { force: true });
          fs.rmSync(pidFile, { force: true });
        } finally {
          // last: a daemon started now must find the socket and the pid file gone
          lock.release();
        }
      })();
      return closing;
    },
  };

  try {
    // Agents stream whole mails: the local socket accepts what max_file_size lets through.
    servers.push(
      await startClamdServer({
        scanner: served,
        log,
        listen: { path: socketPath },
        streamMaxLength: config.int("global", "max_file_size"),
        onReload: () => {
          log("RELOAD received: reloading the signatures");
          void daemon.reloadSignatures();
        },
        onShutdown: () => shutdown?.(),
        extensions: createDaemonExtensions({ config: () => config, scanner: () => served, stats, quarantine, spam: () => spam.engine, log: opts.logger ?? lineLogger(log, () => config.list("global", "syslog_class")) }),
      }),
    );
    await supervisor.start(config);
    writePidFile(pidFile);
  } catch (e) {
    removeFaultSignal();
    await supervisor.stop();
    await Promise.allSettled(servers.map((s) => s.close()));
    if (servers.length) fs.rmSync(socketPath, { force: true });
    await scanner.close().catch(() => {});
    await closeStores();
    throw e;
  }
  return daemon;
}
