/**
 * Where `bulwark quar` and `bulwark stats` find the daemon's state. The daemon keeps its
 * quarantine in cache_dir/quarantine and its statistics in cache_dir/stats.json (host/daemon/
 * daemon.ts), so the commands read cache_dir from the configuration the daemon would read
 * (resolveConfigFile: --config, $BULWARK_CONFIG, /etc for root, ./.bulwark/ otherwise).
 * Order: the explicit option (--dir/--file; with --config too it is an error), then --config's
 * cache_dir, then the command's environment variable, then the cache_dir of the configuration
 * found without --config. (--config beats the variable: the command line names what the user
 * means now, an exported variable may be left over from another task.)
 * A configuration that cannot be read, or whose cache_dir line is broken, falls back to the
 * system default (what these commands used before they read the configuration), with a note
 * when that does not exist either; --config naming an unreadable file is an error instead,
 * since the user asked for that file.
 */
import fs from "node:fs";
import path from "node:path";
import { formatConfigError } from "../config/ini.js";
import { loadConfig } from "../config/load.js";
import { resolveConfigFile } from "../daemon/config-file.js";

/** The state cannot be located: the message is for stderr, the command exits 2. */
export class StateLocationError extends Error {}

export interface StateRequest {
  /** --dir / --file, when given, and that option's name (for messages). */
  explicit: string | undefined;
  explicitFlag: string;
  /** The command's own variable ($BULWARK_QUARANTINE_DIR, $BULWARK_STATS). */
  envName: string;
  /** --config, when given. */
  configOption: string | undefined;
  /** The state's name inside cache_dir ("quarantine", "stats.json"). */
  leaf: string;
  /** Used when no configuration can be read: the system default under /var/cache/bulwark. */
  fallback: string;
  env?: NodeJS.ProcessEnv;
}

export interface StateLocation {
  path: string;
  /** For stderr when the fallback was taken and does not exist either (else undefined). */
  note?: string;
}

export function locateState(req: StateRequest): StateLocation {
  const env = req.env ?? process.env;
  if (req.explicit !== undefined && req.configOption !== undefined) {
    throw new StateLocationError(`give ${req.explicitFlag} or --config, not both (${req.explicitFlag} names the location itself)`);
  }
  if (req.explicit !== undefined) return { path: req.explicit };
  if (req.configOption === undefined && env[req.envName]) return { path: env[req.envName]! };
  const file = resolveConfigFile(req.configOption, env);
  const r = loadConfig(file);
  const unreadable = r.errors.find((e) => e.line === 0);
  if (unreadable && req.configOption !== undefined) throw new StateLocationError(formatConfigError(unreadable));
  // a cache_dir line with an error (bad value or bad syntax) reads as the default, which is where
  // the fallback points anyway; it only needs the note
  const badCacheDir = r.errors.find((e) => e.section === "global" && /^\s*cache_dir\s*=/.test(r.document.lines[e.line - 1]?.text ?? ""));
  const problem = unreadable ?? badCacheDir;
  if (!problem) return { path: path.join(r.config.path("global", "cache_dir"), req.leaf) };
  if (fs.existsSync(req.fallback)) return { path: req.fallback };
  return {
    path: req.fallback,
    note: `note: ${formatConfigError(problem)}; using ${req.fallback} (the default without a configuration), `
      + `which does not exist either: name the configuration with --config FILE or $BULWARK_CONFIG, `
      + `or the location with $${req.envName}`,
  };
}
