/**
 * The clamd 1.4 command table and command-line parsing: which commands exist, which may be
 * sent without a `z`/`n` prefix ("old style"), which are accepted inside IDSESSION, and
 * which take a path argument. Checked against clamd 1.4.6 (`clamd/session.c` commands[] and
 * execute_or_dispatch_command) and by probing a running clamd on this machine.
 */

export type CommandName =
  | "PING" | "VERSION" | "VERSIONCOMMANDS" | "RELOAD" | "SHUTDOWN" | "QUIT"
  | "SCAN" | "CONTSCAN" | "MULTISCAN" | "ALLMATCHSCAN" | "INSTREAM" | "STATS"
  | "IDSESSION" | "END" | "DETSTATS" | "DETSTATSCLEAR";

interface CommandInfo {
  /** may be sent without a z/n prefix, newline-terminated */
  old: boolean;
  /** takes " <path>" after the name */
  arg: boolean;
  /** accepted inside IDSESSION (clamd: FILDES SCAN END INSTREAM VERSION PING STATS VERSIONCOMMANDS) */
  session: boolean;
}

const COMMANDS: Record<CommandName, CommandInfo> = {
  PING: { old: true, arg: false, session: true },
  VERSION: { old: true, arg: false, session: true },
  VERSIONCOMMANDS: { old: false, arg: false, session: true },
  RELOAD: { old: true, arg: false, session: false },
  SHUTDOWN: { old: true, arg: false, session: false },
  QUIT: { old: true, arg: false, session: false },
  SCAN: { old: true, arg: true, session: true },
  CONTSCAN: { old: true, arg: true, session: false },
  MULTISCAN: { old: true, arg: true, session: false },
  ALLMATCHSCAN: { old: false, arg: true, session: false },
  INSTREAM: { old: false, arg: false, session: true },
  STATS: { old: false, arg: false, session: true },
  IDSESSION: { old: false, arg: false, session: false },
  END: { old: false, arg: false, session: true },
  DETSTATS: { old: true, arg: false, session: false },
  DETSTATSCLEAR: { old: true, arg: false, session: false },
};

/** What VERSIONCOMMANDS lists: clamd 1.4's list, minus FILDES (descriptor passing over a
 *  unix socket, which Node cannot receive), so a client never picks a command we refuse. */
export const ADVERTISED_COMMANDS =
  "SCAN QUIT RELOAD PING CONTSCAN VERSIONCOMMANDS VERSION END SHUTDOWN MULTISCAN STATS IDSESSION INSTREAM DETSTATSCLEAR DETSTATS ALLMATCHSCAN";

export type Terminator = "\n" | "\0";

/** One framed command as read off the wire, before lookup. */
export interface RawCommand {
  /** "z", "n" or "" (old style) */
  prefix: "z" | "n" | "";
  /** the terminator the reply must use: \0 for z, \n otherwise */
  term: Terminator;
  /** the command text without prefix and terminator (and without one trailing CR) */
  text: string;
}

export type ParsedCommand =
  | { ok: true; name: CommandName; arg: string; inSession: boolean }
  | { ok: false };

/**
 * Look a framed command up. clamd matches the exact name followed by end of line, or by one
 * space and the argument for path commands; anything else ("nPING x", "nPING ", lower case,
 * an old-style INSTREAM) is UNKNOWN COMMAND.
 */
export function parseCommand(raw: RawCommand): ParsedCommand {
  const sp = raw.text.indexOf(" ");
  const word = sp < 0 ? raw.text : raw.text.slice(0, sp);
  if (!Object.prototype.hasOwnProperty.call(COMMANDS, word)) return { ok: false };
  const name = word as CommandName;
  const info = COMMANDS[name];
  if (raw.prefix === "" && !info.old) return { ok: false };
  if (info.arg) {
    if (sp < 0) return { ok: false };
    return { ok: true, name, arg: raw.text.slice(sp + 1), inSession: info.session };
  }
  if (sp >= 0) return { ok: false };
  return { ok: true, name, arg: "", inSession: info.session };
}
