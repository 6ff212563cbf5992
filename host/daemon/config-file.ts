/**
 * Which configuration file the daemon and the agents read, and creating it on first start.
 * Order: --config FILE, then $BULWARK_CONFIG, then /etc/bulwark/bulwark.cfg for root, and for
 * anyone else ./.bulwark/bulwark.cfg in the working directory: `npm start` from a checkout then
 * runs a self-contained daemon (config, signatures, cache and sockets under ./.bulwark/)
 * without root and without touching /etc. Agents started from the same directory find it too.
 */
import fs from "node:fs";
import path from "node:path";
import { defaultConfigText } from "../config/load.js";
import { quote } from "../config/values.js";
import { SYSTEM_CONFIG_FILE, writeFileAtomic } from "../config/write.js";

/** Config file of a non-root run, relative to the working directory. */
export const LOCAL_CONFIG_FILE = path.join(".bulwark", "bulwark.cfg");

export function resolveConfigFile(given: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (given) return path.resolve(given);
  if (env.BULWARK_CONFIG) return path.resolve(env.BULWARK_CONFIG);
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  return isRoot ? SYSTEM_CONFIG_FILE : path.resolve(LOCAL_CONFIG_FILE);
}

/**
 * Write the documented default configuration to `file` when it does not exist. Any file but the
 * system one gets cache_dir and base_dir set to folders next to it (relative paths are taken in
 * the file's directory), so a local daemon never needs /var; the system file keeps the /var
 * defaults. Returns true when it created the file.
 */
export function ensureConfigFile(file: string): boolean {
  if (fs.existsSync(file)) return false;
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o750 });
  const local = path.resolve(file) !== SYSTEM_CONFIG_FILE;
  writeFileAtomic(file, defaultConfigText(local ? { "global.cache_dir": quote("cache"), "global.base_dir": quote("lib") } : {}));
  return true;
}
