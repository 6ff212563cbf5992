/**
 * A clamd-compatible protocol server over a library Scanner: TCP or a unix socket, speaking
 * clamd 1.4's protocol byte for byte (see connection.ts and commands.ts), so clamdscan and
 * every clamd client library can use Bulwark unchanged. Self-contained: the daemon mounts
 * it on the scanner it owns; tests mount it on a scanner of their own.
 *
 * VERSION answers `ClamAV 1.4.6/Bulwark <version>` by default: clients parse only the
 * leading `ClamAV <x.y.z>` (and some the text after the first "/" as a database version,
 * which is why Bulwark's name sits there rather than in front).
 *
 * `extensions` adds private commands (the daemon's zBWSCAN/zBWMAIL, host/service/) on a socket
 * of Bulwark's own: a connection whose first bytes are `z<NAME>\0` is handed to that handler,
 * every other connection is clamd's, byte for byte as without extensions.
 */
import net from "node:net";
import type { Scanner } from "../api.js";
import { type ByteBudget, processStreamBudget } from "./byte-budget.js";
import { ClamdConnection, type Preamble } from "./connection.js";
import { listenTakingOver } from "../net/listen.js";

/** Default VERSION reply; clamd 1.4.6 is the protocol level we reproduce. */
export const DEFAULT_CLAMD_VERSION = "ClamAV 1.4.6/Bulwark 0.1.0";
/** Longest command line (path included). clamd reads commands into a 1 KiB-ish buffer and
 *  paths are bounded by PATH_MAX (4096); anything longer is garbage or an attack. */
export const MAX_COMMAND_LENGTH = 4096 + 32;
/** Idle time before `COMMAND READ TIMED OUT` and close. clamd: IdleTimeout 30 s. */
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;
/** Concurrent client connections; more are refused by the kernel queue / closed at once.
 *  clamd: MaxConnectionQueueLength 200 with MaxThreads 10. Each connection may hold up to
 *  StreamMaxLength of stream data in memory; what all of them hold together is bounded by the
 *  process-wide stream budget (byte-budget.ts), not by this number. */
export const DEFAULT_MAX_CONNECTIONS = 100;
/** IDSESSION requests one connection may have in flight before we stop reading from it
 *  (back-pressure). clamd bounds its queue (MaxQueue 100); each may hold a whole stream. */
export const DEFAULT_MAX_SESSION_IN_FLIGHT = 16;

export interface ClamdListen {
  /** TCP port (0 = any free port); used when `path` is not given */
  port?: number;
  /** TCP address (default 127.0.0.1: a clamd port must not be open to the world by accident) */
  host?: string;
  /** unix socket path; takes precedence over port/host */
  path?: string;
}

/**
 * A private command (`z<NAME>\0`, e.g. the daemon's zBWSCAN/zBWMAIL) served by its own code
 * instead of clamd's. It receives the socket, with the server's listeners removed and reading
 * paused, and the bytes that followed the command's NUL in the same reads. It owns the
 * socket from then on (timeouts, replies, closing); the server only destroys it on close().
 */
export type ExtensionHandler = (sock: net.Socket, rest: Buffer) => void;

export interface ClamdServerOptions {
  scanner: Scanner;
  listen: ClamdListen;
  /** INSTREAM byte limit (clamd StreamMaxLength, default there 100 MB) */
  streamMaxLength: number;
  /** Bytes all INSTREAM buffers may hold at once (byte-budget.ts); default: the process-wide
   *  budget, shared with every other server and the daemon's private commands. */
  streamBudget?: ByteBudget;
  /** VERSION reply (default DEFAULT_CLAMD_VERSION) */
  version?: string;
  log?: (msg: string) => void;
  /** RELOAD was received (the reply RELOADING is already sent) */
  onReload?: () => void;
  /** SHUTDOWN/QUIT was received; the server closes itself after calling this */
  onShutdown?: () => void;
  idleTimeoutMs?: number;
  maxConnections?: number;
  maxSessionInFlight?: number;
  /** Private commands by NAME (without the "z" and the NUL). Only the first command of a
   *  connection can be one; they are not advertised by VERSIONCOMMANDS. */
  extensions?: Record<string, ExtensionHandler>;
}

export interface ClamdServer {
  /** where it listens: { path } for a unix socket, { host, port } for TCP */
  address: { path: string } | { host: string; port: number };
  /** stop listening and drop open connections */
  close(): Promise<void>;
}

export async function startClamdServer(opts: ClamdServerOptions): Promise<ClamdServer> {
  if (!(opts.streamMaxLength > 0)) throw new Error("clamd: streamMaxLength must be a positive number of bytes");
  const log = opts.log ?? (() => {});
  const sockets = new Set<net.Socket>();
  const maxConnections = opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  let closed: Promise<void> | null = null;

  // A client may half-close once its request is sent (shutdown(SHUT_WR): nc -N, socat, many
  // libraries after INSTREAM's zero chunk); clamd still answers it. Node's default would end
  // our side at the peer's FIN, before the scan's reply could be written, so the connection
  // (and an extension handler) ends its side itself once it has answered.
  const server = net.createServer({ allowHalfOpen: true });
  server.maxConnections = maxConnections;
  const close = (): Promise<void> => {
    closed ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    });
    return closed;
  };

  const stats = (): string => {
    const mb = (n: number) => (n / 1_048_576).toFixed(3);
    const mem = process.memoryUsage();
    return [
      "POOLS: 1",
      "",
      "STATE: VALID PRIMARY",
      `THREADS: live ${sockets.size}  idle 0 max ${maxConnections} idle-timeout ${Math.round((opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS) / 1000)}`,
      "QUEUE: 0 items",
      "\tSTATS 0.000002 ",
      "",
      `MEMSTATS: heap N/A mmap N/A used N/A free N/A releasable N/A pools 1 pools_used ${mb(mem.heapUsed)}M pools_total ${mb(mem.heapTotal)}M`,
      "END",
    ].join("\n");
  };

  const ctx = {
    scanner: opts.scanner,
    streamMaxLength: opts.streamMaxLength,
    streamBudget: opts.streamBudget ?? processStreamBudget,
    version: opts.version ?? DEFAULT_CLAMD_VERSION,
    maxCommandLength: MAX_COMMAND_LENGTH,
    idleTimeoutMs: opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
    maxSessionInFlight: opts.maxSessionInFlight ?? DEFAULT_MAX_SESSION_IN_FLIGHT,
    log,
    onReload: () => opts.onReload?.(),
    onShutdown: () => {
      log("clamd: SHUTDOWN received");
      opts.onShutdown?.();
      void close();
    },
    stats,
  };

  const extensions = opts.extensions ?? {};
  const extensionNames = Object.keys(extensions);
  server.on("connection", (sock) => {
    sockets.add(sock);
    sock.on("close", () => sockets.delete(sock));
    if (extensionNames.length === 0) new ClamdConnection(sock, ctx);
    else sniffFirstCommand(sock, extensionNames, ctx.idleTimeoutMs, (first) => {
      if (first.kind === "extension") extensions[first.name](sock, first.rest);
      else new ClamdConnection(sock, ctx, first.preamble);
    });
  });
  server.on("error", (e) => log(`clamd: server error: ${e.message}`));

  const address = await listenTakingOver(server, opts.listen, "clamd", { host: "127.0.0.1", port: 3310 });
  log(`clamd: listening on ${"path" in address ? address.path : `${address.host}:${address.port}`}`);
  return { address, close };
}

type FirstCommand = { kind: "extension"; name: string; rest: Buffer } | { kind: "clamd"; preamble: Preamble };

/**
 * Read just enough of a new connection to tell a private command from clamd's: as soon as
 * the bytes received stop being a prefix of some `z<NAME>\0`, they belong to clamd's protocol
 * (so at most the longest extension command is held, bounded by MAX_COMMAND_LENGTH), and they
 * are handed over untouched, with whether the peer already half-closed or went idle, so the
 * ClamdConnection behaves exactly as if it had read them itself.
 */
function sniffFirstCommand(sock: net.Socket, names: string[], idleTimeoutMs: number, done: (first: FirstCommand) => void): void {
  const commands = names
    .map((name) => ({ name, bytes: Buffer.from(`z${name}\0`, "latin1") }))
    .filter((c) => !c.name.includes("\0") && c.bytes.length <= MAX_COMMAND_LENGTH);
  let buf: Buffer = Buffer.alloc(0);
  const finish = (first: FirstCommand) => {
    sock.off("data", onData);
    sock.off("end", onEnd);
    sock.off("timeout", onTimeout);
    sock.off("error", onError);
    // an extension handler starts with reading paused; a ClamdConnection attaches its own
    // "data" listener in the same tick, so the socket keeps flowing for it
    if (first.kind === "extension") sock.pause();
    done(first);
  };
  const onData = (d: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, d]) : d;
    const hit = commands.find((c) => buf.length >= c.bytes.length && buf.subarray(0, c.bytes.length).equals(c.bytes));
    if (hit) return finish({ kind: "extension", name: hit.name, rest: Buffer.from(buf.subarray(hit.bytes.length)) });
    const couldBeOne = commands.some((c) => buf.length < c.bytes.length && c.bytes.subarray(0, buf.length).equals(buf));
    if (!couldBeOne) finish({ kind: "clamd", preamble: { initial: buf } });
  };
  const onEnd = () => finish({ kind: "clamd", preamble: { initial: buf, ended: true } });
  const onTimeout = () => finish({ kind: "clamd", preamble: { initial: buf, idle: true } });
  // an unhandled "error" event would crash the process; a peer reset before its first command
  // needs no answer
  const onError = () => sock.destroy();
  sock.setTimeout(idleTimeoutMs);
  sock.on("error", onError);
  sock.on("data", onData);
  sock.on("end", onEnd);
  sock.on("timeout", onTimeout);
}
