/**
 * Loads mailauth on first use instead of at import time, so that a mailauth that cannot load
 * never takes the daemon down with it: authentication then fails soft (auth.ts) and everything
 * else keeps working.
 *
 * Why it could fail: mailauth 7 declares Node >= 22.19 for the undici 8 its BIMI code loads,
 * which calls a worker_threads function Node 20 lacks. package.json overrides undici to ^7
 * (Node >= 20.18), which mailauth's BIMI fetch works with; BIMI is off here anyway. Should a
 * future mailauth still not load, authentication fails soft and nothing else changes.
 */
import { createRequire } from "node:module";
import type * as Mailauth from "mailauth";

const require = createRequire(import.meta.url);
let loaded: Promise<typeof Mailauth> | undefined;

export function loadMailauth(): Promise<typeof Mailauth> {
  loaded ??= (async () => {
    return require("mailauth") as typeof Mailauth;
  })();
  return loaded;
}
