/**
 * bulwark-pipe through the daemon's zBWMAIL service, against real daemon processes (spawned from
 * the build): header fields, reject + quarantine + statistics, user_config black- and
 * white-lists, a broken user_config, mail over max_file_size (both policies), cleaning and the
 * footnote. Mails are generated here; EICAR comes from an XOR-encoded constant.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { daemonMail } from "../../agents/common/daemon-client.js";
import { openQuarantine } from "../../host/quarantine/store.js";
import { createScanner } from "../../host/scanner.js";
import { EICAR, ROOT, type DaemonProcess, runAgent, startDaemonProcess, tempDir, until, writeConfig } from "../daemon/daemon-process.js";
import { pythonDefects, pythonParts } from "../policy/python-mime.js";

const CLEAN_MAIL = Buffer.from("From: a@example.org\nTo: b@example.org\nSubject: hello\n\nJust text.\n");
const EICAR_MAIL = Buffer.concat([Buffer.from("From: a@example.org\nSubject: test\n\n"), EICAR, Buffer.from("\n")]);
/** multipart mail: a text part and EICAR as a base64 attachment (cleanable) */
const MULTIPART_EICAR = Buffer.from(
  [
    "From: a@example.org", "To: clean@y.test", "Subject: with attachment", "MIME-Version: 1.0",
    'Content-Type: multipart/mixed; boundary="b1"', "", "--b1", "Content-Type: text/plain; charset=us-ascii", "",
    "Hello, see the attachment.", "--b1", 'Content-Type: application/octet-stream; name="eicar.com"',
    'Content-Disposition: attachment; filename="eicar.com"', "Content-Transfer-Encoding: base64", "",
    EICAR.toString("base64"), "--b1--", "",
  ].join("\n"),
);

const stop = async (d: DaemonProcess | undefined) => {
  if (d && d.child.exitCode === null) {
    d.child.kill("SIGTERM");
    await d.exited;
  }
};

/** The mail after the X-Bulwark-* header fields the pipe put in front, and those fields. */
function splitOutput(out: Buffer): { fields: string[]; rest: Buffer } {
  const fields: string[] = [];
  let off = 0;
  for (;;) {
    const nl = out.indexOf(0x0a, off);
    const line = out.subarray(off, nl + 1).toString("latin1");
    if (nl < 0 || !line.startsWith("X-Bulwark-")) break;
    fields.push(line.trimEnd());
    off = nl + 1;
  }
  return { fields, rest: out.subarray(off) };
}

function bulwark(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [join(ROOT, "bin", "bulwark"), ...args], { env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

describe("quarantine and statistics", () => {
  let dir: string;
  let config: string;
  let daemon: DaemonProcess;
  beforeAll(async () => {
    dir = tempDir("bulwark-mail-stats-");
    config = writeConfig(dir);
    daemon = await startDaemonProcess(config, join(dir, "cache"));
  });
  afterAll(async () => {
    await stop(daemon);
    rmSync(dir, { recursive: true, force: true });
  });

  it("accepts a clean mail with header fields, rejects EICAR (69), keeps it in quarantine and counts objects vs messages", async () => {
    const ok = runAgent("bulwark-pipe", ["--config", config, "--sender", "a@example.org", "--recipient", "b@example.org"], CLEAN_MAIL);
    expect(ok.stderr).toBe("");
    expect(ok.code).toBe(0);
    const { fields, rest } = splitOutput(ok.stdout);
    expect(fields[0]).toBe("X-Bulwark-Verdict: clean");
    expect(fields.map((f) => f.split(":")[0])).toEqual(["X-Bulwark-Verdict", "X-Bulwark-Engine", "X-Bulwark-Signatures"]);
    expect(rest.equals(CLEAN_MAIL)).toBe(true);

    const bad = runAgent("bulwark-pipe", ["--config", config, "--sender", "evil@x.test", "--recipient", "b@example.org", "--recipient", "c@example.org"], EICAR_MAIL);
    expect(bad.code).toBe(69);
    expect(bad.stdout.length).toBe(0);
    const id = /quarantined as ([0-9a-f]{64})/.exec(bad.stderr)?.[1];
    expect(id, bad.stderr).toBeDefined();

    // the CLI sees it: bulwark quar list --json
    const list = bulwark(["quar", "--dir", join(dir, "cache", "quarantine"), "list", "--json"]);
    expect(list.code).toBe(0);
    const entries = JSON.parse(list.stdout) as Array<Record<string, unknown>>;
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ id, status: "infected", sender: "evil@x.test", recipients: ["b@example.org", "c@example.org"], agent: "pipe" });
    expect(String((entries[0].names as string[])[0])).toMatch(/eicar/i);
    const store = await openQuarantine(join(dir, "cache", "quarantine"), { warn: () => {} });
    expect(Buffer.from(await store.get(id!)).equals(EICAR_MAIL)).toBe(true);
    await store.close();

    // statistics are saved by the daemon; stopping it flushes them
    await stop(daemon);
    const stats = bulwark(["stats", "--file", join(dir, "cache", "stats.json"), "--agent", "pipe", "--json"]);
    expect(stats.code).toBe(0);
    const pipe = JSON.parse(stats.stdout).agents.pipe;
    // two messages (one accepted, one rejected); objects: each mail is one object, one infected
    expect(pipe).toMatchObject({ accepted: 1, rejected: 1, deferred: 0, discarded: 0, infected: 1 });
    expect(pipe.scanned).toBeGreaterThanOrEqual(2);
  });
});

describe("user_config, cleaning and footnote", () => {
  let dir: string;
  let config: string;
  let users: string;
  let daemon: DaemonProcess;
  const USERS = [
    "[black-list]", 'action_av = "reject"', "",
    "[|bad@x.test]", 'parent_id = "black-list"', "",
    "[rcpt@y.test]", 'action_av = "accept"', "",
    "[clean@y.test]", 'av_clean_mode = "standard"', 'action_av_deleted = "accept"', "",
    "[foot@y.test]", "av_footnote_enabled = yes", 'av_footnote_text = "Scanned for you by Bulwark."', "",
  ].join("\n");

  beforeAll(async () => {
    dir = tempDir("bulwark-mail-users-");
    users = join(dir, "users.cfg");
    writeFileSync(users, USERS);
    config = writeConfig(dir, '\n[pipe]\nuser_config = "users.cfg"\n');
    daemon = await startDaemonProcess(config, join(dir, "cache"));
  });
  afterAll(async () => {
    await stop(daemon);
    rmSync(dir, { recursive: true, force: true });
  });

  const pipe = (sender: string, recipients: string[], mail: Buffer) =>
    runAgent("bulwark-pipe", ["--config", config, "--sender", sender, ...recipients.flatMap((r) => ["--recipient", r])], mail);

  it("a black-listed sender is rejected even with a clean mail; another sender is accepted", () => {
    const black = pipe("bad@x.test", ["someone@y.test"], CLEAN_MAIL);
    expect(black.code).toBe(69);
    expect(black.stdout.length).toBe(0);
    expect(black.stderr).toMatch(/reject: action_av=reject/);
    expect(black.stderr).not.toMatch(/quarantined/); // blocked by the list, not by the scan
    const other = pipe("good@x.test", ["someone@y.test"], CLEAN_MAIL);
    expect(other.code).toBe(0);
    expect(splitOutput(other.stdout).rest.equals(CLEAN_MAIL)).toBe(true);
  });

  it("a white-listed recipient gets even an infected mail, unscanned (no header fields); others do not", () => {
    const white = pipe("x@x.test", ["rcpt@y.test"], EICAR_MAIL);
    expect(white.code).toBe(0);
    expect(white.stdout.equals(EICAR_MAIL)).toBe(true);
    const other = pipe("x@x.test", ["other@y.test"], EICAR_MAIL);
    expect(other.code).toBe(69);
    // one answer for both: the blocked recipient wins
    const both = pipe("x@x.test", ["rcpt@y.test", "other@y.test"], EICAR_MAIL);
    expect(both.code).toBe(69);
  });

  it("cleans an infected attachment for a recipient with av_clean_mode: the copy re-scans clean and parses as MIME", async () => {
    const r = pipe("x@x.test", ["clean@y.test"], MULTIPART_EICAR);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const { fields, rest } = splitOutput(r.stdout);
    expect(fields[0]).toMatch(/^X-Bulwark-Verdict: cleaned; Eicar/i);
    expect(rest.equals(MULTIPART_EICAR)).toBe(false);
    expect(rest.toString("latin1")).toContain("Hello, see the attachment.");
    const scanner = await createScanner({ workers: 0, cacheDir: null });
    try {
      expect((await scanner.scan(rest)).status).toBe("clean");
    } finally {
      await scanner.close();
    }
    const parts = pythonParts(rest);
    expect(pythonDefects(parts)).toEqual([]);
    expect(parts.some((p) => p.type === "text/plain" && p.text?.includes("Hello, see the attachment."))).toBe(true);
    // without cleaning the same mail is rejected
    expect(pipe("x@x.test", ["other@y.test"], MULTIPART_EICAR).code).toBe(69);
  });

  it("adds the footnote for a recipient with av_footnote_enabled, only on accepted mail", () => {
    const r = pipe("x@x.test", ["foot@y.test"], CLEAN_MAIL);
    expect(r.code).toBe(0);
    const { fields, rest } = splitOutput(r.stdout);
    expect(fields[0]).toBe("X-Bulwark-Verdict: clean");
    expect(rest.toString("latin1")).toContain("Scanned for you by Bulwark.");
    expect(rest.subarray(0, CLEAN_MAIL.length - 1).equals(CLEAN_MAIL.subarray(0, CLEAN_MAIL.length - 1))).toBe(true);
    const plain = pipe("x@x.test", ["other@y.test"], CLEAN_MAIL);
    expect(splitOutput(plain.stdout).rest.equals(CLEAN_MAIL)).toBe(true);
  });

  it("a broken user_config defers every message (75) with the error in the daemon's log; fixing it applies at once", async () => {
    writeFileSync(users, `${USERS}\n[|worse@x.test]\nparent_id = "no-such-group"\n`);
    const r = pipe("good@x.test", ["someone@y.test"], CLEAN_MAIL);
    expect(r.code).toBe(75);
    expect(r.stdout.length).toBe(0);
    expect(r.stderr).toMatch(/users\.cfg:\d+: .*no-such-group/);
    await until(() => /error: mail deferred: .*users\.cfg:\d+: .*no-such-group/.test(daemon.log()), "the error line in the daemon's log");
    writeFileSync(users, `${USERS}\n[bogus@y.test]\nnot_an_option = 1\n`);
    expect(pipe("good@x.test", ["someone@y.test"], CLEAN_MAIL).code).toBe(75);
    writeFileSync(users, USERS);
    expect(pipe("good@x.test", ["someone@y.test"], CLEAN_MAIL).code).toBe(0);
    expect(pipe("bad@x.test", ["someone@y.test"], CLEAN_MAIL).code).toBe(69);
  });
});

describe("mail over max_file_size", () => {
  const LIMIT = 4096;
  let dir: string;
  let config: string;
  let daemon: DaemonProcess;
  /** a clean mail far over the limit (several pipe reads), with a recognisable end */
  const BIG = Buffer.concat([CLEAN_MAIL, Buffer.alloc(300_000, 0x61), Buffer.from("\nTHE END\n")]);

  beforeAll(async () => {
    dir = tempDir("bulwark-mail-big-");
    writeFileSync(join(dir, "users.cfg"), '[big@y.test]\naction_av_notscanned = "accept"\n');
    config = writeConfig(dir, '\n[pipe]\nuser_config = "users.cfg"\n');
    writeFileSync(config, readFileSync(config, "utf8").replace("workers = 1", `workers = 1\nmax_file_size = ${LIMIT}`));
    daemon = await startDaemonProcess(config, join(dir, "cache"));
  });
  afterAll(async () => {
    await stop(daemon);
    rmSync(dir, { recursive: true, force: true });
  });

  it("is not scanned: rejected by default (action_av_notscanned = reject), nothing written", () => {
    const r = runAgent("bulwark-pipe", ["--config", config, "--recipient", "other@y.test"], BIG);
    expect(r.code).toBe(69);
    expect(r.stdout.length).toBe(0);
    expect(r.stderr).toMatch(/not scanned: action_av_notscanned=reject/);
  });

  it("accepted when action_av_notscanned = accept: the whole mail, byte-identical after the header fields", () => {
    const r = runAgent("bulwark-pipe", ["--config", config, "--recipient", "big@y.test"], BIG);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const { fields, rest } = splitOutput(r.stdout);
    expect(fields[0]).toBe("X-Bulwark-Verdict: not-scanned; Heuristics.Limits.Exceeded.MaxFileSize");
    expect(rest.length).toBe(BIG.length);
    expect(rest.equals(BIG)).toBe(true);
  });

  it("the daemon drains a stream over the limit without storing it and answers not scanned", async () => {
    const huge = Buffer.alloc(LIMIT * 50, 0x62);
    const a = await daemonMail(join(dir, "cache", "bulwark.sock"), { agent: "pipe", recipients: ["other@y.test"] }, huge, LIMIT * 2);
    expect(a.ok).toBe(true);
    if (!a.ok) return;
    expect(a.result.action).toBe("reject");
    expect(a.result.verdict.status).toBe("not_scanned");
    expect(a.result.verdict.notScanned[0].name).toBe("Heuristics.Limits.Exceeded.MaxFileSize");
    expect(a.result.verdict.notScanned[0].reason).toContain(String(huge.length));
    expect(a.result.quarantineId).toBeUndefined(); // only the start was kept: nothing to quarantine
  });
});
