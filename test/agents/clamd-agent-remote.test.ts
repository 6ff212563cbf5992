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

  it("a not_scanned verdict without a reason: replied as ERROR, never FOUND", async () => {
    const peer = await brokenDaemon("no-reason.sock", (s) => s.end(frame('{"status":"not_scanned","names":[],"notScanned":[],"detections":[]}')));
    try {
      const v = await new RemoteScanner(peer.path, "clamd", 5_000).scan(Buffer.from("x"));
      expect(v.status).not.toBe("clean");
      expect(verdictLines("stream", v)).toEqual([expect.stringMatching(/^stream: .* ERROR$/)]);
    } finally {
      peer.close();
    }
  });

  it("a file that cannot be opened: error with the reason, nothing sent", async () => {
    const v = await new RemoteScanner(join(dir, "absent.sock"), "clamd", 5_000).scan(join(dir, "no-such-file"));
    expect(v).toMatchObject({ status: "error", error: "No such file or directory" });
  });
});

/** A stand-in daemon that records what each zBWSCAN connection sent and when it closed; `reply`
 *  is written once the zero frame has arrived. */
async function recordingDaemon(name: string, reply: string) {
  const path = join(dir, name);
  const conns: Array<{ got: Buffer; closed: boolean; onGot: () => void }> = [];
  const server = net.createServer((sock) => {
    const c = { got: Buffer.alloc(0), closed: false, onGot: () => {} };
    conns.push(c);
    sock.on("data", (d) => {
      c.got = Buffer.concat([c.got, d]);
      c.onGot();
      if (c.got.length >= 4 && c.got.subarray(-4).equals(Buffer.alloc(4)) && c.got.length > 30) sock.end(frame(reply));
    });
    sock.on("error", () => {});
    sock.on("close", () => {
      c.closed = true;
      c.onGot();
    });
  });
  await new Promise<void>((r) => server.listen(path, r));
  /** resolves when connection `i` has received at least `n` bytes or closed */
  const until = (i: number, test: (c: (typeof conns)[number]) => boolean) =>
    new Promise<(typeof conns)[number]>((resolve) => {
      const check = () => {
        const c = conns[i];
        if (c && test(c)) resolve(c);
        else setTimeout(check, 5);
      };
      check();
    });
  return { path, conns, until, close: () => server.close() };
}

const u32 = (n: number) => {
  const h = Buffer.alloc(4);
  h.writeUInt32BE(n);
  return h;
};

describe("RemoteScanner as an INSTREAM sink (chunks forwarded as they arrive)", () => {
  const clean = '{"status":"clean","infected":false,"names":[],"detections":[],"notScanned":[],"objects":1,"bytesScanned":5}';

  async function agentServer(daemonPath: string, streamMaxLength = 1 << 20) {
    const { startClamdServer } = await import("../../host/clamd/server.js");
    return startClamdServer({ scanner: new RemoteScanner(daemonPath, "clamd", 5_000), listen: { port: 0 }, streamMaxLength });
  }
  const connect = (port: number) =>
    new Promise<net.Socket>((resolve) => {
      const c = net.connect(port, "127.0.0.1", () => resolve(c));
    });
  const replyOf = (c: net.Socket) =>
    new Promise<string>((resolve) => {
      let got = "";
      c.on("data", (d) => (got += d.toString("latin1")));
      c.on("close", () => resolve(got));
    });

  it("the daemon receives a chunk before the client has sent the rest, then the verdict is the reply", async () => {
    const daemon = await recordingDaemon("fwd.sock", clean);
    const agent = await agentServer(daemon.path);
    try {
      const c = await connect((agent.address as { port: number }).port);
      const reply = replyOf(c);
      const chunk = Buffer.from("first chunk of the mail");
      c.write(Buffer.concat([Buffer.from("zINSTREAM\0"), u32(chunk.length), chunk]));
      // nothing else has been sent: the daemon can only have these bytes if they were forwarded
      const conn = await daemon.until(0, (x) => x.got.includes(chunk) || x.closed);
      expect(conn.got.includes(chunk)).toBe(true);
      expect(conn.got.subarray(0, 8).toString("latin1")).toBe("zBWSCAN\0");
      c.write(Buffer.concat([u32(4), Buffer.from("tail"), u32(0)]));
      expect(await reply).toBe("stream: OK\0");
      const all = daemon.conns[0].got;
      expect(all.includes(Buffer.concat([u32(4), Buffer.from("tail"), u32(0)]))).toBe(true);
    } finally {
      await agent.close();
      daemon.close();
    }
  });

  it("a client gone mid-stream: the forwarded request is dropped without its zero frame", async () => {
    const daemon = await recordingDaemon("gone.sock", clean);
    const agent = await agentServer(daemon.path);
    try {
      const c = await connect((agent.address as { port: number }).port);
      const chunk = Buffer.from("half a mail");
      c.write(Buffer.concat([Buffer.from("zINSTREAM\0"), u32(chunk.length), chunk]));
      await daemon.until(0, (x) => x.got.includes(chunk));
      c.destroy();
      const conn = await daemon.until(0, (x) => x.closed);
      expect(conn.got.subarray(-4).equals(Buffer.alloc(4))).toBe(false); // never completed: never scanned
    } finally {
      await agent.close();
      daemon.close();
    }
  });

  it("a stream over StreamMaxLength: clamd's size-limit reply, and the forwarded request is dropped", async () => {
    const daemon = await recordingDaemon("limit.sock", clean);
    const agent = await agentServer(daemon.path, 100);
    try {
      const c = await connect((agent.address as { port: number }).port);
      const reply = replyOf(c);
      c.write(Buffer.concat([Buffer.from("zINSTREAM\0"), u32(60), Buffer.alloc(60, 0x41), u32(60), Buffer.alloc(60, 0x42)]));
      expect(await reply).toBe("INSTREAM size limit exceeded. ERROR\0");
      const conn = await daemon.until(0, (x) => x.closed);
      expect(conn.got.includes(Buffer.alloc(60, 0x42))).toBe(false);
      expect(conn.got.subarray(-4).equals(Buffer.alloc(4))).toBe(false);
    } finally {
      await agent.close();
      daemon.close();
    }
  });

  it("a daemon that stops reading pauses the client instead of filling the agent's memory", async () => {
    const path = join(dir, "stalled.sock");
    const held: net.Socket[] = [];
    const server = net.createServer((s) => {
      held.push(s);
      s.pause(); // never reads
    });
    await new Promise<void>((r) => server.listen(path, r));
    const agent = await agentServer(path, 64 << 20);
    try {
      const c = await connect((agent.address as { port: number }).port);
      c.write(Buffer.from("zINSTREAM\0"));
      const chunk = Buffer.alloc(64 * 1024, 0x43);
      // write until the client's own socket refuses more: the agent stopped reading from it
      let sent = 0;
      while (sent < 48 << 20) {
        const ok = c.write(Buffer.concat([u32(chunk.length), chunk]));
        sent += chunk.length;
        if (!ok) {
          const drained = await Promise.race([
            new Promise<boolean>((r) => c.once("drain", () => r(true))),
            new Promise<boolean>((r) => setTimeout(() => r(false), 500)),
          ]);
          if (!drained) break;
        }
      }
      // had the agent kept reading, all 48 MiB would have gone through (the limit is 64 MiB)
      expect(sent).toBeLessThan(48 << 20);
      c.destroy();
    } finally {
      for (const s of held) s.destroy();
      await agent.close();
      server.close();
    }
  });
});
