/**
 * The syslog target: ONE long-lived child `logger --prio-prefix --socket=<path>` (util-linux)
 * fed one line per message on its stdin. Node cannot open unix datagram sockets, and the local
 * syslog socket (/dev/log, or rsyslog's imuxsock socket) is one; logger is essential on Debian.
 *
 * Talks to: the logger child (stdin pipe; its stderr is read only to explain why it died).
 * Writes: nothing itself. On failure: never throws and never blocks the caller. Lines wait in
 * a bounded in-memory queue (MAX_QUEUED_BYTES, oldest dropped first) while the child is
 * starting, busy or dead; a dead or missing child (no logger binary, no syslog daemon, socket
 * removed because syslog restarted) is restarted with a doubling delay capped at
 * RESTART_DELAY_MAX_MS. Every line that could not be handed over is counted, and the counts
 * are reported through `report` (the JSON target), never silently lost.
 * A line already in the kernel pipe when the child dies cannot be counted (no acknowledgement
 * exists for it); that is at most one pipe buffer (64 KiB).
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import { LOGGER_MAX_MESSAGE_BYTES } from "./syslog-format.js";

/** Lines waiting for the child, counted in string length (bytes for ASCII; lines are escaped
 *  so mostly ASCII): about 20,000 typical 200-character summary lines, minutes of a busy
 *  gateway, while the daemon's memory stays flat when syslog is down for hours. When full, the
 *  oldest line goes first. */
export const MAX_QUEUED_BYTES = 4 * 1024 * 1024;
/** First restart delay after the child died; doubles on each consecutive failure. */
export const RESTART_DELAY_MIN_MS = 100;
/** Longest delay between restarts: a syslog daemon that comes back is used within 30 s, and a
 *  missing one costs one failed spawn and one report every 30 s. */
export const RESTART_DELAY_MAX_MS = 30_000;
/** logger opens the socket before it reads stdin and exits at once when it cannot. A child alive
 *  this long has connected, so the queue is only handed to it then: lines given to a child that
 *  dies at start-up would be lost uncounted. */
export const CHILD_READY_MS = 150;
/** A child that lived this long after failures has recovered: the restart delay starts over
 *  from the minimum and the lines dropped meanwhile are reported. */
const HEALTHY_RUN_MS = 10_000;
/** close() waits this long for logger to send what it read and exit, then kills it. */
export const CLOSE_TIMEOUT_MS = 3_000;
/** Kept of the child's stderr to explain a death (logger prints one short line). */
const MAX_STDERR_KEPT = 512;

export interface SyslogPipeOptions {
  socket: string;
  tag: string;
  /** Where failures and drop counts go (one line each); must not throw. */
  report: (msg: string, fields: Record<string, string | number>) => void;
  /** The logger executable; tests point it at a missing file to exercise the restart path. */
  command?: string;
}

export class SyslogPipe {
  private queue: string[] = [];
  private queuedBytes = 0;
  private child: ChildProcess | null = null;
  private ready = false;
  private readyTimer: NodeJS.Timeout | null = null;
  private restartTimer: NodeJS.Timeout | null = null;
  private delay = RESTART_DELAY_MIN_MS;
  private failures = 0;
  private closing = false;
  /** Lines dropped since the last report, and since start. */
  private droppedUnreported = 0;
  droppedTotal = 0;

  constructor(private readonly opts: SyslogPipeOptions) {
    this.start();
  }

  send(line: string): void {
    if (this.closing) return;
    this.queue.push(line);
    this.queuedBytes += line.length;
    while (this.queuedBytes > MAX_QUEUED_BYTES && this.queue.length > 1) {
      this.queuedBytes -= this.queue.shift()!.length;
      this.drop(1);
    }
    this.pump();
  }

  private drop(n: number): void {
    this.droppedUnreported += n;
    this.droppedTotal += n;
  }

  private start(): void {
    this.restartTimer = null;
    if (this.closing) return;
    // logger would exit at once anyway; not spawning keeps the pipe from eating queued lines
    if (!isSocket(this.opts.socket)) return this.failed(`no socket at ${this.opts.socket}`);
    let child: ChildProcess;
    try {
      child = spawn(this.opts.command ?? "logger", [
        "--prio-prefix", `--socket=${this.opts.socket}`, "--socket-errors=on", `--size=${LOGGER_MAX_MESSAGE_BYTES}`,
        "--tag", this.opts.tag, `--id=${process.pid}`,
      ], { stdio: ["pipe", "ignore", "pipe"] });
    } catch (e) {
      return this.failed(`cannot start logger: ${(e as Error).message}`);
    }
    this.child = child;
    this.ready = false;
    let stderr = "";
    let spawnError = "";
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (d: string) => {
      if (stderr.length < MAX_STDERR_KEPT) stderr += d.slice(0, MAX_STDERR_KEPT - stderr.length);
    });
    child.stdin!.on("error", () => { /* EPIPE when the child dies: handled by 'close' */ });
    child.stdin!.on("drain", () => this.pump());
    child.on("error", (e) => (spawnError = e.message)); // ENOENT: 'close' follows
    this.readyTimer = setTimeout(() => {
      this.readyTimer = null;
      this.ready = true;
      this.pump();
    }, CHILD_READY_MS);
    child.on("close", (code, signal) => {
      if (this.readyTimer) clearTimeout(this.readyTimer);
      this.readyTimer = null;
      this.child = null;
      this.ready = false;
      if (this.closing) return;
      const why = spawnError || stderr.trim() || (signal ? `signal ${signal}` : `exit code ${code}`);
      this.failed(`logger exited: ${why}`);
    });
    setTimeout(() => {
      // recovered after failures: say so, with what was lost meanwhile
      if (this.child === child && this.failures > 0) {
        this.failures = 0;
        this.delay = RESTART_DELAY_MIN_MS;
        this.opts.report("syslog is reachable again", { socket: this.opts.socket, dropped: this.takeDropped() });
      }
    }, HEALTHY_RUN_MS).unref();
  }

  private failed(why: string): void {
    this.failures++;
    // first failure and then once per maximum delay: bounded, but never silent
    if (this.failures === 1 || this.delay >= RESTART_DELAY_MAX_MS) {
      this.opts.report("syslog is unavailable; lines are queued and retried", {
        socket: this.opts.socket, reason: why, retry_ms: this.delay, dropped: this.takeDropped(),
      });
    }
    this.restartTimer = setTimeout(() => this.start(), this.delay);
    this.restartTimer.unref(); // a logger alone must not keep a finished program alive
    this.delay = Math.min(this.delay * 2, RESTART_DELAY_MAX_MS);
  }

  private takeDropped(): number {
    const n = this.droppedUnreported;
    this.droppedUnreported = 0;
    return n;
  }

  /** Hand queued lines to a ready child until its pipe asks us to wait ('drain'). */
  private pump(): void {
    const stdin = this.child?.stdin;
    if (!this.ready || !stdin || stdin.writableNeedDrain) return;
    while (this.queue.length) {
      const line = this.queue.shift()!;
      this.queuedBytes -= line.length;
      // the callback gets an error for data that never reached the pipe (child died first)
      const more = stdin.write(line, (err) => { if (err) this.drop(1); });
      if (!more) break;
    }
  }

  /** Send what is queued, end the child's input, wait for it to exit (bounded), report drops. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      if (this.readyTimer) clearTimeout(this.readyTimer);
      this.ready = true;
      const exited = new Promise<void>((resolve) => child.once("close", () => resolve()));
      await this.flushTo(child);
      child.stdin!.end();
      const timer = setTimeout(() => child.kill("SIGKILL"), CLOSE_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    }
    if (this.queue.length) this.drop(this.queue.length);
    this.queue = [];
    this.queuedBytes = 0;
    if (this.droppedUnreported > 0) {
      this.opts.report("syslog lines were dropped", { socket: this.opts.socket, dropped: this.takeDropped() });
    }
  }

  /** Write the whole queue to the child, waiting on 'drain' (bounded by CLOSE_TIMEOUT_MS). */
  private async flushTo(child: ChildProcess): Promise<void> {
    const deadline = Date.now() + CLOSE_TIMEOUT_MS;
    while (this.queue.length && this.child === child && Date.now() < deadline) {
      this.pump();
      if (!this.queue.length) break;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          child.stdin!.off("drain", done);
          child.off("close", done);
          resolve();
        };
        const timer = setTimeout(done, Math.max(0, deadline - Date.now()));
        child.stdin!.once("drain", done);
        child.once("close", done);
      });
    }
  }
}

function isSocket(p: string): boolean {
  try {
    return fs.statSync(p).isSocket();
  } catch {
    return false;
  }
}
