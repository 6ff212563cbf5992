/**
 * The statistics state file: its JSON format, strict decoding (anything unexpected is
 * "corrupt", never half-trusted), and an atomic asynchronous write.
 *
 * Format (version 1):
 *   { "format": "bulwark-stats", "version": 1, "savedAt": ISO,
 *     "agents": { "<agent>": { "since": ISO, "scanned": n, ..., "rejected": n }, ... } }
 * Every counter is a non-negative safe integer; every agent name is one of STATS_AGENTS. An agent
 * missing from the file (one added in a later release) starts at zero; the rest must be valid or
 * the whole file is corrupt: partially trusting a damaged file would mix true and false counts.
 */
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { type AgentStats, COUNTER_NAMES, type StatsAgent, type StatsSnapshot, isStatsAgent } from "./counters.js";

export const STATE_FORMAT = "bulwark-stats";
export const STATE_VERSION = 1;

/** The state is ~13 agents x ~200 bytes. A file far larger is not ours (or is garbage); reading
 *  it whole would let a stray multi-GB file exhaust the daemon's memory at start-up. */
export const MAX_STATE_FILE_BYTES = 1024 * 1024;

/** Stats are not secret (the web console shows them), but only the daemon writes them. */
const STATE_FILE_MODE = 0o644;

export class CorruptStateError extends Error {}

export function encodeState(snap: StatsSnapshot): string {
  return `${JSON.stringify({ format: STATE_FORMAT, version: STATE_VERSION, savedAt: snap.takenAt, agents: snap.agents }, null, 1)}\n`;
}

function isIsoDate(v: unknown): v is string {
  if (typeof v !== "string") return false;
  const t = Date.parse(v);
  return Number.isFinite(t) && new Date(t).toISOString() === v;
}

/** Decode a state file's text; throws CorruptStateError naming the first problem. */
export function decodeState(text: string): Partial<Record<StatsAgent, AgentStats>> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new CorruptStateError(`not JSON (${(e as Error).message})`);
  }
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
  if (!isObject(doc)) throw new CorruptStateError("not a JSON object");
  if (doc.format !== STATE_FORMAT) throw new CorruptStateError(`format is not ${JSON.stringify(STATE_FORMAT)}`);
  if (doc.version !== STATE_VERSION) throw new CorruptStateError(`unsupported version ${JSON.stringify(doc.version)}`);
  if (!isObject(doc.agents)) throw new CorruptStateError("agents is not an object");
  const out: Partial<Record<StatsAgent, AgentStats>> = {};
  for (const [name, entry] of Object.entries(doc.agents)) {
    if (!isStatsAgent(name)) throw new CorruptStateError(`unknown agent ${JSON.stringify(name)}`);
    if (!isObject(entry)) throw new CorruptStateError(`agents.${name} is not an object`);
    if (!isIsoDate(entry.since)) throw new CorruptStateError(`agents.${name}.since is not an ISO 8601 UTC time`);
    const stats = { since: entry.since } as AgentStats;
    for (const k of COUNTER_NAMES) {
      const v = entry[k];
      if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
        throw new CorruptStateError(`agents.${name}.${k} is not a non-negative integer`);
      }
      stats[k] = v;
    }
    out[name] = stats;
  }
  return out;
}

/** Read a state file. `null` when it does not exist; CorruptStateError when it is not a valid
 *  state; other I/O errors (permissions, a directory) are thrown as they are. */
export function readStateFile(file: string): Partial<Record<StatsAgent, AgentStats>> | null {
  let fd: number;
  try {
    fd = fs.openSync(file, "r");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw e;
  }
  try {
    const size = fs.fstatSync(fd).size;
    if (size > MAX_STATE_FILE_BYTES) throw new CorruptStateError(`${size} bytes, larger than ${MAX_STATE_FILE_BYTES}`);
    // read one byte past the limit: a file growing while we read is caught too
    const buf = Buffer.alloc(MAX_STATE_FILE_BYTES + 1);
    let len = 0;
    for (;;) {
      const n = fs.readSync(fd, buf, len, buf.length - len, null);
      if (n === 0) break;
      len += n;
      if (len > MAX_STATE_FILE_BYTES) throw new CorruptStateError(`larger than ${MAX_STATE_FILE_BYTES} bytes`);
    }
    return decodeState(buf.subarray(0, len).toString("utf8"));
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Replace `file` atomically: temp file in the same directory (so rename is atomic), fsync it,
 * rename over the target, fsync the directory so the rename survives a power loss. A reader
 * sees the old state or the new one, never half of each. Asynchronous: the daemon's event loop
 * keeps serving while the disk syncs.
 */
export async function writeStateAtomic(file: string, text: string): Promise<void> {
  const dir = path.dirname(path.resolve(file));
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  const fh = await fs.promises.open(tmp, "wx", STATE_FILE_MODE);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } catch (e) {
    await fh.close();
    await fs.promises.rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  try {
    await fs.promises.rename(tmp, file);
  } catch (e) {
    await fs.promises.rm(tmp, { force: true });
    throw e;
  }
  const dh = await fs.promises.open(dir, "r");
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}
