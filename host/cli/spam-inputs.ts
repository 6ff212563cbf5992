/**
 * What the `bulwark spam` subcommands share: the configuration and Bayes database they use, and
 * the messages named on the command line (files, directories walked recursively, "-" for
 * standard input), each read whole up to MAX_MESSAGE_BYTES.
 *
 * The configuration is the daemon's (resolveConfigFile: --config, $BULWARK_CONFIG, /etc for
 * root, ./.bulwark/ otherwise); the database is its [global] as_bayes_db (relative: inside
 * cache_dir), unless --db names one.
 */
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { formatConfigError } from "../config/ini.js";
import { type Config, loadConfig } from "../config/load.js";
import { resolveConfigFile } from "../daemon/config-file.js";
import { walkInputs } from "./walk.js";

/** Largest message read for learning or checking. Mail servers refuse far smaller messages
 *  (Postfix: 10 MB by default); the parser only looks at its own bounded share anyway, and
 *  reading a multi-gigabyte file given by mistake would exhaust memory. */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

/** A problem the user can fix: printed as "ERROR: message", exit 2. */
export class SpamUsageError extends Error {}

export interface SpamSetup {
  config: Config;
  /** the Bayes database file (absolute) */
  db: string;
  /** configuration problems worth a warning (the command still runs, like the daemon's agents) */
  warnings: string[];
}

/**
 * The configuration and the database. An explicit --config that cannot be read is an error;
 * a configuration found implicitly that cannot be read falls back to the defaults, with a warning.
 */
export function spamSetup(opts: { config?: string; db?: string; env?: NodeJS.ProcessEnv }): SpamSetup {
  const file = resolveConfigFile(opts.config, opts.env ?? process.env);
  const r = loadConfig(file);
  const unreadable = r.errors.find((e) => e.line === 0);
  if (unreadable && opts.config !== undefined) throw new SpamUsageError(formatConfigError(unreadable));
  // a configuration found implicitly that does not exist is normal with --db; without it, say
  // which defaults are used
  const warnings = r.globalErrors.filter((e) => e.line !== 0).map((e) => `configuration: ${formatConfigError(e)}`);
  if (unreadable && opts.db === undefined) warnings.push(`${formatConfigError(unreadable)}; using the defaults (name it with --config FILE or $BULWARK_CONFIG, or the database with --db FILE)`);
  const db = opts.db !== undefined ? path.resolve(opts.db) : r.config.path("global", "as_bayes_db");
  if (db === "") throw new SpamUsageError(`${file}: as_bayes_db is empty: name the database with --db FILE`);
  return { config: withBayesDb(r.config, db), db, warnings };
}

/** The configuration with as_bayes_db replaced (--db), so the engine opens the same file. */
function withBayesDb(config: Config, db: string): Config {
  const original = config.path.bind(config);
  return Object.create(config, {
    path: { value: (section: Parameters<Config["path"]>[0], key: string) => (section === "global" && key === "as_bayes_db" ? db : original(section, key)) },
  }) as Config;
}

/** Create the database's directory (cache_dir may not exist before the daemon first ran). */
export function ensureDbDir(db: string): void {
  try {
    fs.mkdirSync(path.dirname(db), { recursive: true, mode: 0o750 });
  } catch (e) {
    throw new SpamUsageError(`cannot create the directory of ${db}: ${(e as Error).message}`);
  }
}

export type MessageInput =
  | { kind: "message"; path: string; raw: Buffer }
  | { kind: "error"; path: string; reason: string };

async function readBounded(stream: Readable): Promise<Buffer | string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    size += b.length;
    if (size > MAX_MESSAGE_BYTES) return `larger than ${MAX_MESSAGE_BYTES} bytes: not read`;
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

async function readFileBounded(file: string): Promise<Buffer | string> {
  const fh = await fsp.open(file, "r");
  try {
    const st = await fh.stat();
    if (!st.isFile()) return "not a regular file";
    if (st.size > MAX_MESSAGE_BYTES) return `larger than ${MAX_MESSAGE_BYTES} bytes: not read`;
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}

/** Every message named by `args`, in order; directories are walked recursively (links inside
 *  them are not followed), unreadable entries come out as errors. */
export async function* messageInputs(args: readonly string[], stdin: Readable): AsyncGenerator<MessageInput> {
  for await (const e of walkInputs(args, true)) {
    if (e.kind === "dir" || e.kind === "skip") continue;
    if (e.kind === "error") {
      yield { kind: "error", path: e.path, reason: e.reason };
      continue;
    }
    let got: Buffer | string;
    try {
      got = e.kind === "stdin" ? await readBounded(stdin) : await readFileBounded(e.path);
    } catch (err) {
      got = (err as Error).message;
    }
    yield typeof got === "string" ? { kind: "error", path: e.path, reason: got } : { kind: "message", path: e.path, raw: got };
  }
}

/** Attacker-controlled text (file names, rule descriptions) made safe for a terminal. */
export function printable(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
