/**
 * Where the configuration file lives; it is replaced with writeFileAtomic (host/atomic-write.ts):
 * a reader (the daemon on SIGHUP) sees the old file or the new one, never half of each.
 */

/** System default (SPEC §1); BULWARK_CONFIG overrides it for every command. */
export const SYSTEM_CONFIG_FILE = "/etc/bulwark/bulwark.cfg";

export function defaultConfigFile(env: NodeJS.ProcessEnv = process.env): string {
  return env.BULWARK_CONFIG || SYSTEM_CONFIG_FILE;
}

export { writeFileAtomic } from "../atomic-write.js";
