/**
 * A spamd-protocol server (SpamAssassin's spamc and other spamd clients) over a SpamdBackend:
 * TCP or a unix socket, one request per connection as spamd does (read the request, answer,
 * close). The [spamd] agent (agents/spamd/main.ts) mounts it on a backend that asks the
 * manager; tests mount it on one of their own.
 *
 * Bounded: MAX_CONNECTIONS at once; a request's header block and body by protocol.ts (body at
 * most max_file_size, charged to the process's stream budget while held); IDLE_TIMEOUT_MS of
 * silence or REQUEST_TIMEOUT_MS for a whole request, after which the connection gets an error
 * reply (if writable) and is closed. A request that breaks the protocol gets spamd's error line;
 * the rest of what the client sends is read and dropped until it closes (so it reads our reply
 * instead of a reset), for at most DRAIN_TIMEOUT_MS. A backend that fails gives a temporary
 * failure line, never a verdict: `spamc -x` then exits 74 and the MTA retries later.
 */
import net from "node:net";
import { type ByteBudget, processStreamBudget } from "../clamd/byte-budget.js";
import type { LearnOutcome, SpamResult } from "../spam/types.js";
import { EX, RequestReader, SpamdError, type SpamdRequest } from "./protocol.js";
import { bodyReply, checkReply, errorReply, headerBlock, pongReply, reportText, symbolsText, tellReply } from "./replies.js";
import { listenTakingOver } from "../net/listen.js";

/** Longest silence while a request arrives: spamd's --timeout-tcp default (30 s). */
export const IDLE_TIMEOUT_MS = 30_000;
/** Longest a whole request may take to arrive, however steadily it trickles (slowloris). spamc
 *  sends a message in one write right after connecting; 60 s is ample for max_file_size on a
 *  slow local link and far below spamc's own 600 s timeout. */
export const REQUEST_TIMEOUT_MS = 60_000;
/** After the reply has left, how long the client may keep the connection (sending the rest of a
 *  refused request, which is read and dropped) before it is closed. */
export const DRAIN_TIMEOUT_MS = 5_000;
/** Connections at once; spamd's default is 5 children with a listen queue, clamd's 100. Each
 *  may hold a message (the stream budget bounds what they hold together). */
export const MAX_CONNECTIONS = 100;

/** A backend failure with the reply code it deserves (EX_UNAVAILABLE, EX_TEMPFAIL). */
export class BackendError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
    this.name = "BackendError";
  }
}

export interface SpamdBackend {
  classify(raw: Buffer): Promise<SpamResult>;
  learn(raw: Buffer, cls: "spam" | "ham" | "forget"): Promise<LearnOutcome>;
  /** the message with Bulwark's spam header fields and subject template (PROCESS, HEADERS) */
  mark(raw: Buffer, result: SpamResult): Buffer;
}

export interface SpamdListen {
  path?: string;
  port?: number;
  host?: string;
}

export interface SpamdServerOptions {
  backend: SpamdBackend;
  listen: SpamdListen;
  /** max_file_size */
  maxBody: number;
  /** [spamd] allow_tell */
  allowTell: boolean;
  log?: (m: string) => void;
  streamBudget?: ByteBudget;
  idleTimeoutMs?: number;
  requestTimeoutMs?: number;
}

export interface SpamdServer {
  address: { path: string } | { host: string; port: number };
  close(): Promise<void>;
}

const message = (e: unknown) => String((e as Error)?.message ?? e);

/** The reply to a whole request (PING and SKIP excepted), or a BackendError / SpamdError. */
async function answer(req: SpamdRequest, o: SpamdServerOptions): Promise<Buffer[]> {
  const { backend } = o;
  if (req.command === "TELL") {
    if (!o.allowTell) throw new SpamdError(EX.NOPERM, "Permission denied: TELL is disabled on this server ([spamd] allow_tell = no)");
    const setLocal = req.set.has("local");
    const removeLocal = req.remove.has("local");
    if (setLocal && removeLocal) throw new SpamdError(EX.PROTOCOL, "Bad header line: (Unable to set local and remove local in the same operation.)");
    if (setLocal && !req.messageClass) throw new SpamdError(EX.PROTOCOL, "Bad header line: (Set needs a Message-class header)");
    // remote reporting (Razor, Pyzor, SpamCop) is not Bulwark's: `remote` is not done, and
    // spamc -C report then says it could not report, as with a spamd without those plugins
    if (setLocal) {
      const r = await backend.learn(req.body, req.messageClass!);
      return [tellReply(r.outcome === "learned" || r.outcome === "relearned", false)];
    }
    if (removeLocal) {
      const r = await backend.learn(req.body, "forget");
      return [tellReply(false, r.outcome === "forgotten")];
    }
    return [tellReply(false, false)];
  }
  const result = await backend.classify(req.body);
  switch (req.command) {
    case "CHECK":
      return [checkReply(result)];
    case "SYMBOLS":
      return bodyReply(result, Buffer.from(symbolsText(result), "latin1"));
    case "REPORT":
      return bodyReply(result, Buffer.from(reportText(result), "utf8"));
    case "REPORT_IFSPAM":
      return bodyReply(result, result.status === "spam" ? Buffer.from(reportText(result), "utf8") : Buffer.alloc(0));
    case "PROCESS":
      return bodyReply(result, backend.mark(req.body, result));
    case "HEADERS":
      return bodyReply(result, headerBlock(backend.mark(req.body, result)));
    default:
      throw new SpamdError(EX.PROTOCOL, `Bad header line: ${req.command}`);
  }
}

/** Serve one connection: one request, one reply. */
function serveConnection(sock: net.Socket, o: SpamdServerOptions): void {
  const log = o.log ?? (() => {});
  const budget = o.streamBudget ?? processStreamBudget;
  let charged = 0;
  const reader = new RequestReader(o.maxBody, (n) => {
    if (!budget.tryCharge(n)) return false;
    charged += n;
    return true;
  });
  const release = () => {
    budget.release(charged);
    charged = 0;
  };
  let state: "reading" | "working" | "done" = "reading";
  const idleMs = o.idleTimeoutMs ?? IDLE_TIMEOUT_MS;
  const deadline = setTimeout(() => fail(new SpamdError(EX.TEMPFAIL, `Timeout: the request did not arrive whole within ${o.requestTimeoutMs ?? REQUEST_TIMEOUT_MS} ms`)), o.requestTimeoutMs ?? REQUEST_TIMEOUT_MS);

  /** Write the reply, close our side, drop what the client still sends until it closes. */
  const send = (parts: Buffer[]) => {
    state = "done";
    clearTimeout(deadline);
    release();
    if (sock.destroyed) return;
    // a client that stops reading our reply is cut off after the idle time; once the reply is
    // out it has DRAIN_TIMEOUT_MS to close, however much it still sends (read and dropped)
    sock.setTimeout(idleMs, () => sock.destroy());
    sock.once("finish", () => setTimeout(() => sock.destroy(), DRAIN_TIMEOUT_MS).unref());
    sock.removeAllListeners("data");
    sock.on("data", () => {});
    if (sock.writable) {
      sock.cork();
      for (const p of parts) sock.write(p);
      sock.uncork();
      sock.end();
    } else {
      sock.destroy();
      return;
    }
    sock.resume();
  };
  const fail = (e: unknown) => {
    if (state === "done") return;
    const code = e instanceof SpamdError || e instanceof BackendError ? e.code : EX.SOFTWARE;
    const text = e instanceof SpamdError ? e.message : e instanceof BackendError ? e.message : `Internal error: ${message(e)}`;
    log(`spamd: ${code === EX.PROTOCOL || code === EX.DATAERR || code === EX.NOPERM ? "request refused" : "error"}: ${text}`);
    send([errorReply(code, text)]);
  };
  const handle = (req: SpamdRequest) => {
    state = "working";
    clearTimeout(deadline);
    sock.setTimeout(0);
    sock.pause();
    if (req.command === "SKIP") {
      state = "done";
      release();
      sock.destroy();
      return;
    }
    if (req.command === "PING") return send([pongReply()]);
    answer(req, o).then(
      (parts) => send(parts),
      (e) => fail(e),
    ).finally(release);
  };
  const step = (fn: () => ReturnType<RequestReader["push"]>) => {
    if (state !== "reading") return;
    try {
      const r = fn();
      if (r.kind === "request") handle(r.request);
    } catch (e) {
      fail(e);
    }
  };

  sock.setTimeout(idleMs);
  sock.on("timeout", () => {
    if (state === "reading") fail(new SpamdError(EX.TEMPFAIL, `Timeout: no data from the client for ${idleMs} ms`));
  });
  sock.on("error", (e) => {
    if (state !== "done") log(`spamd: connection error: ${e.message}`);
    state = "done";
    clearTimeout(deadline);
    release();
    sock.destroy();
  });
  sock.on("close", () => {
    clearTimeout(deadline);
    if (state === "reading") release();
  });
  sock.on("data", (d: Buffer) => step(() => reader.push(d)));
  sock.on("end", () => step(() => reader.end()));
}

export async function startSpamdServer(o: SpamdServerOptions): Promise<SpamdServer> {
  if (!(o.maxBody > 0)) throw new Error("spamd: maxBody must be a positive number of bytes");
  const log = o.log ?? (() => {});
  const sockets = new Set<net.Socket>();
  // spamc half-closes once its request is sent and reads the reply after: keep our side open
  const server = net.createServer({ allowHalfOpen: true });
  server.maxConnections = MAX_CONNECTIONS;
  server.on("connection", (sock) => {
    sockets.add(sock);
    sock.on("close", () => sockets.delete(sock));
    serveConnection(sock, o);
  });
  server.on("error", (e) => log(`spamd: server error: ${e.message}`));
  let closed: Promise<void> | null = null;
  const close = () => {
    closed ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    });
    return closed;
  };
  const address = await listenTakingOver(server, o.listen, "spamd", { host: "127.0.0.1", port: 783 });
  log(`spamd: listening on ${"path" in address ? address.path : `${address.host}:${address.port}`}`);
  return { address, close };
}
