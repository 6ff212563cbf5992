/**
 * The [smtp] agent: an SMTP proxy (Postfix content_filter / smtpd_proxy_filter, or in front of
 * any MTA), run by the daemon's supervisor as `node dist/agents/smtp/main.js --config FILE`.
 * Talks to: SMTP clients on [smtp] listen_addr:listen_port (smtp-server); the next hop on
 *   server_addr:server_port, one session per client transaction (next-hop.ts): the client's
 *   MAIL and each RCPT are passed on as they come and the next hop's answer is the client's
 *   answer; DATA goes on only after the manager (daemon_socket_path, one zBWMAIL request at end
 *   of DATA) accepted the mail; its parent over the IPC channel ("ready" once it listens).
 * Reads: the configuration and the [smtp] user_config file (to keep recipients with different
 *   settings out of one transaction). Each message is held in memory up to [global]
 *   max_file_size (a larger one is refused with 552, as the SIZE it announces says).
 * Writes: nothing on disk; log lines on stderr (the supervisor relays them into the daemon's log).
 * On failure: never a 250 before the next hop accepted. Daemon unreachable, a malformed answer,
 *   the next hop unreachable, silent or garbled -> 451 4.7.1 (the client retries); the next
 *   hop's own 4xx/5xx is passed back. A bad configuration or a port that cannot be opened exits
 *   2 (the supervisor restarts it with back-off, then gives up loudly). SIGTERM/SIGINT or a
 *   closed IPC channel (the manager is gone) closes the listener and exits 0.
 */
import os from "node:os";
import { SMTPServer, type SMTPServerAddress, type SMTPServerSession } from "smtp-server";
import { wireOf, smtpReplyLine } from "../../host/policy/wire.js";
import { agentLog, loadResidentConfig, runResidentAgent, serveUntilStopped } from "../common/resident.js";
import { compileRelayPolicy, decideRelay, inRelayNetworks } from "./relay-check.js";
import { filterEhlo } from "./ehlo-filter.js";
import { type Hop, probeEhlo, type Reply, replyText } from "./next-hop.js";
import { Transactions } from "./transaction.js";
import { handleMessage, type MessageContext, nextHopRefusal, smtpError, wireError } from "./message.js";
import { RecipientSplitter, SPLIT_REPLY } from "../common/recipient-split.js";

/** Added to max_scan_time for the longest wait on the manager for one mail: the scan may take
 *  max_scan_time plus the pool watchdog's grace, and the mail may wait in the manager's queue. */
const REPLY_MARGIN_MS = 30_000;
/** Concurrent client connections: each may hold one message of up to max_file_size in memory. */
const MAX_CLIENTS = 100;
/** Time a stopping agent waits for open sessions before it exits anyway. */
const SHUTDOWN_GRACE_MS = 5_000;
/** Idle time of a client between commands (RFC 5321 §4.5.3.2.7 asks servers for 5 minutes). */
const CLIENT_IDLE_TIMEOUT_MS = 300_000;

const log = agentLog;

/** The address of the host that really connected (XFORWARD ADDR replaces remoteAddress). */
function peerAddress(session: SMTPServerSession): string {
  const original = session.xForward?.get("ADDR:DEFAULT");
  return typeof original === "string" && original !== "" ? original : session.remoteAddress;
}

async function main(argv: string[]): Promise<number> {
  const ac = loadResidentConfig(argv, "smtp", log);
  if (!ac) return 2;
  const { config, socketPath } = ac;
  // A bad entry disables this agent loudly (exit 2; the supervisor gives up after its retries)
  // rather than relaying with a guessed policy; the other agents keep running.
  const { policy: relayPolicy, errors } = compileRelayPolicy(config.list("smtp", "relay_networks"), config.list("smtp", "relay_domains"));
  if (errors.length) {
    log(`error: [smtp] relay_networks/relay_domains: ${errors.join("; ")}`);
    return 2;
  }
  const maxFileSize = config.int("global", "max_file_size");
  const hop: Hop = { host: config.str("smtp", "server_addr"), port: config.int("smtp", "server_port"), name: os.hostname() };

  // What we offer depends on what the next hop offers; if it cannot be asked now, offer only
  // what needs nothing from it (the conservative set).
  const probe = await probeEhlo(hop);
  if ("error" in probe) log(`warning: cannot read the EHLO of ${hop.host}:${hop.port} (${probe.error}); offering the minimal ESMTP set`);
  const offer = filterEhlo("lines" in probe ? probe.lines : [], {
    maxMessageBytes: maxFileSize,
    pipelining: true,
    eightBitMime: true, // forwarded as BODY=8BITMIME
    smtputf8: true, // forwarded as SMTPUTF8 (transaction.ts)
    dsn: true, // RET/ENVID and per-recipient NOTIFY/ORCPT forwarded (transaction.ts)
    xforward: true,
  });
  const has = (k: string) => offer.keywords.some((w) => w.split(" ")[0] === k);
  if (offer.stripped.length) log(`not offering the next hop's ${offer.stripped.join(", ")}`);

  const splitter = new RecipientSplitter(config, "smtp", log);
  /** the options key of each transaction's first recipient (smtp-server makes a new envelope
   *  object per transaction, so an entry dies with its transaction) */
  const transactionKeys = new WeakMap<object, string>();

  const transactions = new Transactions(hop);
  /** What the client hears when the next hop gave no usable reply (down, timeout, garbled). */
  const nextHopFailed = (what: string, r: Reply): Error => {
    log(`error: next hop ${hop.host}:${hop.port} at ${what}: ${replyText(r)}`);
    return wireError("defer");
  };

  const ctx: MessageContext = {
    socketPath,
    hopName: `${hop.host}:${hop.port}`,
    maxFileSize,
    daemonTimeoutMs: config.int("global", "max_scan_time") + REPLY_MARGIN_MS,
    log,
  };

  const server = new SMTPServer({
    banner: "Bulwark SMTP proxy",
    logger: false,
    authOptional: true,
    disabledCommands: ["AUTH", "STARTTLS"],
    hideSTARTTLS: true,
    hidePIPELINING: !has("PIPELINING"),
    hide8BITMIME: !has("8BITMIME"),
    hideSMTPUTF8: !has("SMTPUTF8"),
    hideDSN: !has("DSN"),
    hideENHANCEDSTATUSCODES: true,
    // SIZE is announced only when the next hop announces it; the limit is enforced either way
    // (message.ts counts the bytes), smtp-server's own check only when announced.
    size: offer.size,
    // XFORWARD is honoured only from relay networks (checked in onMailFrom); XCLIENT never.
    useXForward: true,
    useXClient: false,
    // no reverse DNS per connection: it would add a DNS dependency and its latency to every
    // mail; the MTA in front reports the name it found (XFORWARD NAME)
    disableReverseLookup: true,
    maxClients: MAX_CLIENTS,
    socketTimeout: CLIENT_IDLE_TIMEOUT_MS,
    onMailFrom(address: SMTPServerAddress, session: SMTPServerSession, cb: (err?: Error | null) => void) {
      const peer = peerAddress(session);
      if (session.xForward?.has("ADDR") && !inRelayNetworks(relayPolicy, peer)) {
        return cb(smtpError(550, "5.7.1 XFORWARD is accepted only from the trusted MTA"));
      }
      // the next hop hears MAIL now, and its answer is the client's answer
      transactions.begin(session, address).then(
        (r) => (r.code === 250 ? cb() : cb(r.code === 0 ? nextHopFailed("MAIL", r) : nextHopRefusal(r))),
        (e: Error) => cb(nextHopFailed("MAIL", { code: 0, lines: [], error: e.message })),
      );
    },
    onRcptTo(address: SMTPServerAddress, session: SMTPServerSession, cb: (err?: Error | null) => void) {
      // smtp-server has already dropped a source route (RFC 5321 §4.1.2: accepted and ignored),
      // so `<@relay:user@local>` is checked, and relayed, as plain <user@local>
      const smtputf8 = (session.envelope as { smtpUtf8?: boolean }).smtpUtf8 === true;
      const d = decideRelay(relayPolicy, peerAddress(session), `<${address.address}>`, { smtputf8 });
      if (!d.allowed) {
        log(`refused RCPT <${address.address}> from ${peerAddress(session)}: ${d.detail}`);
        return cb(smtpError(d.reason === "syntax" ? 501 : 554, `5.7.1 ${d.detail}`));
      }
      const key = splitter.keyOf({
        sender: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
        recipient: address.address,
        clientAddr: session.remoteAddress, // as message.ts sends it to the daemon
        serverAddr: session.localAddress,
      });
      const first = session.envelope.rcptTo.length === 0;
      if (!first && !RecipientSplitter.fits(transactionKeys.get(session.envelope), key)) {
        log(`split: <${address.address}> has other settings than the transaction's first recipient; asked to send it separately`);
        return cb(smtpError(SPLIT_REPLY.code, `${SPLIT_REPLY.enhanced} ${SPLIT_REPLY.text}`));
      }
      // the next hop's answer for this recipient is the client's answer (an unknown user is
      // refused here, not accepted and lost)
      transactions.rcpt(session, address).then(
        (r) => {
          if (r.code === 250 || r.code === 251) {
            if (first && key !== undefined) transactionKeys.set(session.envelope, key);
            return cb();
          }
          cb(r.code === 0 ? nextHopFailed("RCPT", r) : nextHopRefusal(r));
        },
        (e: Error) => cb(nextHopFailed("RCPT", { code: 0, lines: [], error: e.message })),
      );
    },
    onData(stream, session, cb) {
      const next = transactions.current(session);
      handleMessage(ctx, stream, session, peerAddress(session), next)
        .catch((e: Error) => {
          log(`error: ${e?.stack ?? e}`);
          return { error: wireError("defer") };
        })
        .then((r) => {
          // the transaction is over either way (a next hop that got no DATA never sees the
          // mail); the client's answer does not wait for the next hop's QUIT reply
          void transactions.end(session);
          if ("error" in r) cb(r.error);
          else cb(null, r.message);
        });
    },
    onClose(session: SMTPServerSession) {
      void transactions.end(session);
    },
  });
  server.on("error", (e: Error) => log(`error: smtp listener: ${e.message}`));

  const addr = config.str("smtp", "listen_addr");
  const port = config.int("smtp", "listen_port");
  try {
    await new Promise<void>((resolve, reject) => {
      const onError = (e: Error) => reject(e);
      server.server.once("error", onError);
      server.listen(port, addr, () => {
        server.server.removeListener("error", onError);
        resolve();
      });
    });
  } catch (e) {
    log(`error: cannot listen on ${addr}:${port}: ${(e as Error).message}`);
    return 2;
  }
  log(`SMTP proxy on ${addr}:${port}, relaying to ${hop.host}:${hop.port} (${smtpReplyLine(wireOf({ action: "defer" }, "smtp"))} on any failure)`);

  let stopping = false;
  const stop = (code: number) => {
    if (stopping) return;
    stopping = true;
    server.close(() => process.exit(code));
    transactions.closeAll();
    // smtp-server waits for open sessions; do not let one hold a shutdown forever
    setTimeout(() => process.exit(code), SHUTDOWN_GRACE_MS).unref();
  };
  serveUntilStopped((code) => void stop(code), log);
  return -1;
}

runResidentAgent(main, log);
