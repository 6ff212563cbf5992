/**
 * agents/smtp/next-hop.ts against scripted hostile next hops: replies split at every byte
 * offset, garbled, endless or cut off; and the dot-stuffing of DATA. (The well-behaved next
 * hop is a real Postfix, in smtp-agent.test.ts and smtp-envelope.test.ts.)
 */
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { dotStuff, MAX_REPLY_BYTES, NextHopSession } from "../../agents/smtp/next-hop.js";

let servers: net.Server[] = [];
afterEach(() => {
  for (const s of servers) s.close();
  servers = [];
});

/** A next hop that answers each line it gets with the next scripted reply, written by `write`. */
async function scriptedHop(replies: string[], write: (sock: net.Socket, text: string) => Promise<void>): Promise<number> {
  const server = net.createServer((sock) => {
    let i = 0;
    let buf = "";
    sock.on("error", () => undefined);
    const next = () => (i < replies.length ? write(sock, replies[i++]) : Promise.resolve());
    void next(); // the greeting
    sock.on("data", async (d) => {
      buf += d.toString("latin1");
      while (buf.includes("\r\n")) {
        buf = buf.slice(buf.indexOf("\r\n") + 2);
        await next();
      }
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return (server.address() as net.AddressInfo).port;
}

const whole = async (sock: net.Socket, text: string) => void sock.write(text);
const hop = (port: number) => ({ host: "127.0.0.1", port, name: "agent.test" });

describe("dotStuff", () => {
  const cases: Array<[string, string]> = [
    ["a\r\nb\r\n", "a\r\nb\r\n.\r\n"],
    [".lead\r\n", "..lead\r\n.\r\n"],
    ["x\r\n.\r\ny\r\n", "x\r\n..\r\ny\r\n.\r\n"],
    ["x\r\n..two\r\n", "x\r\n...two\r\n.\r\n"],
    ["no final line end", "no final line end\r\n.\r\n"],
    ["", ".\r\n"],
  ];
  for (const [input, wire] of cases) {
    it(JSON.stringify(input), () => expect(dotStuff(Buffer.from(input)).toString("latin1")).toBe(wire));
  }
});

describe("NextHopSession against hostile next hops", () => {
  const GREETING = "220 mx.test ESMTP\r\n";
  const EHLO = "250-mx.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-DSN\r\n250 8BITMIME\r\n";

  it("reads a greeting and a multi-line EHLO reply split at every byte offset", async () => {
    const text = GREETING + EHLO;
    for (let cut = 1; cut < text.length; cut++) {
      // written in two pieces at once, without waiting for EHLO: the cut falls anywhere in the
      // greeting or the EHLO reply, and the client must take each reply whole from the stream
      const server = net.createServer((sock) => {
        sock.on("error", () => undefined);
        sock.setNoDelay(true);
        sock.write(text.slice(0, cut));
        setTimeout(() => sock.write(text.slice(cut)), 2);
      });
      servers.push(server);
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      const port = (server.address() as net.AddressInfo).port;
      const opened = await NextHopSession.open(hop(port));
      expect("session" in opened, `cut ${cut}`).toBe(true);
      if ("session" in opened) {
        expect(opened.session.keywords, `cut ${cut}`).toEqual(["PIPELINING", "SIZE 10240000", "DSN", "8BITMIME"]);
        expect(opened.session.offers("DSN")).toBe(true);
        opened.session.close();
      }
    }
  });

  it("a garbled reply is no reply (code 0), not a crash", async () => {
    const port = await scriptedHop([GREETING, EHLO, "250 ok\r\n", "hello there\r\n"], whole);
    const opened = await NextHopSession.open(hop(port));
    if (!("session" in opened)) throw new Error("did not open");
    expect((await opened.session.command("MAIL FROM:<a@b.test>")).code).toBe(250);
    const r = await opened.session.command("RCPT TO:<c@d.test>");
    expect(r.code).toBe(0);
    expect(r.error).toMatch(/garbled reply line/);
    expect(opened.session.isClosed).toBe(true);
  });

  it(`a reply longer than ${MAX_REPLY_BYTES} bytes is cut off (code 0)`, async () => {
    const endless = "250-" + "x".repeat(1000) + "\r\n";
    const port = await scriptedHop([GREETING, EHLO, endless.repeat(Math.ceil(MAX_REPLY_BYTES / endless.length) + 2)], whole);
    const opened = await NextHopSession.open(hop(port));
    if (!("session" in opened)) throw new Error("did not open");
    const r = await opened.session.command("MAIL FROM:<a@b.test>");
    expect(r.code).toBe(0);
    expect(r.error).toMatch(/reply longer than/);
  });

  it("a next hop that closes in the middle of a reply gives code 0", async () => {
    const port = await scriptedHop([GREETING, EHLO], whole);
    const server = servers[servers.length - 1];
    server.removeAllListeners("connection");
    server.on("connection", (sock) => {
      sock.write(GREETING);
      sock.once("data", () => {
        sock.write("250-mx.test\r\n250-PIPE");
        sock.end();
      });
    });
    const opened = await NextHopSession.open(hop(port));
    expect("reply" in opened && opened.reply.code).toBe(0);
  });

  it("a refused greeting (554) is passed back as the next hop's reply", async () => {
    const port = await scriptedHop(["554 5.3.2 not now\r\n"], whole);
    const opened = await NextHopSession.open(hop(port));
    expect("reply" in opened && opened.reply).toMatchObject({ code: 554, lines: ["5.3.2 not now"] });
  });

  it("a command still waiting for its reply (a keep-alive NOOP) never hands its reply to DATA", async () => {
    const server = net.createServer((sock) => {
      sock.write(GREETING);
      let buf = "";
      let inData = false;
      sock.on("data", (d) => {
        buf += d.toString("latin1");
        for (;;) {
          if (inData) {
            const end = buf.indexOf("\r\n.\r\n");
            if (end === -1) return;
            buf = buf.slice(end + 5);
            inData = false;
            sock.write("250 2.0.0 queued\r\n");
            continue;
          }
          const nl = buf.indexOf("\r\n");
          if (nl === -1) return;
          const cmd = buf.slice(0, nl);
          buf = buf.slice(nl + 2);
          if (cmd.startsWith("EHLO")) sock.write(EHLO);
          // a slow NOOP reply: DATA must not be sent, or read, before it
          else if (cmd === "NOOP") setTimeout(() => sock.write("250 2.0.0 Ok\r\n"), 50);
          else if (cmd === "DATA") {
            inData = true;
            sock.write("354 go ahead\r\n");
          }
        }
      });
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const opened = await NextHopSession.open(hop((server.address() as net.AddressInfo).port));
    if (!("session" in opened)) throw new Error("did not open");
    const noop = opened.session.command("NOOP");
    const data = opened.session.data(Buffer.from("Subject: x\r\n\r\nbody\r\n"));
    expect(await noop).toMatchObject({ code: 250, lines: ["2.0.0 Ok"] });
    expect(await data).toMatchObject({ code: 250, lines: ["2.0.0 queued"] });
    opened.session.close();
  });

  it("DATA: the message goes out dot-stuffed and the end-of-data reply comes back", async () => {
    let received = "";
    const server = net.createServer((sock) => {
      sock.write(GREETING);
      let phase = 0;
      sock.on("data", (d) => {
        const t = d.toString("latin1");
        if (phase === 1) {
          received += t;
          if (received.endsWith("\r\n.\r\n")) {
            phase = 2;
            sock.write("250 2.0.0 Ok: queued as ABC\r\n");
          }
          return;
        }
        if (/^EHLO/.test(t)) sock.write(EHLO);
        else if (/^DATA/.test(t)) {
          phase = 1;
          sock.write("354 go ahead\r\n");
        }
      });
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const opened = await NextHopSession.open(hop((server.address() as net.AddressInfo).port));
    if (!("session" in opened)) throw new Error("did not open");
    const r = await opened.session.data(Buffer.from("Subject: x\r\n\r\n.hidden\r\nend\r\n"));
    expect(r).toMatchObject({ code: 250, lines: ["2.0.0 Ok: queued as ABC"] });
    expect(received).toBe("Subject: x\r\n\r\n..hidden\r\nend\r\n.\r\n");
    opened.session.close();
  });
});
