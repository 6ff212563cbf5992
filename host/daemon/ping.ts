/** One clamd PING on a unix socket: true when it answers PONG. Used to tell "the daemon serves". */
import net from "node:net";

/** A PING is answered at once by a serving daemon; a second means it is not serving. */
export const PING_TIMEOUT_MS = 1_000;

export function clamdPing(socketPath: string, timeoutMs = PING_TIMEOUT_MS): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.createConnection({ path: socketPath });
    let got = "";
    const done = (ok: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.on("connect", () => sock.write("zPING\0"));
    sock.on("data", (d) => {
      got += d.toString("latin1");
      if (got.includes("\0")) done(got.startsWith("PONG\0"));
      else if (got.length > 64) done(false);
    });
    sock.on("error", () => done(false));
    sock.on("end", () => done(false));
  });
}
