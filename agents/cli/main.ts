/**
 * bulwark-cli [--config FILE] FILE...: the command-line scanner for amavisd-new.
 * Talks to: the Bulwark daemon only, over its local socket (daemon_socket_path, the private
 *   zBWSCAN command, host/service/protocol.ts: the file's bytes are sent, so the daemon needs no
 *   access to them; the daemon counts them in the [cli] agent's statistics).
 * Writes: nothing but stdout/stderr. Per infected file one line `FILE: virus="NAME"`; per file
 *   that could not be scanned a line `FILE: error="REASON"`; clean files print nothing.
 * Exit codes: 0 every file clean, 1 at least one infected (and no error), 2 any error: the
 *   daemon down or silent, a file unreadable or over max_file_size, a part that could not be
 *   scanned (limits, encryption), bad configuration or usage. amavisd-new treats any code not
 *   listed as clean or infected as a scanner failure and tries its next scanner or tempfails.
 *
 * A directory argument is scanned recursively (regular files only, symbolic links not followed),
 * so amavisd-new can pass its directory of the mail's parts, as it did for the reference
 * product's esets_cli (`--subdir {}`). amavisd-new entry (@av_scanners in amavisd.conf):
 *   ['Bulwark', ['bulwark-cli'], '{}', [0], [1], qr/virus="([^"]+)"/m ],
 * ({} becomes amavisd's temporary directory of the mail's parts; exit 0 clean, 1 infected,
 * anything else is a scanner failure.)
 */
import { lstat, readFile, readdir, stat } from "node:fs/promises";
import path from "node:path";
import { loadAgentConfig, splitConfigArg } from "../common/agent-config.js";
import { daemonScan } from "../common/daemon-client.js";

export const EXIT_CLEAN = 0;
export const EXIT_INFECTED = 1;
export const EXIT_ERROR = 2;
/** Files per run. amavisd passes one mail's parts; far more is a mistake (a glob over a
 *  spool), and each file is read whole into memory before it is sent. */
export const MAX_FILES = 10_000;

/** Directory levels entered below an argument; amavisd's parts tree is a few levels deep,
 *  and each level holds one listing in memory. */
export const MAX_DIRECTORY_DEPTH = 15;

/** The files named by the arguments, directories expanded; an argument that cannot be
 *  listed is kept as is so that reading it reports the error. */
async function expand(args: string[]): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const e of entries) {
      if (out.length > MAX_FILES) return;
      const p = path.join(dir, e.name);
      if (e.isFile()) out.push(p);
      else if (e.isDirectory()) {
        // too deep to enter: listed as is, so it is reported as an error rather than its
        // files silently passing as clean
        if (depth < MAX_DIRECTORY_DEPTH) await walk(p, depth + 1);
        else out.push(p);
      }
    }
  };
  for (const a of args) {
    const st = await lstat(a).catch(() => null);
    if (st?.isDirectory()) await walk(a, 0).catch(() => out.push(a));
    else out.push(a);
  }
  return out;
}

const clean = (s: string) => s.replace(/[\0-\x1f"\x7f]/g, "?");

async function run(argv: string[]): Promise<number> {
  const args = splitConfigArg(argv);
  const usage = "usage: bulwark-cli [--config FILE] FILE...";
  if (args.error || args.rest.length === 0) {
    process.stderr.write(`bulwark-cli: ${args.error ?? "no files given"}; ${usage}\n`);
    return EXIT_ERROR;
  }
  const ac = loadAgentConfig(args.config, "cli");
  if ("error" in ac) {
    process.stderr.write(`bulwark-cli: ${ac.error}\n`);
    return EXIT_ERROR;
  }
  const files = await expand(args.rest);
  if (files.length > MAX_FILES) {
    process.stderr.write(`bulwark-cli: more than ${MAX_FILES} files; ${usage}\n`);
    return EXIT_ERROR;
  }
  const maxSize = ac.config.int("global", "max_file_size");
  let infected = false;
  let errors = false;
  for (const file of files) {
    let data: Buffer;
    try {
      const st = await stat(file);
      if (st.isDirectory()) throw new Error(`directory not scanned (not listable, or more than ${MAX_DIRECTORY_DEPTH} levels down)`);
      if (!st.isFile()) throw new Error("not a regular file");
      if (st.size > maxSize) throw new Error(`larger than max_file_size (${maxSize} bytes)`);
      data = await readFile(file);
    } catch (e) {
      process.stdout.write(`${clean(file)}: error="${clean((e as Error).message)}"\n`);
      errors = true;
      continue;
    }
    const v = await daemonScan(ac.socketPath, "cli", data);
    if (v.status === "infected") {
      infected = true;
      for (const name of v.names) process.stdout.write(`${clean(file)}: virus="${clean(name)}"\n`);
    } else if (v.status !== "clean") {
      errors = true;
      const why = v.status === "not_scanned" ? `not scanned: ${v.notScanned[0]?.name}` : (v.error ?? "scan failed");
      process.stdout.write(`${clean(file)}: error="${clean(why)}"\n`);
      // the daemon being unreachable will not change for the next file
      if (v.status === "error" && /cannot talk to the daemon|no answer/.test(why)) break;
    }
  }
  return errors ? EXIT_ERROR : infected ? EXIT_INFECTED : EXIT_CLEAN;
}

process.stdout.on("error", () => process.exit(EXIT_ERROR));
try {
  process.exitCode = await run(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`bulwark-cli: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
  process.exitCode = EXIT_ERROR;
}
