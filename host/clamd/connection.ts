/**
 * One client connection speaking clamd's protocol. Outside IDSESSION a connection carries
 * one command and is closed after its reply (clamd does the same). Inside IDSESSION each
 * command gets the next id (from 1) and its reply `<id>: …` is written when it completes,
 * so replies come in completion order; END waits for the replies in flight, then closes.
 * Protocol errors (unknown command, over-long line, stream over StreamMaxLength) get their
 * clamd reply and close the connection.
 */
import type { Socket } from "node:net";
import type { Scanner } from "../api.js";
import { BudgetExhausted, type ByteBudget } from "./byte-budget.js";
import { ADVERTISED_COMMANDS, parseCommand, type RawCommand, type Terminator } from "./commands.js";
import { FrameDecoder, StreamBuffer } from "./framing.js";
import { scanPathCommand, verdictLines, type PathMode } from "./replies.js";
import { canStream, type ScanStream } from "./streaming.js";

export interface ConnectionContext {
  scanner: Scanner;
  streamMaxLength: number;
  /** the process-wide budget INSTREAM buffers are charged to (byte-budget.ts) */
  streamBudget: ByteBudget;
  version: string;
  maxCommandLength: number;
  idleTimeoutMs: number;
  maxSessionInFlight: number;
  log: (msg: string) => void;
  onReload: () => void;
  onShutdown: () => void;
  /** text of the STATS block (without the final terminator) */
  stats: () => string;
}

/** What the server read before handing a connection over (server.ts reads the first bytes to
 *  recognise its private commands): those bytes, and whether the peer had already
 *  half-closed or been idle for the idle timeout. */
export interface Preamble {
  initial: Buffer;
  ended?: boolean;
  idle?: boolean;
}

/** After our final reply, how long a peer that keeps the socket open may linger before it
 *  is destroyed: long enough for the reply to drain, short enough not to hold a slot. */
const CLOSE_GRACE_MS = 2_000;

/** How long a bare (unterminated, unprefixed) path command waits for more bytes before it is
 *  taken as complete. On loopback the rest of a split write follows within microseconds; a
 *  client using the bare form sends nothing more and waits for the reply, so it pays this once. */
export const BARE_COMMAND_WAIT_MS = 50;

type State = "command" | "instream" | "busy" | "closing";

export class ClamdConnection {
  private readonly dec: FrameDecoder;
  private state: State = "command";
  private session = false;
  private nextId = 1;
  private inFlight = 0;
  /** The INSTREAM being received: its command, id and size so far, and where its bytes go:
   *  collected into one buffer for the scanner, or written on as they come (`sink`, a
   *  StreamingScanner such as the [clamd] agent's, which forwards them to the manager). */
  private stream: { raw: RawCommand; id: number; size: number; data: StreamBuffer | null; sink: ScanStream | null } | null = null;
  /** reading is paused until the sink takes more (back-pressure on a forwarded stream) */
  private waitingDrain = false;
  /** a command was dispatched on this connection (the bare form is only for the first one) */
  private dispatched = false;
  private bareTimer: NodeJS.Timeout | undefined;
  /** runs the bare path command waiting for BARE_COMMAND_WAIT_MS (at once when the peer ends) */
  private bareRun: (() => void) | undefined;

  constructor(private readonly sock: Socket, private readonly ctx: ConnectionContext, preamble?: Preamble) {
    this.dec = new FrameDecoder(ctx.maxCommandLength);
    sock.setNoDelay(true);
    sock.setTimeout(ctx.idleTimeoutMs);
    sock.on("timeout", () => this.onIdle());
    sock.on("data", (d: Buffer) => this.onData(d));
    sock.on("error", (e) => ctx.log(`clamd: connection error: ${e.message}`));
    sock.on("end", () => this.onEnd());
    sock.on("close", () => this.abortStream());
    if (preamble?.initial.length) this.onData(preamble.initial);
    if (preamble?.ended) this.onEnd();
    else if (preamble?.idle) this.onIdle();
  }

  private onEnd(): void {
    // a bare path command cannot be the first half of a longer one any more: clamd runs it
    this.bareRun?.();
    // peer half-closed: nothing more will come; finish what is in flight, then close
    if (this.state === "command" || this.state === "instream") this.finish();
  }

  private write(text: string, term: Terminator): void {
    if (!this.sock.destroyed && this.sock.writable) this.sock.write(Buffer.from(text + term, "latin1"));
  }

  private reply(id: number, text: string, term: Terminator): void {
    this.write(this.session ? `${id}: ${text}` : text, term);
  }

  /** Stop reading; close once in-flight session replies are written. */
  private finish(): void {
    if (this.state === "closing") return;
    this.abortStream(); // a stream cut short is never scanned
    this.state = "closing";
    this.sock.pause();
    this.closeWhenIdle();
  }

  private closeWhenIdle(): void {
    if (this.state !== "closing" || this.inFlight > 0) return;
    this.sock.end();
    setTimeout(() => this.sock.destroy(), CLOSE_GRACE_MS).unref();
  }

  private onIdle(): void {
    // waiting for the sink is not the client's silence: the sink's own timeout ends that wait
    if (this.state === "closing" || this.state === "busy" || this.inFlight > 0 || this.waitingDrain) return;
    this.write("COMMAND READ TIMED OUT", "\n");
    this.finish();
  }

  private onData(d: Buffer): void {
    if (this.state === "closing" || this.state === "busy") return; // one command per connection outside IDSESSION
    this.dec.push(d);
    this.pump();
  }

  /** Consume as much buffered input as the current state allows. */
  private pump(): void {
    while ((this.state === "command" || this.state === "instream") && !this.waitingDrain) {
      if (this.session && this.inFlight >= this.ctx.maxSessionInFlight) {
        this.sock.pause(); // back-pressure: resumed when a reply is written
        return;
      }
      if (this.state === "instream") {
        if (!this.pumpStream()) return;
        continue;
      }
      const raw = this.dec.readCommand();
      if (raw === "need-more") {
        this.maybeBareCommand();
        return;
      }
      if (raw === "too-long") {
        this.write(this.session ? `${this.nextId}: UNKNOWN COMMAND` : "UNKNOWN COMMAND", "\n");
        this.finish();
        return;
      }
      this.dispatch(raw);
    }
  }

  /**
   * clamd takes the first packet of a connection as the command when it has no z/n prefix and
   * no newline (server-th.c get_cmd), and clients rely on it (kylefarris/clamscan sends a bare
   * `PING`, `MULTISCAN /path`). A bare name of an argument-less command is complete as it is:
   * run it now. A bare path command may still be the first half of a newline-terminated one
   * split across writes, so it runs only if nothing more arrives within BARE_COMMAND_WAIT_MS.
   */
  private maybeBareCommand(): void {
    clearTimeout(this.bareTimer);
    this.bareRun = undefined;
    if (this.session || this.nextId !== 1 || this.dispatched) return;
    const raw = this.dec.peekBareCommand();
    if (!raw) return;
    const cmd = parseCommand(raw);
    if (!cmd.ok) return;
    const run = () => {
      clearTimeout(this.bareTimer);
      this.bareRun = undefined;
      if (this.state !== "command" || this.dispatched || this.dec.peekBareCommand()?.text !== raw.text) return;
      this.dec.takeBareCommand();
      this.dispatch(raw);
      this.pump();
    };
    if (cmd.arg === "") run();
    else {
      this.bareRun = run;
      this.bareTimer = setTimeout(run, BARE_COMMAND_WAIT_MS);
    }
  }

  private dispatch(raw: RawCommand): void {
    this.dispatched = true;
    clearTimeout(this.bareTimer);
    const cmd = parseCommand(raw);
    if (this.session) {
      const id = this.nextId++;
      if (!cmd.ok || !cmd.inSession) {
        this.reply(id, "Command invalid inside IDSESSION. ERROR", raw.term);
        this.finish();
        return;
      }
      if (cmd.name === "END") {
        this.nextId--; // END has no reply and takes no id
        this.finish();
        return;
      }
      this.execute(cmd.name, cmd.arg, raw, id);
      return;
    }
    if (!cmd.ok || cmd.name === "END") {
      this.write("UNKNOWN COMMAND", raw.term);
      this.finish();
      return;
    }
    if (cmd.name === "IDSESSION") {
      this.session = true;
      return;
    }
    this.execute(cmd.name, cmd.arg, raw, 0);
  }

  private execute(name: string, arg: string, raw: RawCommand, id: number): void {
    const { term } = raw;
    switch (name) {
      case "PING":
        this.reply(id, "PONG", term);
        return this.afterQuickReply();
      case "VERSION":
        this.reply(id, this.ctx.version, term);
        return this.afterQuickReply();
      case "VERSIONCOMMANDS":
        this.reply(id, `${this.ctx.version}| COMMANDS: ${ADVERTISED_COMMANDS}`, term);
        return this.afterQuickReply();
      case "STATS":
        this.reply(id, this.ctx.stats(), term);
        return this.afterQuickReply();
      case "RELOAD":
        this.write("RELOADING", term);
        this.ctx.onReload();
        return this.finish();
      case "SHUTDOWN":
      case "QUIT":
        this.finish();
        this.ctx.onShutdown();
        return;
      case "DETSTATS":
      case "DETSTATSCLEAR":
        // clamd 1.4 still parses these but answers nothing and closes
        return this.finish();
      case "INSTREAM": {
        const scanner = this.ctx.scanner;
        const sink = canStream(scanner) ? scanner.openStream() : null;
        this.stream = { raw, id, size: 0, sink, data: sink ? null : new StreamBuffer(this.ctx.streamMaxLength, this.ctx.streamBudget) };
        this.state = "instream";
        return;
      }
      default:
        this.runAsync(id, term, arg, scanPathCommand(this.ctx.scanner, name as PathMode, arg));
    }
  }

  /** Outside a session a quick reply ends the connection; inside, reading goes on. */
  private afterQuickReply(): void {
    if (!this.session) this.finish();
  }

  /** Returns false when more input is needed or the connection is closing. */
  private pumpStream(): boolean {
    const s = this.stream!;
    const r = this.dec.readChunk(this.ctx.streamMaxLength - s.size);
    if (r.kind === "need-more") return false;
    if (r.kind === "too-big") {
      this.abortStream();
      this.reply(s.id, "INSTREAM size limit exceeded. ERROR", s.raw.term);
      this.finish();
      return false;
    }
    if (r.kind === "data") {
      s.size += r.bytes.length;
      if (!s.sink) {
        try {
          s.data!.append(r.bytes);
        } catch (e) {
          // growing the buffer failed (the process-wide stream budget is used up, or memory is
          // exhausted): this stream cannot be scanned, which is an ERROR for this client only,
          // never an uncaught exception for the daemon. The budget case answers in clamd's words
          // for a failed allocation (cl_strerror(CL_EMEM)); the details go to the log.
          this.abortStream();
          const budget = e instanceof BudgetExhausted;
          if (budget) this.ctx.log(`clamd: INSTREAM refused: ${e.message}`);
          const text = budget ? "Can't allocate memory" : ((e as Error)?.message ?? "Can't allocate memory");
          this.reply(s.id, `${text}. ERROR`.replace(/[\r\n\0]/g, " "), s.raw.term);
          this.finish();
          return false;
        }
        return true;
      }
      if (s.sink.write(r.bytes)) return true;
      this.waitingDrain = true;
      this.sock.pause();
      s.sink.onDrain(() => {
        if (!this.waitingDrain) return; // aborted meanwhile
        this.waitingDrain = false;
        this.sock.resume();
        this.pump();
      });
      return false;
    }
    this.stream = null;
    this.state = "command";
    // the collected buffer is used for nothing else: the scanner may move it to its worker; its
    // budget charge is given back once the scan is over (the bytes are held until then)
    const verdict = s.sink ? s.sink.end() : scanHeld(this.ctx.scanner, s.data!);
    this.runAsync(s.id, s.raw.term, "stream", verdict.then((v) => verdictLines("stream", v)));
    return true;
  }

  /** Drop an INSTREAM that will not be completed (limit, client gone, timeout). */
  private abortStream(): void {
    const s = this.stream;
    this.stream = null;
    this.waitingDrain = false;
    s?.sink?.abort();
    s?.data?.release();
  }

  /** Run a scan; outside a session the connection waits for it, inside it runs alongside. */
  private runAsync(id: number, term: Terminator, label: string, work: Promise<string[]>): void {
    this.inFlight++;
    if (!this.session) {
      this.state = "busy";
      this.sock.pause();
    }
    work
      .catch((e: unknown) => [`${label}: ${String((e as Error)?.message ?? e).replace(/[\0\r\n]+/g, " ")} ERROR`])
      .then((lines) => {
        this.inFlight--;
        for (const line of lines) this.reply(id, line, term);
        if (!this.session) {
          this.state = "command";
          this.finish();
          return;
        }
        if (this.state === "closing") return this.closeWhenIdle();
        if (this.sock.isPaused() && !this.waitingDrain) {
          this.sock.resume();
          this.pump();
        }
      });
  }
}

/** Scan a collected stream and release its budget charge when the scan settles, whatever the
 *  outcome (a scanner that throws at once included). */
function scanHeld(scanner: Scanner, data: StreamBuffer): ReturnType<Scanner["scan"]> {
  let scan: ReturnType<Scanner["scan"]>;
  try {
    scan = scanner.scan(data.take(), { name: "stream", transfer: true });
  } catch (e) {
    data.release();
    return Promise.reject(e);
  }
  return scan.finally(() => data.release());
}
