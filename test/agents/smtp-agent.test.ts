/**
 * The [smtp] agent as the daemon runs it (agents/smtp/main.ts, supervised by a real daemon
 * process), between Debian's swaks as the client and a private Postfix 3.7 as the next hop
 * (test/peers/postfix-private.sh, no content_filter: Postfix delivers into its Maildir).
 * Clean mail arrives with X-Bulwark-Verdict; EICAR gets 554 and never reaches Postfix; an agent
 * whose daemon is unreachable answers 451; a `<LF>.<CR><LF>` smuggling attempt gives exactly one
 * message downstream, holding the rest verbatim. Postfix and swaks missing = failure, not a skip.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { chmodSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireBinary } from "../clamd/clamd-peer.js";
import { type DaemonProcess, EICAR, freePort, ROOT, startDaemonProcess, tempDir, until, writeConfig } from "../daemon/daemon-process.js";
import { PrivatePostfix, swaksDataReply } from "../helpers/mail-peers.js";
import { RawSmtp, randomCuts } from "../helpers/raw-smtp.js";

/** How many random cut points the hostile-client test uses. */
const RANDOM_CUTS = 12;


let dir: string;
let pfBase: string;
let postfix: PrivatePostfix | undefined;
let daemon: DaemonProcess;
let agentPort: number;
let orphan: ChildProcess | undefined;
let orphanPort: number;
let swaks: string;

const delivered = (): string[] => postfix!.delivered("latin1");
const withMarker = (m: string): string[] => delivered().filter((t) => t.includes(m));

function runSwaks(port: number, args: string[]): { code: number | null; out: string } {
  const r = spawnSync(swaks, ["--server", `127.0.0.1:${port}`, "--from", "alice@example.org", "--to", "bob@example.test", ...args], {
    encoding: "utf8",
    timeout: 60_000,
  });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

const dataReply = swaksDataReply;

beforeAll(async () => {
  swaks = requireBinary("swaks", "swaks");
  dir = tempDir("bulwark-smtp-agent-");
  pfBase = join(dir, "postfix");
  chmodSync(dir, 0o755); // Postfix's processes (user postfix) must reach the queue below it
  const [smtpPort, reinjectPort, filterPort] = [await freePort(), await freePort(), await freePort()];
  postfix = await PrivatePostfix.start(pfBase, { smtp: smtpPort, reinject: reinjectPort, filter: filterPort }, { PF_CONTENT_FILTER: "no" });

  agentPort = await freePort();
  const config = writeConfig(dir, `\n[smtp]\nagent_enabled = yes\nlisten_port = ${agentPort}\nserver_port = ${reinjectPort}\n`);
  daemon = await startDaemonProcess(config, join(dir, "cache"));

  // The same agent program on its own, with a daemon socket nobody serves.
  orphanPort = await freePort();
  const orphanDir = join(dir, "orphan");
  const orphanConfig = writeConfig(orphanDir, `\n[smtp]\nagent_enabled = yes\nlisten_port = ${orphanPort}\nserver_port = ${reinjectPort}\n`);
  orphan = spawn(process.execPath, [join(ROOT, "dist", "agents", "smtp", "main.js"), "--config", orphanConfig], { stdio: ["ignore", "ignore", "pipe"] });
  let orphanLog = "";
  orphan.stderr!.on("data", (d) => (orphanLog += d));
  await until(() => /SMTP proxy on/.test(orphanLog) || orphan!.exitCode !== null, "the stand-alone smtp agent");
  if (orphan.exitCode !== null) throw new Error(`stand-alone smtp agent exited: ${orphanLog}`);
});

afterAll(async () => {
  if (orphan && orphan.exitCode === null) orphan.kill("SIGTERM");
  if (daemon?.child.exitCode === null) {
    daemon.child.kill("SIGTERM");
    await daemon.exited;
  }
  postfix?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("the [smtp] agent in front of a private Postfix", () => {
  it("runs as a process of the daemon and offers no STARTTLS, AUTH or CHUNKING", () => {
    expect(daemon.log()).toMatch(/agent smtp: ready \(pid \d+\)/);
    const r = runSwaks(agentPort, ["--quit-after", "EHLO"]);
    const ehlo = r.out.split("\n").filter((l) => l.startsWith("<-  250"));
    expect(ehlo.length).toBeGreaterThan(1);
    expect(r.out).not.toMatch(/STARTTLS|AUTH|CHUNKING|XCLIENT/);
    // Postfix offers 8BITMIME and the agent forwards it
    expect(r.out).toMatch(/250-8BITMIME|250 8BITMIME/);
  });

  it("a clean mail arrives in the Maildir with X-Bulwark-Verdict, and swaks gets Postfix's own reply", async () => {
    const r = runSwaks(agentPort, ["--header", "Subject: clean-marker-1", "--body", "just a clean test mail"]);
    expect(dataReply(r.out)).toMatch(/^<-  250 2\.0\.0 Ok: queued as [0-9A-F]+$/);
    await until(() => withMarker("clean-marker-1").length === 1, "the clean mail in the Maildir");
    const mail = withMarker("clean-marker-1")[0];
    expect(mail).toMatch(/^X-Bulwark-Verdict: clean/m);
    expect(mail).toContain("just a clean test mail");
  });

  it("EICAR: swaks sees 554 5.7.1 with the signature, and nothing reaches Postfix", async () => {
    const body = join(dir, "eicar-body.txt");
    // the signature matches at the start of an object: the body part must begin with it
    writeFileSync(body, Buffer.concat([EICAR, Buffer.from("\r\n")]));
    const r = runSwaks(agentPort, ["--header", "Subject: eicar-marker-2", "--body", `@${body}`]);
    expect(dataReply(r.out)).toMatch(/^<\*\* 554 5\.7\.1 Message rejected by content filter: .*Eicar-Test-Signature/);
    // a clean mail sent after it arrives; the EICAR one must not be there with it
    runSwaks(agentPort, ["--header", "Subject: after-eicar-marker-3"]);
    await until(() => withMarker("after-eicar-marker-3").length === 1, "the mail sent after EICAR");
    expect(withMarker("eicar-marker-2")).toEqual([]);
    await until(() => /smtp\[\d+\]: rejected from=<alice@example\.org> to=<bob@example\.test>.*Eicar-Test-Signature/.test(daemon.log()), "the agent's log line for the rejection");
  });

  it("daemon socket unreachable: 451, nothing relayed", async () => {
    const r = runSwaks(orphanPort, ["--header", "Subject: orphan-marker-4"]);
    expect(dataReply(r.out)).toMatch(/^<\*\* 451 4\.7\.1 Message deferred by content filter/);
    runSwaks(agentPort, ["--header", "Subject: after-orphan-marker-5"]);
    await until(() => withMarker("after-orphan-marker-5").length === 1, "the mail sent after the 451");
    expect(withMarker("orphan-marker-4")).toEqual([]);
  });

  it("smuggling with <LF>.<CR><LF>: one message downstream, the rest of it kept as body text", async () => {
    const c = await RawSmtp.connect(agentPort);
    try {
      expect(await c.reply()).toMatch(/^220 /);
      expect(await c.send("EHLO smuggler.test\r\n")).toMatch(/^250/);
      expect(await c.send("MAIL FROM:<alice@example.org>\r\n")).toMatch(/^250/);
      expect(await c.send("RCPT TO:<bob@example.test>\r\n")).toMatch(/^250/);
      expect(await c.send("DATA\r\n")).toMatch(/^354/);
      const end = await c.send(
        "Subject: smuggle-marker-6\r\n\r\nfirst part\n.\r\n" +
          "MAIL FROM:<mallory@example.org>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n" +
          "Subject: smuggled-marker-7\r\n\r\nsecond part\r\n.\r\n",
      );
      expect(end).toMatch(/^250 /);
      expect(await c.send("QUIT\r\n")).toMatch(/^221 /);
    } finally {
      c.close();
    }
    await until(() => withMarker("smuggle-marker-6").length === 1, "the smuggling mail in the Maildir");
    const mail = withMarker("smuggle-marker-6")[0];
    expect(mail).toContain("first part\n.\nMAIL FROM:<mallory@example.org>\nRCPT TO:<bob@example.test>\nDATA\nSubject: smuggled-marker-7\n\nsecond part");
    runSwaks(agentPort, ["--header", "Subject: after-smuggle-marker-8"]);
    await until(() => withMarker("after-smuggle-marker-8").length === 1, "the mail sent after the smuggling one");
    expect(withMarker("smuggled-marker-7")).toHaveLength(1); // only inside the first message
    expect(delivered().filter((t) => /^Subject: smuggled-marker-7/m.test(t) && !t.includes("smuggle-marker-6"))).toEqual([]);
  });

  it("smuggling with <CR>.<CR><LF>, <LF>.<LF>, <CR><LF>.<LF>, written at random offsets: one message, line ends normalised", async () => {
    const seed = Date.now() % 1_000_000;
    const payload =
      "Subject: split-marker-9\r\n\r\nalpha\r.\r\nMAIL FROM:<mallory@example.org>\r\n" +
      "beta\n.\nRCPT TO:<bob@example.test>\r\ngamma\r\n.\nDATA\r\nend of it\r\n.\r\n";
    const cuts = randomCuts(payload.length, RANDOM_CUTS, seed);
    const c = await RawSmtp.connect(agentPort);
    try {
      await c.reply();
      await c.send("EHLO smuggler.test\r\n");
      await c.send("MAIL FROM:<alice@example.org>\r\n");
      await c.send("RCPT TO:<bob@example.test>\r\n");
      expect(await c.send("DATA\r\n")).toMatch(/^354/);
      expect(await c.sendSplit(payload, cuts), `seed ${seed}, cuts ${cuts.join(",")}`).toMatch(/^250 /);
      expect(await c.send("QUIT\r\n")).toMatch(/^221 /);
    } finally {
      c.close();
    }
    await until(() => withMarker("split-marker-9").length === 1, "the split mail in the Maildir");
    // Maildir files use LF: every CRLF, bare CR and bare LF of the body became one line end
    expect(withMarker("split-marker-9")[0], `seed ${seed}`).toContain(
      "alpha\n.\nMAIL FROM:<mallory@example.org>\nbeta\n.\nRCPT TO:<bob@example.test>\ngamma\n.\nDATA\nend of it\n",
    );
  });
});
