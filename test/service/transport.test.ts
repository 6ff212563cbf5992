/**
 * The daemon side of a private-command connection (host/service/transport.ts) over a real unix
 * socket: a request that trickles in forever is cut off by the whole-request deadline (the idle
 * timeout alone never fires for it), and a reply larger than the socket buffers reaches a peer
 * that is slow to read it whole.
 */
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeMessage } from "../../host/service/frames.js";
import { receiveRequest, sendReply } from "../../host/service/transport.js";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "bulwark-transport-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A server on a fresh socket that hands each connection to `onConn`. */
async function serve(onConn: (s: net.Socket) => void): Promise<{ path: string; close: () => void }> {
  const path = join(dir, `s${Math.random().toString(36).slice(2)}.sock`);
  const server = net.createServer(onConn);
  await new Promise<void>((r) => server.listen(path, r));
  return { path, close: () => server.close() };
}

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};

describe("receiveRequest", () => {
  it("gives up on a request that keeps trickling in without its zero frame", async () => {
    let outcome: string | undefined;
    const srv = await serve((s) => {
      void receiveRequest(s, Buffer.alloc(0), 16, 300).then(
        () => void (outcome = "completed"),
        (e: Error) => void (outcome = e.message),
      );
    });
    const c = net.createConnection({ path: srv.path });
    c.on("error", () => {});
    await new Promise((r) => c.on("connect", r));
    c.write(Buffer.concat(encodeMessage({ agent: "pipe" })));
    // one byte frame every 20 ms: never idle, never finished (and past maxBody: drained)
    const trickle = setInterval(() => c.write(Buffer.concat([u32(1), Buffer.from("x")])), 20);
    try {
      await expect.poll(() => outcome, { timeout: 4000 }).toBeDefined();
      expect(outcome).toMatch(/did not arrive whole within 300 ms/);
    } finally {
      clearInterval(trickle);
      c.destroy();
      srv.close();
    }
  });
});

describe("sendReply", () => {
  it("a reply far larger than the socket buffers reaches a reader that starts reading late", async () => {
    const big = Buffer.alloc(16 * 1024 * 1024, 0x61);
    const srv = await serve((s) => sendReply(s, [big]));
    const c = net.createConnection({ path: srv.path });
    c.pause(); // a busy agent: nothing read for longer than the close grace (2 s)
    let got = 0;
    const closed = new Promise<void>((resolve) => {
      c.on("close", () => resolve());
      c.on("error", () => {});
    });
    await new Promise((r) => setTimeout(r, 2500));
    c.on("data", (d: Buffer) => void (got += d.length));
    c.resume();
    await closed;
    srv.close();
    expect(got).toBe(big.length);
  }, 10_000);
});
