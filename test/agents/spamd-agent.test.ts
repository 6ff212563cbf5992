/**
 * The [spamd] agent as the daemon runs it (agents/spamd/main.ts, supervised by the manager),
 * with Debian's real spamc over TCP and a unix socket, the manager's real anti-spam engine
 * behind it (zBWSPAM / zBWLEARN): CHECK (-c), SYMBOLS (-y), REPORT (-R), PING (-K), PROCESS
 * (default), HEADERS (--headers), TELL (-L spam|ham|forget) with allow_tell = yes, then refused
 * after a reload with allow_tell = no; bad requests against the agent; then the daemon stopped
 * (spamc's own codes for an absent server) and a daemon whose engine cannot be built (a broken
 * as_rules_file: temporary failure, never a verdict).
 *
 * No network: SPF/DKIM/DMARC are off and no block list is configured, so the engine makes no
 * DNS query. spamc missing = failure, not a skip.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "../../agents/common/daemon-client.js";
import { BWLEARN, BWSPAM } from "../../host/service/spam-protocol.js";
import { requireBinary } from "../clamd/clamd-peer.js";
import { type DaemonProcess, freePort, startDaemonProcess, tempDir, until, writeConfig } from "../daemon/daemon-process.js";
import { runProgram } from "../helpers/run-program.js";

const GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";
const headers = (subject: string, id: string) =>
  `Received: from mx.example.org (mx.example.org [192.0.2.10])\n\tby mail.example.test with ESMTP id ${id}; Wed, 25 Nov 2026 10:00:00 +0000\n` +
  `From: Alice Example <alice@example.org>\nTo: Bob <bob@example.test>\nSubject: ${subject}\nDate: Wed, 25 Nov 2026 10:00:00 +0000\n` +
  `Message-ID: <${id}@example.org>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\n`;
const SPAM = Buffer.from(`${headers("quarterly figures", "spamd-gtube-1")}Hello Bob,\n\n${GTUBE}\n\nAlice\n`);
const HAM = Buffer.from(`${headers("lunch on friday", "spamd-ham-1")}Hi Bob,\n\nare we still on for lunch on Friday at noon? The usual place.\n\nAlice\n`);
/** max_file_size of the test daemon: small, so an oversized request is cheap to send */
const MAX_FILE_SIZE = 1024 * 1024;

let dir = "";
let config = "";
let daemon: DaemonProcess | undefined;
let spamc = "";
let port = 0;
let unixPath = "";

const run = (args: string[], input?: Uint8Array) => runProgram(spamc, args, input);
const tcp = () => ["-d", "127.0.0.1", "-p", String(port)];
const unix = () => ["-U", unixPath];

/** One raw request; the whole reply once the agent closes. */
function rawRequest(bytes: Buffer, end = true): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, "127.0.0.1", () => (end ? sock.end(bytes) : sock.write(bytes)));
    let got = "";
    sock.on("data", (d) => (got += d.toString("latin1")));
    sock.on("error", (e: NodeJS.ErrnoException) => (e.code === "ECONNRESET" ? undefined : reject(e)));
    sock.on("close", () => resolve(got));
  });
}

const agentPids = (d: DaemonProcess) => [...d.log().matchAll(/agent spamd: ready \(pid (\d+)\)/g)].map((m) => Number(m[1]));

function configText(allowTell: boolean, extraGlobal = ""): string {
  return readFileSync(config, "utf8")
    .replace(/allow_tell = (yes|no)/, `allow_tell = ${allowTell ? "yes" : "no"}`)
    .replace("workers = 1\n", `workers = 1\n${extraGlobal}`);
}

beforeAll(async () => {
  spamc = requireBinary("spamc", "spamc");
  dir = tempDir("bulwark-spamd-agent-");
  port = await freePort();
  config = writeConfig(dir, ["", "[spamd]", "agent_enabled = yes", `listen_port = ${port}`, 'socket_path = "spamd.sock"', "allow_tell = yes", ""].join("\n"));
  // no network checks: no DNS query leaves the machine
  writeFileSync(config, readFileSync(config, "utf8").replace("workers = 1\n", `workers = 1\nas_auth_enabled = no\nmax_file_size = ${MAX_FILE_SIZE}\n`));
  unixPath = join(dir, "cache", "spamd.sock");
  daemon = await startDaemonProcess(config, join(dir, "cache"));
});

afterAll(async () => {
  if (daemon && daemon.child.exitCode === null) {
    daemon.child.kill("SIGTERM");
    await daemon.exited;
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("the [spamd] agent with spamc", () => {
  it("runs as a child process of the manager and answers spamc -K over TCP and the unix socket", async () => {
    const pid = agentPids(daemon!).at(-1);
    expect(pid).toBeDefined();
    expect(readFileSync(`/proc/${pid}/status`, "utf8")).toMatch(new RegExp(`^PPid:\\s+${daemon!.child.pid}$`, "m"));
    for (const where of [tcp(), unix()]) expect(await run([...where, "-K"])).toMatchObject({ code: 0, out: "SPAMD/1.5 0\n" });
  });

  it("spamc -c: GTUBE is spam (exit 1), the ham is not (exit 0), over both listeners", async () => {
    for (const where of [tcp(), unix()]) {
      const s = await run([...where, "-x", "-c"], SPAM);
      const [score, threshold] = s.out.trim().split("/").map(Number);
      expect(s.code).toBe(1);
      expect(score).toBeGreaterThanOrEqual(1000);
      expect(threshold).toBe(5);
      const h = await run([...where, "-x", "-c"], HAM);
      expect(h.code).toBe(0);
      expect(Number(h.out.trim().split("/")[0])).toBeLessThan(5);
      expect(h.out).toMatch(/^-?\d+\.\d\/5\.0\n$/);
    }
    expect(daemon!.log()).toMatch(/spamd: spam check: spam \(score \d+\.\d \/ 5\.0\) .*GTUBE/);
  });

  it("spamc -y lists GTUBE; spamc -R reports it", async () => {
    const y = await run([...tcp(), "-x", "-y"], SPAM);
    expect(y.code).toBe(0);
    expect(y.out.split(",")).toContain("GTUBE");
    const r = await run([...tcp(), "-x", "-R"], SPAM);
    expect(r.out).toMatch(/^\d+\.\d\/5\.0\n/);
    expect(r.out).toMatch(/Content analysis details: +\(\d+\.\d points, 5\.0 required\)/);
    expect(r.out).toMatch(/\n *\d+ GTUBE +\S/);
  });

  it("PROCESS (spamc's default) returns the mail with the spam fields and the subject tag; --headers the same", async () => {
    const p = await run([...tcp(), "-x"], SPAM);
    expect(p.code).toBe(0);
    expect(p.out).toMatch(/^X-Bulwark-Spam-Status: Yes, score=\d+\.\d required=5\.0\nX-Bulwark-Spam-Score: \d+\.\d\nX-Bulwark-Spam-Reasons: .*GTUBE=/);
    expect(p.out).toContain("\nSubject: [SPAM] quarterly figures\n");
    expect(p.out.endsWith(`\n\nHello Bob,\n\n${GTUBE}\n\nAlice\n`)).toBe(true);
    const h = await run([...unix(), "-x", "--headers"], SPAM);
    expect(h.out).toBe(p.out);
    const ham = await run([...tcp(), "-x"], HAM);
    expect(ham.out).toMatch(/^X-Bulwark-Spam-Status: No, /);
    expect(ham.out).toContain("\nSubject: lunch on friday\n");
    expect(ham.out.endsWith(HAM.subarray(HAM.indexOf("\n\n")).toString())).toBe(true);
  });

  it("TELL with allow_tell = yes: learn, already learned, move to ham, forget, forget again", async () => {
    const said = async (args: string[]) => {
      const r = await run([...tcp(), ...args], HAM);
      expect(r.code).toBe(0);
      return r.out;
    };
    expect(await said(["-L", "spam"])).toBe("Message successfully un/learned\n");
    expect(await said(["-L", "spam"])).toBe("Message was already un/learned\n");
    expect(await said(["-L", "ham"])).toBe("Message successfully un/learned\n");
    expect(await said(["-L", "forget"])).toBe("Message successfully un/learned\n");
    expect(await said(["-L", "forget"])).toBe("Message was already un/learned\n");
    const log = daemon!.log();
    expect(log).toMatch(/spamd: spam: learned \(spam 1, ham 0\)/);
    expect(log).toMatch(/spamd: ham: relearned \(spam 0, ham 1\)/);
    expect(log).toMatch(/spamd: forget: forgotten \(spam 0, ham 0\)/);
  });

  it("bad requests get spamd's error line from the agent; it keeps serving", async () => {
    expect(await rawRequest(Buffer.from("HELO SPAMC/1.5\r\n\r\n"))).toBe("SPAMD/1.0 76 Bad header line: HELO SPAMC/1.5\r\n");
    expect(await rawRequest(Buffer.from(`CHECK SPAMC/1.5\r\nContent-length: ${MAX_FILE_SIZE + 1}\r\n\r\n`), false)).toBe(
      `SPAMD/1.0 65 Message too big: Content-length ${MAX_FILE_SIZE + 1} is over the limit of ${MAX_FILE_SIZE} bytes (max_file_size)\r\n`,
    );
    expect((await run([...tcp(), "-x", "-c"], SPAM)).code).toBe(1);
  });

  it("after a reload with allow_tell = no, TELL is refused (spamc exits 74) and nothing is learned", async () => {
    const before = agentPids(daemon!).length;
    writeFileSync(config, configText(false));
    daemon!.child.kill("SIGHUP");
    await until(() => agentPids(daemon!).length > before, "the spamd agent restarted with the new configuration");
    const r = await run([...tcp(), "-L", "spam"], SPAM);
    expect(r.code).toBe(74);
    expect(daemon!.log()).toMatch(/request refused: Permission denied: TELL is disabled/);
    expect(daemon!.log()).not.toMatch(/spamd: spam: learned \(spam 1, ham 1\)/);
    // the manager checks allow_tell too: a zBWLEARN for the spamd agent is refused there as well
    const direct = await request(daemon!.socket, BWLEARN, { cls: "spam", agent: "spamd" }, SPAM, { hasBody: () => false, maxBody: 0 }, 10_000);
    expect(direct.head).toEqual({ error: "learning through the daemon is disabled ([spamd] allow_tell = no, agent spamd)" });
    // and a request naming no agent, or another agent, cannot get around that check
    const anonymous = await request(daemon!.socket, BWLEARN, { cls: "spam" }, SPAM, { hasBody: () => false, maxBody: 0 }, 10_000);
    expect(anonymous.head).toEqual({ error: "unknown agent undefined" });
    const other = await request(daemon!.socket, BWLEARN, { cls: "spam", agent: "pipe" }, SPAM, { hasBody: () => false, maxBody: 0 }, 10_000);
    expect(other.head).toEqual({ error: "learning through the daemon is disabled ([spamd] allow_tell = no, agent pipe)" });
    expect(daemon!.log()).not.toMatch(/: spam: learned \(spam 1, ham 1\)/);
    const bad = await request(daemon!.socket, BWSPAM, { agent: "nobody" }, SPAM, { hasBody: () => false, maxBody: 0 }, 10_000);
    expect(bad.head).toEqual({ error: 'unknown agent "nobody"' });
  });
});

describe("when Bulwark cannot answer", () => {
  it("daemon stopped: spamc -x exits 69 (EX_UNAVAILABLE) over TCP, 75 with -X; plain spamc passes the mail through", async () => {
    daemon!.child.kill("SIGTERM");
    expect(await daemon!.exited).toBe(0);
    // one connection attempt each (spamc's default is 3, one second apart)
    const once = [...tcp(), "--connect-retries=1"];
    expect((await run([...once, "-x", "-c"], SPAM)).code).toBe(69);
    expect((await run([...once, "-x", "-X"], SPAM)).code).toBe(75);
    const pass = await run(once, SPAM);
    expect([pass.code, pass.out]).toEqual([0, SPAM.toString()]);
    // the unix socket file is gone with its listener (as real spamd's): spamc fails before
    // connecting with its own EX_SOFTWARE, even with -X; hence the README's advice to give MTAs TCP
    expect((await run([...unix(), "--connect-retries=1", "-x", "-X"], SPAM)).code).toBe(70);
  });

  it("no anti-spam engine (broken as_rules_file): a temporary failure (spamc -x exits 74), never a verdict", async () => {
    const rules = join(dir, "broken.rules");
    writeFileSync(rules, "this is not a rule line\n");
    writeFileSync(config, configText(false, `as_rules_file = "${rules}"\n`));
    daemon = await startDaemonProcess(config, join(dir, "cache"));
    expect(daemon.log()).toMatch(/anti-spam unavailable/);
    await until(() => agentPids(daemon!).length > 0, "the spamd agent");
    const x = await run([...tcp(), "-x", "-c"], SPAM);
    expect(x.code).toBe(74);
    const fallback = await run(tcp(), SPAM);
    expect([fallback.code, fallback.out]).toEqual([0, SPAM.toString()]);
    expect(daemon.log()).toMatch(/BWSPAM: the anti-spam engine is not available/);
  });
});
