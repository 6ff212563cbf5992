/**
 * Listen on a unix socket path or a TCP address, taking over a socket file that a dead process
 * left behind: only when nobody answers on it (a live server's file is never unlinked). Shared
 * by the clamd- and spamd-protocol listeners.
 */
import { unlinkSync } from "node:fs";
import net from "node:net";

export interface ListenAt {
  path?: string;
  host?: string;
  port?: number;
}

/** Listen; resolves with the address as listened on. `what` names the server in errors. */
export async function listenTakingOver(server: net.Server, at: ListenAt, what: string, defaults: { host: string; port: number }): Promise<{ path: string } | { host: string; port: number }> {
  const { path, port = defaults.port, host = defaults.host } = at;
  await new Promise<void>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      if (path && e.code === "EADDRINUSE") {
        const probe = net.connect(path);
        probe.on("connect", () => {
          probe.destroy();
          reject(new Error(`${what}: ${path} is in use by a running server`));
        });
        probe.on("error", () => {
          try {
            unlinkSync(path);
          } catch {
            /* raced with someone else: the retry reports it */
          }
          server.once("error", reject);
          server.listen(path, () => resolve());
        });
        return;
      }
      reject(e);
    };
    server.once("error", onError);
    const done = () => {
      server.off("error", onError);
      resolve();
    };
    if (path) server.listen(path, done);
    else server.listen(port, host, done);
  });
  const a = server.address();
  return typeof a === "string" || a === null ? { path: path! } : { host: a.address, port: a.port };
}
