/**
 * The [clamd] agent's RemoteScanner (agents/clamd/remote-scanner.ts) when the manager misbehaves:
 * absent, closing without a verdict, or answering a verdict that is not one. Each is a Verdict
 * with status "error" (the clamd reply `... ERROR`), never clean. The peers here are small
 * sockets standing in for a broken daemon; the working path is covered with the real daemon in
 * clamd-agent.test.ts.
 */
import { rmSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { RemoteScanner } from "../../agents/clamd/remote-scanner.js";
import { verdictLines } from "../../host/clamd/replies.js";
import { tempDir } from "../daemon/daemon-process.js";

const dir = tempDir("bulwark-remote-");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A unix-socket peer that reads the request until its zero frame, then does `reply`. */
async function brokenDaemon(name: string, reply: (sock: net.Socket) => void): Promise<{ path: string; close: () => void }> {
  const path = join(dir, name);
  const server = net.createServer((sock) => {
    let got = Buffer.alloc(0);
    sock.on("data", (d) => {
      got = Buffer.concat([got, d]);
      if (got.length >= 4 && got.subarray(-4).equals(Buffer.alloc(4))) reply(sock);
    });
  });
  await new Promise<void>((r) => server.listen(path, r));
  return { path, close: () => server.close() };
}

const frame = (json: string) => {
  const b = Buffer.from(json);
  const h = Buffer.alloc(4);
  h.writeUInt32BE(b.length);
  return Buffer.concat([h, b]);
};

describe("RemoteScanner failures", () => {
  it("no daemon listening: error verdict, replied as ERROR", async () => {
    const v = await new RemoteScanner(join(dir, "absent.sock"), "clamd", 5_000).scan(Buffer.from("x"));
    expect(v.status).toBe("error");
    expect(v.error).toMatch(/cannot talk to the Bulwark daemon/);
    expect(verdictLines("stream", v)[0]).toMatch(/^stream: .* ERROR$/);
  });

  it("the daemon closes without a verdict: error", async () => {
    const peer = await brokenDaemon("closes.sock", (s) => s.end());
    try {
      const v = await new RemoteScanner(peer.path, "clamd", 5_000).scan(Buffer.from("x"));
      expect(v.status).toBe("error");
      expect(v.error).toMatch(/without a verdict/);
    } finally {
      peer.close();
    }
  });

  it("a reply that is not a verdict (unknown status, infected without a name, not JSON): error", async () => {
    for (const [i, body] of ['{"status":"fine","names":[],"notScanned":[],"detections":[]}', '{"status":"infected","names":[],"notScanned":[],"detections":[]}', "not json"].entries()) {
      const peer = await brokenDaemon(`garbage${i}.sock`, (s) => s.end(frame(body)));
      try {
        const v = await new RemoteScanner(peer.path, "clamd", 5_000).scan(Buffer.from("x"));
        expect(v.status).toBe("error");
      } finally {
        peer.close();
      }
    }
  });

  it("a file that cannot be opened: error with the reason, nothing sent", async () => {
    const v = await new RemoteScanner(join(dir, "absent.sock"), "clamd", 5_000).scan(join(dir, "no-such-file"));
    expect(v).toMatchObject({ status: "error", error: "No such file or directory" });
  });
});
