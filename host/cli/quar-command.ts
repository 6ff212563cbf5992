/**
 * `bulwark quar`: look into and manage the quarantine (SPEC §8; store in host/quarantine/).
 *   bulwark quar [--dir DIR | --config FILE] list [--sender X] [--recipient X] [--name X] [--status S]
 *                                 [--agent A] [--since ISO] [--until ISO] [--limit N] [--json]
 *   bulwark quar [--dir DIR | --config FILE] show ID [--json]      metadata and the first header lines
 *   bulwark quar [--dir DIR | --config FILE] restore ID [--to DIR] writes DIR/ID.eml (default: current directory)
 *   bulwark quar [--dir DIR | --config FILE] delete ID
 *   bulwark quar [--dir DIR | --config FILE] import FILE...        stores files with status "imported"
 * The directory: --dir, else cache_dir/quarantine of --config, else $BULWARK_QUARANTINE_DIR, else
 * cache_dir/quarantine of the configuration found as the daemon finds it (state-location.ts).
 * ID may be a unique prefix of at least 6 hex digits. Exit code: 0 done, 1 no such message,
 * 2 usage error, corrupt object or I/O error.
 */
import fsp from "node:fs/promises";
import path from "node:path";
import { Command, Option } from "clipanion";
import { type QuarantineStore, openQuarantine } from "../quarantine/store.js";
import { StateLocationError, locateState } from "./state-location.js";
import {
  MAX_LIST_ENTRIES, MAX_MESSAGE_BYTES, QuarantineError, QuarantineNotFoundError, type QuarEntry, type QuarFilter,
} from "../quarantine/types.js";

/** Used when neither --dir nor $BULWARK_QUARANTINE_DIR is given and no configuration can be
 *  read: SPEC §1 cache dir + quarantine. */
export const DEFAULT_QUARANTINE_DIR = "/var/cache/bulwark/quarantine";

/** `show` prints at most this many header lines of at most this many characters each: enough
 *  to recognise a message (From, To, Subject, Date, the first Received lines) while a hostile
 *  message with megabyte headers cannot flood the terminal. */
const MAX_SHOW_HEADER_LINES = 30;
const MAX_SHOW_LINE_CHARS = 200;
/** Bytes of the message `show` looks at for its header lines (30 × 200 plus slack). */
const SHOW_HEAD_BYTES = 16 * 1024;

class QuarUsageError extends Error {}

const ACTIONS = ["list", "show", "restore", "delete", "import"] as const;
type Action = (typeof ACTIONS)[number];

/** Message headers and envelope fields are attacker-controlled: make control characters and
 *  bidi overrides visible instead of letting them drive the terminal. */
export function printable(s: string): string {
  return s.replace(/[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** The first header lines of a message (up to its blank line), bounded and printable. */
function headerLines(head: Uint8Array): string[] {
  const text = Buffer.from(head.subarray(0, SHOW_HEAD_BYTES)).toString("latin1");
  const out: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line === "" || out.length === MAX_SHOW_HEADER_LINES) break;
    out.push(printable(line.length > MAX_SHOW_LINE_CHARS ? `${line.slice(0, MAX_SHOW_LINE_CHARS)}…` : line));
  }
  return out;
}

function listLine(e: QuarEntry): string {
  const names = e.names.length ? e.names.join(",") : "-";
  return printable([e.id, e.receivedAt, e.status, String(e.size), e.sender || "-", names].join("  "));
}

export class QuarCommand extends Command {
  static paths = [["quar"]];

  static usage = Command.Usage({
    description: "list, show, restore, delete and import quarantined messages",
    details: `
      Messages are stored by the SHA-256 of their bytes (the ID) and verified against it whenever they are read.
      An ID may be abbreviated to a unique prefix of at least 6 hex digits.
      Text filters (--sender, --recipient, --name) match case-insensitive substrings; --status and --agent match exactly;
      --since and --until compare the time the message was received. \`list\` shows newest first.

      The quarantine directory is \`--dir DIR\`, else the daemon's: \`quarantine\` in the cache_dir of \`--config FILE\`;
      without either, $BULWARK_QUARANTINE_DIR, else \`quarantine\` in the cache_dir of the configuration \`bulwark daemon\`
      reads ($BULWARK_CONFIG, else /etc/bulwark/bulwark.cfg for root and ./.bulwark/bulwark.cfg for anyone else).
      Without a readable configuration it is ${DEFAULT_QUARANTINE_DIR}; an unreadable \`--config FILE\` is an error.
      Exit code: 0 done, 1 no such message, 2 error (bad usage, corrupt object, I/O).
    `,
    examples: [
      ["List infected mail for one recipient since a date", "$0 quar list --recipient bob@example.org --since 2026-11-01"],
      ["Show one message", "$0 quar show 3f2a9c"],
      ["Restore a message into /tmp", "$0 quar restore 3f2a9c --to /tmp"],
      ["Put files into the quarantine", "$0 quar import suspicious.eml other.eml"],
    ],
  });

  dir = Option.String("--dir", { description: "quarantine directory (default: $BULWARK_QUARANTINE_DIR, else cache_dir/quarantine of the configuration)" });
  config = Option.String("--config", { description: "configuration whose cache_dir holds the quarantine (default: as for `bulwark daemon`)" });
  sender = Option.String("--sender", { description: "list: sender contains X" });
  recipient = Option.String("--recipient", { description: "list: a recipient contains X" });
  name = Option.String("--name", { description: "list: a verdict name contains X" });
  status = Option.String("--status", { description: "list: status is S (infected, notscanned, imported, ...)" });
  agent = Option.String("--agent", { description: "list: quarantined by agent A" });
  since = Option.String("--since", { description: "list: received at or after this ISO time" });
  until = Option.String("--until", { description: "list: received before this ISO time" });
  limit = Option.String("--limit", { description: `list: at most N entries (default and maximum ${MAX_LIST_ENTRIES})` });
  json = Option.Boolean("--json", false, { description: "list, show: print JSON" });
  to = Option.String("--to", { description: "restore: directory to write ID.eml into (default: current directory)" });
  action = Option.String({ name: "list|show|restore|delete|import" });
  args = Option.Rest({ name: "ID or FILE" });

  async execute(): Promise<number> {
    let store: QuarantineStore | undefined;
    try {
      const action = this.action as Action;
      if (!ACTIONS.includes(action)) throw new QuarUsageError(`unknown action ${JSON.stringify(this.action)} (expected one of ${ACTIONS.join(", ")})`);
      this.checkOptions(action);
      const where = locateState({
        explicit: this.dir, explicitFlag: "--dir", envName: "BULWARK_QUARANTINE_DIR", configOption: this.config, leaf: "quarantine", fallback: DEFAULT_QUARANTINE_DIR,
      });
      if (where.note) this.context.stderr.write(`${where.note}\n`);
      const dir = where.path;
      store = await openQuarantine(dir, { warn: (m) => this.context.stderr.write(`WARNING: ${m}\n`) });
      switch (action) {
        case "list": return this.doList(store);
        case "show": return await this.doShow(store, this.oneId());
        case "restore": return await this.doRestore(store, this.oneId());
        case "delete": return await this.doDelete(store, this.oneId());
        case "import": return await this.doImport(store);
        default: throw new QuarUsageError(`unknown action ${action}`);
      }
    } catch (e) {
      if (e instanceof QuarantineNotFoundError) {
        this.context.stderr.write(`${e.message}\n`);
        return 1;
      }
      if (e instanceof QuarUsageError || e instanceof QuarantineError || e instanceof StateLocationError) {
        this.context.stderr.write(`ERROR: ${e.message}\n`);
        return 2;
      }
      this.context.stderr.write(`ERROR: ${e instanceof Error ? e.message : String(e)}\n`);
      return 2;
    } finally {
      await store?.close();
    }
  }

  /** Options that do not belong to the action are mistakes, not silently ignored. */
  private checkOptions(action: Action): void {
    const listOnly = { "--sender": this.sender, "--recipient": this.recipient, "--name": this.name, "--status": this.status,
      "--agent": this.agent, "--since": this.since, "--until": this.until, "--limit": this.limit };
    for (const [flag, v] of Object.entries(listOnly)) {
      if (v !== undefined && action !== "list") throw new QuarUsageError(`${flag} applies to list only`);
    }
    if (this.json && action !== "list" && action !== "show") throw new QuarUsageError("--json applies to list and show only");
    if (this.to !== undefined && action !== "restore") throw new QuarUsageError("--to applies to restore only");
    if (action === "list" && this.args.length) throw new QuarUsageError(`unexpected argument ${this.args[0]}`);
    if (action === "import" && !this.args.length) throw new QuarUsageError("import needs at least one FILE");
  }

  private oneId(): string {
    if (this.args.length !== 1) throw new QuarUsageError(`${this.action} needs exactly one ID`);
    return this.args[0];
  }

  /** Full id of a possibly abbreviated one; unknown ids are "not found" (exit 1). */
  private resolve(store: QuarantineStore, given: string): string {
    const id = store.resolveId(given);
    if (id === undefined) throw new QuarantineNotFoundError(given);
    return id;
  }

  private doList(store: QuarantineStore): number {
    const filter: QuarFilter = {};
    for (const [key, v] of [["since", this.since], ["until", this.until]] as const) {
      if (v === undefined) continue;
      if (Number.isNaN(Date.parse(v))) throw new QuarUsageError(`--${key} ${JSON.stringify(v)} is not an ISO date or time`);
      filter[key] = v;
    }
    if (this.limit !== undefined) {
      if (!/^\d+$/.test(this.limit)) throw new QuarUsageError(`--limit ${JSON.stringify(this.limit)} is not a number`);
      filter.limit = Number(this.limit);
    }
    if (this.sender !== undefined) filter.sender = this.sender;
    if (this.recipient !== undefined) filter.recipient = this.recipient;
    if (this.name !== undefined) filter.name = this.name;
    if (this.status !== undefined) filter.status = this.status;
    if (this.agent !== undefined) filter.agent = this.agent;
    const entries = store.list(filter);
    if (this.json) {
      this.context.stdout.write(`${JSON.stringify(entries, null, 2)}\n`);
    } else {
      for (const e of entries) this.context.stdout.write(`${listLine(e)}\n`);
    }
    const cap = Math.min(filter.limit ?? MAX_LIST_ENTRIES, MAX_LIST_ENTRIES);
    if (entries.length === cap && cap > 0) this.context.stderr.write(`(stopped at ${cap} entries; narrow the filter or raise --limit)\n`);
    return 0;
  }

  private async doShow(store: QuarantineStore, given: string): Promise<number> {
    const id = this.resolve(store, given);
    const entry = store.info(id)!;
    const headers = headerLines(await store.get(id)); // get() re-hashes: corruption is exit 2
    if (this.json) {
      this.context.stdout.write(`${JSON.stringify({ ...entry, headers }, null, 2)}\n`);
      return 0;
    }
    const out: string[] = [
      `id:         ${entry.id}`,
      `received:   ${entry.receivedAt}`,
      `stored:     ${entry.storedAt}`,
      `status:     ${entry.status}`,
      `names:      ${entry.names.join(", ") || "-"}`,
      `size:       ${entry.size}`,
    ];
    if (entry.sender !== undefined) out.push(`sender:     ${entry.sender}`);
    if (entry.recipients?.length) out.push(`recipients: ${entry.recipients.join(", ")}`);
    if (entry.agent !== undefined) out.push(`agent:      ${entry.agent}`);
    if (entry.reason !== undefined) out.push(`reason:     ${entry.reason}`);
    if (entry.restoredAt !== undefined) out.push(`restored:   ${entry.restoredAt} to ${entry.restoredTo}`);
    out.push("headers:");
    for (const h of headers) out.push(`  ${h}`);
    this.context.stdout.write(`${out.map(printable).join("\n")}\n`);
    return 0;
  }

  private async doRestore(store: QuarantineStore, given: string): Promise<number> {
    const id = this.resolve(store, given);
    const { file } = await store.restore(id, this.to ?? process.cwd());
    this.context.stdout.write(`${file}\n`);
    return 0;
  }

  private async doDelete(store: QuarantineStore, given: string): Promise<number> {
    const id = this.resolve(store, given);
    await store.delete(id);
    this.context.stdout.write(`deleted ${id}\n`);
    return 0;
  }

  /** Every file is tried; any failure makes the exit code 2 after the rest are done. */
  private async doImport(store: QuarantineStore): Promise<number> {
    let failed = false;
    for (const f of this.args) {
      const abs = path.resolve(f);
      try {
        const st = await fsp.stat(abs);
        if (!st.isFile()) throw new QuarUsageError(`${f}: not a regular file`);
        if (st.size > MAX_MESSAGE_BYTES) throw new QuarUsageError(`${f}: ${st.size} bytes, over the ${MAX_MESSAGE_BYTES}-byte bound`);
        const data = await fsp.readFile(abs);
        const { id } = await store.put(data, { names: [], status: "imported", reason: `imported from ${abs}` });
        this.context.stdout.write(`${id}  ${printable(f)}\n`);
      } catch (e) {
        failed = true;
        this.context.stderr.write(`ERROR: ${printable(e instanceof Error ? e.message : String(e))}\n`);
      }
    }
    return failed ? 2 : 0;
  }
}
