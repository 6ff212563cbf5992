/**
 * A minimal raw SMTP client for tests that must control the exact bytes and their TCP
 * segmentation (smuggling sequences, ESMTP parameters swaks cannot send, hostile split writes).
 */
import net from "node:net";

/** Pause between split writes so each piece is read alone (not a timing assertion). */
export const PIECE_GAP_MS = 5;

/** `n` distinct sorted offsets in 1..len-1 from a small seeded generator (put the seed in the
 *  failure message, so a failing split can be replayed). */
export function randomCuts(len: number, n: number, seed: number): number[] {
  let x = seed >>> 0 || 1;
  const next = () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) % (len - 1)) + 1;
  const set = new Set<number>();
  while (set.size < Math.min(n, len - 1)) set.add(next());
  return [...set].sort((a, b) => a - b);
}

export function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createConnection({ host: "127.0.0.1", port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on("error", () => resolve(false));
  });
}

export class RawSmtp {
  private buf = "";
  private closed = false;
  private waiters: Array<() => void> = [];
  private constructor(private readonly sock: net.Socket) {
    sock.on("data", (d) => {
      this.buf += d.toString("utf8");
      this.wake();
    });
    sock.on("close", () => {
      this.closed = true;
      this.wake();
    });
    sock.on("error", () => undefined);
  }
  private wake() {
    this.waiters.splice(0).forEach((w) => w());
  }
  static connect(port: number): Promise<RawSmtp> {
    return new Promise((resolve, reject) => {
      const s = net.createConnection({ host: "127.0.0.1", port }, () => resolve(new RawSmtp(s)));
      s.once("error", reject);
    });
  }
  /** The next (multi-line) reply; "" when the server closed the connection first. */
  async reply(): Promise<string> {
    for (;;) {
      const m = /^(?:\d{3}-[^\n]*\n)*\d{3} [^\n]*\n/.exec(this.buf);
      if (m) {
        this.buf = this.buf.slice(m[0].length);
        return m[0];
      }
      if (this.closed) return "";
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }
  async send(text: string): Promise<string> {
    this.sock.write(Buffer.from(text, "utf8"));
    return this.reply();
  }
  /** Sends `bytes` cut at the given offsets, each piece written on its own after a pause, so
   *  the server reads them as separate segments (a hostile client's TCP segmentation). */
  async sendSplit(bytes: string | Buffer, cuts: number[]): Promise<string> {
    this.sock.setNoDelay(true);
    const data = typeof bytes === "string" ? Buffer.from(bytes, "latin1") : bytes;
    let from = 0;
    for (const cut of [...cuts, data.length]) {
      this.sock.write(data.subarray(from, cut));
      from = cut;
      await new Promise((r) => setTimeout(r, PIECE_GAP_MS));
    }
    return this.reply();
  }
  close() {
    this.sock.destroy();
  }
}
