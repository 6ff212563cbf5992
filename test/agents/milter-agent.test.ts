/**
 * The [smfi] milter agent as the daemon runs it (a supervised process on a unix socket), driven
 * by Debian's miltertest (libmilter's MTA side) with Lua scripts, and by a raw client that
 * split-writes its packets at random offsets (hostile peer).
 */
import { type ChildProcess, execFile, spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HEADER_VERDICT } from "../../host/policy/headers.js";
import { wireOf } from "../../host/policy/wire.js";
import { SMFIF_ADDHDRS, SMFIF_CHGBODY, SMFIF_CHGHDRS } from "../../agents/milter/constants.js";
import { encodeCommand, type MilterCommand, PacketDecoder } from "../../agents/milter/protocol.js";
import { type MilterReply, parseReply } from "../../agents/milter/replies.js";
import { type DaemonProcess, EICAR as EICAR_BYTES, freePort, ROOT, startDaemonProcess, tempDir, until, writeConfig } from "../daemon/daemon-process.js";
import { PrivatePostfix } from "../helpers/mail-peers.js";

const MILTERTEST = "/usr/bin/miltertest";
/** EICAR as a Buffer (the helper's constant is typed as a plain Uint8Array). */
const EICAR = Buffer.from(EICAR_BYTES);
const AGENT_ENTRY = join(ROOT, "dist", "agents", "milter", "main.js");

/** Bytes as a Lua string literal of decimal escapes: any byte (quotes, backslashes, %) is safe. */
const lua = (b: Buffer | string) => `"${[...(typeof b === "string" ? Buffer.from(b, "latin1") : b)].map((x) => `\\${x}`).join("")}"`;

function runMiltertest(file: string, verbose = false): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    execFile(MILTERTEST, [...(verbose ? ["-vvv"] : []), "-s", file], { timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : null) : 0;
      resolve({ code, out: `${stdout}\n${stderr}${err && code === null ? `\n[spawn error] ${err.message}` : ""}` });
    });
  });
}

interface Msg { body: Buffer | string; headers?: Array<[string, string]> }

/**
 * A Lua script: one connection, the messages in turn (ABORT between them, as Postfix does), each
 * EOM reply echoed as "EOM n: <char>", and whether X-Bulwark-Verdict / a new body came back.
 * mt.negotiate's 3rd argument is the protocol word and the 4th the actions word (see
 * milter-protocol.test.ts: the man page swaps them).
 */
function script(dir: string, name: string, sock: string, actions: string, msgs: Msg[]): string {
  const file = join(dir, `${name}.lua`);
  const parts = msgs.map((m, i) => `
if mt.mailfrom(conn, "<a@example.org>") ~= nil then fail("mailfrom") end
if mt.rcptto(conn, "<b@example.test>") ~= nil then fail("rcptto") end
${(m.headers ?? [["Subject", `${name} ${i}`]]).map(([h, v]) => `if mt.header(conn, ${lua(h)}, ${lua(v)}) ~= nil then fail("header") end`).join("\n")}
if mt.eoh(conn) ~= nil then fail("eoh") end
if mt.bodystring(conn, ${lua(m.body)}) ~= nil then fail("body") end
if mt.eom(conn) ~= nil then fail("eom") end
mt.echo("EOM ${i}: " .. string.char(math.floor(mt.getreply(conn))))
mt.echo("verdict header ${i}: " .. tostring(mt.eom_check(conn, MT_HDRADD, "${HEADER_VERDICT}")))
mt.echo("body changed ${i}: " .. tostring(mt.eom_check(conn, MT_BODYCHANGE)))
if mt.abort(conn) ~= nil then fail("abort") end`);
  writeFileSync(file, `
function fail(msg) mt.echo("FAIL: " .. msg) error(msg) end
conn = mt.connect("unix:${sock}")
if conn == nil then fail("connect failed") end
if mt.negotiate(conn, 6, nil, ${actions}) ~= nil then fail("negotiate failed") end
if mt.conninfo(conn, "client.example", "192.0.2.1") ~= nil then fail("conninfo") end
if mt.getreply(conn) ~= SMFIR_CONTINUE then fail("conninfo reply") end
${parts.join("\n")}
mt.echo("script done")
mt.disconnect(conn)
`);
  return file;
}

const CLEAN: Msg = { body: "hello, nothing to see here\r\n" };
const INFECTED: Msg = { body: Buffer.concat([EICAR, Buffer.from("\r\n")]) };
/** A multipart mail whose second part is EICAR: cleaning removes that part (REPLBODY). */
const BOUNDARY = "bulwark-test-boundary";
const MULTIPART: Msg = {
  headers: [["Subject", "attachment"], ["MIME-Version", "1.0"], ["Content-Type", `multipart/mixed; boundary="${BOUNDARY}"`]],
  body: Buffer.concat([
    Buffer.from(`--${BOUNDARY}\r\nContent-Type: text/plain\r\n\r\nthe text part stays\r\n--${BOUNDARY}\r\n` +
      `Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="eicar.com"\r\n\r\n`),
    EICAR,
    Buffer.from(`\r\n--${BOUNDARY}--\r\n`),
  ]),
};
const ALL = "SMFIF_ADDHDRS + SMFIF_CHGBODY + SMFIF_QUARANTINE";

/** The length miltertest -vvv logs for a REPLYCODE carrying `line` (the line plus its NUL). */
const replyLen = (line: string) => line.replace(/%/g, "%%").length + 1;

/** Send `wire` in pieces of random size (hostile peer) and collect every reply until the agent closes. */
async function rawSession(sock: string, wire: Buffer, rand: (n: number) => number): Promise<MilterReply[]> {
  const replies: MilterReply[] = [];
  await new Promise<void>((resolve, reject) => {
    const c = net.createConnection({ path: sock });
    const dec = new PacketDecoder();
    c.on("data", (d) => {
      for (const p of dec.push(d)) {
        if (p instanceof Error) return reject(p);
        const r = parseReply(p);
        if (!r.ok) return reject(r.error);
        replies.push(r.reply);
      }
    });
    c.on("error", reject);
    c.on("close", () => resolve());
    c.on("connect", async () => {
      for (let at = 0; at < wire.length;) {
        const n = 1 + rand(40);
        c.write(wire.subarray(at, at + n));
        at += n;
        await new Promise((r) => setImmediate(r));
      }
    });
  });
  return replies;
}

async function startWith(dir: string, smfi: string, global = ""): Promise<{ daemon: DaemonProcess; sock: string }> {
  const sock = join(dir, "milter.sock");
  const config = writeConfig(dir, `\n[smfi]\nagent_enabled = yes\nsmfi_sock_path = "${sock}"\n${smfi}`);
  if (global) writeFileSync(config, readFileSync(config, "utf8").replace("[global]\n", `[global]\n${global}`));
  const daemon = await startDaemonProcess(config, join(dir, "cache"));
  await until(() => existsSync(sock), `the milter socket ${sock}`);
  return { daemon, sock };
}

describe("milter agent under a real daemon (av_clean_mode = standard)", () => {
  let dir = "";
  let daemon: DaemonProcess | undefined;
  let sock = "";

  beforeAll(async () => {
    expect(existsSync(MILTERTEST), `${MILTERTEST} missing: apt-get install miltertest`).toBe(true);
    dir = tempDir("bulwark-milter-agent-");
    ({ daemon, sock } = await startWith(dir, "av_clean_mode = standard\n"));
  });
  afterAll(async () => {
    if (daemon) { daemon.child.kill("SIGTERM"); await daemon.exited; }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("the socket is connectable by another user (mode 0666)", () => {
    expect(statSync(sock).isSocket()).toBe(true);
    expect(statSync(sock).mode & 0o777).toBe(0o666);
  });

  it("clean, EICAR, then clean again on one connection: continue + header, 554, continue + header", async () => {
    const r = await runMiltertest(script(dir, "mixed", sock, ALL, [CLEAN, INFECTED, CLEAN]), true);
    expect(r.out, daemon!.log()).toContain("script done");
    expect(r.code).toBe(0);
    expect(r.out).toContain("EOM 0: c");
    expect(r.out).toContain("verdict header 0: true");
    expect(r.out).toContain("body changed 0: false");
    expect(r.out).toContain("EOM 1: y");
    // the reject reply names the signature, as the SMTP agent's does
    const rejectLine = `${wireOf({ action: "reject" }, "milter").reply!}: infected (Eicar-Test-Signature): action_av_infected=reject`;
    expect(r.out).toContain(`cmd y, len ${replyLen(rejectLine)}`);
    expect(rejectLine).toMatch(/^554 /);
    expect(r.out).toContain("verdict header 1: false");
    expect(r.out).toContain("EOM 2: c");
    expect(r.out).toContain("verdict header 2: true");
  });

  it("no header is added when the MTA does not offer SMFIF_ADDHDRS", async () => {
    const r = await runMiltertest(script(dir, "nohdr", sock, "SMFIF_CHGBODY", [CLEAN]));
    expect(r.out).toContain("script done");
    expect(r.out).toContain("EOM 0: c");
    expect(r.out).toContain("verdict header 0: false");
  });

  it("a cleaned mail gets its body replaced (SMFIR_REPLBODY) and the header", async () => {
    const r = await runMiltertest(script(dir, "clean-body", sock, ALL, [MULTIPART]));
    expect(r.out, daemon!.log()).toContain("script done");
    expect(r.out).toContain("EOM 0: c");
    expect(r.out).toContain("body changed 0: true");
    expect(r.out).toContain("verdict header 0: true");
  });

  it("a mail that needs cleaning is tempfailed when the MTA does not allow SMFIF_CHGBODY", async () => {
    const r = await runMiltertest(script(dir, "no-chgbody", sock, "SMFIF_ADDHDRS", [MULTIPART]));
    expect(r.out).toContain("script done");
    expect(r.out).toContain("EOM 0: t");
    expect(r.out).toContain("body changed 0: false");
  });

  it("a raw client split-writing at random offsets gets the same answers", async () => {
    let seed = 4242;
    const rand = (n: number) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
    const message: MilterCommand[] = [
      { kind: "macro", forCommand: "M", macros: [["i", "Q1"], ["{mail_addr}", "a@example.org"]] },
      { kind: "mail", sender: "<a@example.org>", args: [] },
      { kind: "rcpt", recipient: "<b@example.test>", args: [] },
      { kind: "header", name: "Subject", value: "split" },
      { kind: "eoh" },
      { kind: "body", chunk: INFECTED.body as Buffer },
      { kind: "bodyeob", chunk: Buffer.alloc(0) },
    ];
    const wire = Buffer.concat([
      encodeCommand({ kind: "optneg", version: 6, actions: 0x1ff, protocol: 0x1fffff }),
      encodeCommand({ kind: "connect", hostname: "client.example", family: "inet", port: 4000, address: "192.0.2.7" }),
      ...message.map(encodeCommand),
      encodeCommand({ kind: "abort" }),
      ...message.map((c) => (c.kind === "body" ? { kind: "body" as const, chunk: Buffer.from("clean now\r\n") } : c)).map(encodeCommand),
      encodeCommand({ kind: "quit" }),
    ]);
    const replies = await rawSession(sock, wire, rand);
    const kinds = replies.filter((r) => r.kind !== "progress").map((r) => r.kind);
    expect(replies[0]).toMatchObject({ kind: "optneg", actions: SMFIF_ADDHDRS | SMFIF_CHGBODY | SMFIF_CHGHDRS | 0x20 });
    // connect, mail, rcpt (headers are not answered: NR_HDR), eoh, body, then the EOM answer;
    // the accepted second message gets its X-Bulwark-* fields just before its final continue
    expect(kinds.filter((k) => k !== "addheader")).toEqual([
      "optneg", "continue", "continue", "continue", "continue", "continue", "replycode",
      "continue", "continue", "continue", "continue", "continue",
    ]);
    const firstHeader = kinds.indexOf("addheader");
    expect(firstHeader).toBeGreaterThan(kinds.indexOf("replycode") + 4);
    expect(kinds.slice(firstHeader, -1).every((k) => k === "addheader")).toBe(true);
    expect(replies.find((r) => r.kind === "replycode")).toEqual({ kind: "replycode", text: `${wireOf({ action: "reject" }, "milter").reply}: infected (Eicar-Test-Signature): action_av_infected=reject` });
    expect(replies.find((r) => r.kind === "addheader")).toMatchObject({ name: HEADER_VERDICT });
  });
  it("ABORT in the middle of a message drops what it held; a broken frame gets tempfail and close", async () => {
    let seed = 31337;
    const rand = (n: number) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
    const optneg = encodeCommand({ kind: "optneg", version: 6, actions: 0x1ff, protocol: 0x1fffff });
    const start = [
      encodeCommand({ kind: "mail", sender: "<a@example.org>", args: [] }),
      encodeCommand({ kind: "rcpt", recipient: "<b@example.test>", args: [] }),
      encodeCommand({ kind: "eoh" }),
    ];
    const replies = await rawSession(sock, Buffer.concat([
      optneg, ...start, encodeCommand({ kind: "body", chunk: INFECTED.body as Buffer }), encodeCommand({ kind: "abort" }),
      ...start, encodeCommand({ kind: "body", chunk: Buffer.from("second, clean\r\n") }),
      encodeCommand({ kind: "bodyeob", chunk: Buffer.alloc(0) }), encodeCommand({ kind: "quit" }),
    ]), rand);
    expect(replies.filter((r) => r.kind === "replycode")).toEqual([]);
    expect(replies.find((r) => r.kind === "addheader" && r.name === HEADER_VERDICT)).toMatchObject({ value: "clean" });
    expect(replies.at(-1)).toEqual({ kind: "continue" });

    const zeroLength = Buffer.alloc(4); // a packet without even a command byte: the stream is lost
    const broken = await rawSession(sock, Buffer.concat([optneg, zeroLength]), rand); // resolves once the agent closes
    expect(broken.map((r) => r.kind)).toEqual(["optneg", "tempfail"]);
  });

  it("the replaced body is the cleaned MIME body, without the header block or the virus", async () => {
    let seed = 777;
    const rand = (n: number) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
    const wire = Buffer.concat([
      encodeCommand({ kind: "optneg", version: 6, actions: 0x1ff, protocol: 0x1fffff }),
      encodeCommand({ kind: "connect", hostname: "client.example", family: "inet", port: 4000, address: "192.0.2.7" }),
      encodeCommand({ kind: "mail", sender: "<a@example.org>", args: [] }),
      encodeCommand({ kind: "rcpt", recipient: "<b@example.test>", args: [] }),
      ...MULTIPART.headers!.map(([name, value]) => encodeCommand({ kind: "header", name, value })),
      encodeCommand({ kind: "eoh" }),
      encodeCommand({ kind: "body", chunk: MULTIPART.body as Buffer }),
      encodeCommand({ kind: "bodyeob", chunk: Buffer.alloc(0) }),
      encodeCommand({ kind: "quit" }),
    ]);
    const replies = await rawSession(sock, wire, rand);
    const body = Buffer.concat(replies.flatMap((r) => (r.kind === "replbody" ? [r.chunk] : []))).toString("latin1");
    expect(replies.at(-1)).toEqual({ kind: "continue" });
    expect(body).toContain("the text part stays");
    expect(body).toContain(`--${BOUNDARY}`);
    expect(body).not.toContain(EICAR.toString("latin1"));
    expect(body).not.toMatch(/^Subject:|^Content-Type: multipart/im);
    expect(body).not.toMatch(/(^|[^\r])\n/); // CRLF line ends only
  });
});

describe("milter agent with action_av_infected = defer", () => {
  let dir = "";
  let daemon: DaemonProcess | undefined;
  let sock = "";
  beforeAll(async () => {
    dir = tempDir("bulwark-milter-defer-");
    ({ daemon, sock } = await startWith(dir, "action_av_infected = defer\n"));
  });
  afterAll(async () => {
    if (daemon) { daemon.child.kill("SIGTERM"); await daemon.exited; }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("EICAR gets the 4xx reply code", async () => {
    const line = wireOf({ action: "defer" }, "milter").reply!;
    expect(line).toMatch(/^4\d\d /);
    const r = await runMiltertest(script(dir, "defer", sock, ALL, [INFECTED]), true);
    expect(r.out, daemon!.log()).toContain("script done");
    expect(r.out).toContain("EOM 0: y");
    expect(r.out).toContain(`cmd y, len ${replyLen(line)}`);
  });
});

describe("milter agent with a mail over max_file_size", () => {
  let dir = "";
  let daemon: DaemonProcess | undefined;
  let sock = "";
  beforeAll(async () => {
    dir = tempDir("bulwark-milter-big-");
    ({ daemon, sock } = await startWith(dir, "action_av_notscanned = accept\n", "max_file_size = 1K\n"));
  });
  afterAll(async () => {
    if (daemon) { daemon.child.kill("SIGTERM"); await daemon.exited; }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("holds only max_file_size bytes and sends the mail as truncated: not scanned, never clean", async () => {
    let seed = 99;
    const rand = (n: number) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
    const session = (body: Buffer) => Buffer.concat([
      encodeCommand({ kind: "optneg", version: 6, actions: 0x1ff, protocol: 0x1fffff }),
      encodeCommand({ kind: "connect", hostname: "client.example", family: "inet", port: 4000, address: "192.0.2.7" }),
      encodeCommand({ kind: "mail", sender: "<a@example.org>", args: [] }),
      encodeCommand({ kind: "rcpt", recipient: "<b@example.test>", args: [] }),
      encodeCommand({ kind: "header", name: "Subject", value: "size" }),
      encodeCommand({ kind: "eoh" }),
      encodeCommand({ kind: "body", chunk: body }),
      encodeCommand({ kind: "bodyeob", chunk: Buffer.alloc(0) }),
      encodeCommand({ kind: "quit" }),
    ]);
    const verdictOf = (replies: MilterReply[]) =>
      replies.flatMap((r) => (r.kind === "addheader" && r.name === HEADER_VERDICT ? [r.value] : []));
    const small = await rawSession(sock, session(Buffer.from("short and clean\r\n")), rand);
    expect(verdictOf(small), daemon!.log()).toEqual(["clean"]);
    // the start is clean, the virus lies past the limit: a scan of the prefix alone would say clean
    const big = await rawSession(sock, session(Buffer.concat([Buffer.alloc(4096, "clean line\r\n"), EICAR, Buffer.from("\r\n")])), rand);
    expect(big.at(-1)).toEqual({ kind: "continue" }); // action_av_notscanned = accept
    expect(verdictOf(big)).toHaveLength(1);
    expect(verdictOf(big)[0]).toMatch(/^not-scanned/);
  });
});

describe("milter agent without a daemon", () => {
  let dir = "";
  let agent: ChildProcess | undefined;
  let sock = "";
  let agentLog = "";
  beforeAll(async () => {
    dir = tempDir("bulwark-milter-nodaemon-");
    sock = join(dir, "milter.sock");
    const config = writeConfig(dir, `\n[smfi]\nagent_enabled = yes\nsmfi_sock_path = "${sock}"\n`);
    // a daemon socket nobody listens on: every zBWMAIL request fails to connect
    const noDaemon = join(dir, "no-daemon-here.sock");
    writeFileSync(config, readFileSync(config, "utf8").replace("[global]\n", `[global]\ndaemon_socket_path = "${noDaemon}"\n`));
    agent = spawn(process.execPath, [AGENT_ENTRY, "--config", config], { stdio: ["ignore", "pipe", "pipe"] });
    agent.stdout!.on("data", (d) => (agentLog += d));
    agent.stderr!.on("data", (d) => (agentLog += d));
    await until(() => agentLog.includes("milter listening on unix:") || agent!.exitCode !== null, "the milter agent to listen");
    expect(agent.exitCode, agentLog).toBeNull();
  });
  afterAll(async () => {
    if (agent && agent.exitCode === null) {
      const gone = new Promise((r) => agent!.once("exit", r));
      agent.kill("SIGTERM");
      await gone;
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("answers SMFIR_TEMPFAIL when the daemon cannot be reached", async () => {
    const r = await runMiltertest(script(dir, "nodaemon", sock, ALL, [CLEAN]));
    expect(r.out, agentLog).toContain("script done");
    expect(r.out).toContain("EOM 0: t");
    expect(r.out).toContain("verdict header 0: false");
    expect(agentLog).toContain("tempfail");
  });

  it("removes its socket when stopped", async () => {
    const gone = new Promise((r) => agent!.once("exit", r));
    agent!.kill("SIGTERM");
    await gone;
    expect(existsSync(sock)).toBe(false);
  });
});

describe("milter agent behind a real Postfix (smtpd_milters = unix:...)", () => {
  const SWAKS = "/usr/bin/swaks";
  let dir = "";
  let postfix: PrivatePostfix | undefined;
  let smtpPort = 0;
  let daemon: DaemonProcess | undefined;

  const delivered = () => postfix!.delivered();
  const swaks = (args: string[], input?: Buffer) => {
    const r = spawnSync(SWAKS, ["--server", `127.0.0.1:${smtpPort}`, "--from", "alice@example.org", "--to", "bob@example.test", ...args],
      { input, encoding: "utf8", timeout: 60_000 });
    return { code: r.status, out: `${r.stdout}${r.stderr}` };
  };

  beforeAll(async () => {
    expect(existsSync(SWAKS), "swaks missing").toBe(true);
    dir = tempDir("bulwark-milter-postfix-");
    chmodSync(dir, 0o755); // Postfix's processes (user postfix) must reach the milter socket and the queue
    ({ daemon } = await startWith(dir, ""));
    const [reinject, filter] = [await freePort(), await freePort()];
    smtpPort = await freePort();
    postfix = await PrivatePostfix.start(join(dir, "postfix"), { smtp: smtpPort, reinject, filter }, {
      PF_CONTENT_FILTER: "no",
      PF_MILTER: `unix:${join(dir, "milter.sock")}`,
    });
  });
  afterAll(async () => {
    postfix?.stop();
    if (daemon) { daemon.child.kill("SIGTERM"); await daemon.exited; }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("a clean mail is delivered with the X-Bulwark-Verdict field; EICAR gets 554 and is not delivered", async () => {
    const clean = swaks(["--header", "Subject: milter-clean-mail", "--body", "nothing here"]);
    expect(clean.code, clean.out).toBe(0);
    await until(() => delivered().some((m) => m.includes("milter-clean-mail")), "the clean mail in the Maildir");
    const mail = delivered().find((m) => m.includes("milter-clean-mail"))!;
    expect(mail).toMatch(new RegExp(`^${HEADER_VERDICT}: `, "m"));

    const infected = swaks(["--header", "Subject: milter-eicar-mail", "--body", "-"], EICAR);
    expect(infected.code).not.toBe(0);
    expect(infected.out).toMatch(/<\*\* 554 5\.7\.1 /);
    expect(delivered().some((m) => m.includes("milter-eicar-mail"))).toBe(false);
  });
});
