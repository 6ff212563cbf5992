/**
 * bulwark-pipe and bulwark-cli against a real daemon (spawned from the build): exit codes,
 * what reaches stdout, and failure when the daemon is gone (defer for the pipe, error for the
 * cli). Inputs are generated at test time; EICAR comes from an XOR-encoded constant.
 * The policy is the daemon's (it judges the mail, host/service/): a test of another policy
 * starts a daemon of its own on that configuration.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeZip } from "../helpers/zip-bombs.js";
import { EICAR, type DaemonProcess, ROOT, runAgent, startDaemonProcess, tempDir, writeConfig } from "../daemon/daemon-process.js";

/** Run `fn` with a daemon of its own on writeConfig(extra) in a fresh directory. */
async function withDaemon(extra: string, fn: (config: string) => void): Promise<void> {
  const own = tempDir("bulwark-agents-policy-");
  const cfg = writeConfig(own, extra);
  const d = await startDaemonProcess(cfg, join(own, "cache"));
  try {
    fn(cfg);
  } finally {
    d.child.kill("SIGTERM");
    await d.exited;
    rmSync(own, { recursive: true, force: true });
  }
}

let dir: string;
let config: string;
let daemon: DaemonProcess;

const CLEAN_MAIL = Buffer.from("From: a@example.org\nTo: b@example.org\nSubject: hello\n\nJust text.\n");
const ENCRYPTED_ZIP = makeZip([{ name: "secret.txt", data: Buffer.from("a secret that cannot be read\n"), encrypted: true }]);
const ENCRYPTED_MAIL = Buffer.from(
  "From: a@example.org\nSubject: zip\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b1\"\n\n" +
    "--b1\nContent-Type: text/plain\n\nsee attachment\n" +
    "--b1\nContent-Type: application/zip; name=\"s.zip\"\nContent-Transfer-Encoding: base64\n\n" +
    Buffer.from(ENCRYPTED_ZIP).toString("base64").replace(/.{76}/g, "$&\n") + "\n--b1--\n",
);
const EICAR_MAIL = Buffer.concat([Buffer.from("From: a@example.org\nSubject: test\n\n"), EICAR, Buffer.from("\n")]);

beforeAll(async () => {
  dir = tempDir("bulwark-agents-");
  config = writeConfig(dir);
  daemon = await startDaemonProcess(config, join(dir, "cache"));
  writeFileSync(join(dir, "clean.txt"), "nothing here\n");
  writeFileSync(join(dir, "eicar.com"), EICAR);
});

afterAll(async () => {
  if (daemon?.child.exitCode === null) {
    daemon.child.kill("SIGTERM");
    await daemon.exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

describe("bulwark-pipe", () => {
  it("accepts a clean mail: exit 0, X-Bulwark header fields then the mail unchanged", () => {
    const r = runAgent("bulwark-pipe", ["--config", config], CLEAN_MAIL);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const out = r.stdout.toString("latin1");
    expect(out.startsWith("X-Bulwark-Verdict: clean\nX-Bulwark-Engine: ")).toBe(true);
    expect(out).toMatch(/^X-Bulwark-Signatures: .+\n/m);
    expect(out.endsWith(CLEAN_MAIL.toString("latin1"))).toBe(true);
    expect(out.split("\n").slice(0, 3).every((l) => l.startsWith("X-Bulwark-"))).toBe(true);
    expect(out.length).toBeLessThan(CLEAN_MAIL.length + 400);
  });

  it("rejects an EICAR mail with the default policy (action_av_infected = reject): exit 69, nothing on stdout", () => {
    const r = runAgent("bulwark-pipe", ["--config", config], EICAR_MAIL);
    expect(r.code).toBe(69);
    expect(r.stdout.length).toBe(0);
    expect(r.stderr).toMatch(/reject: infected \(Eicar/i);
  });

  it("follows the daemon's [pipe] section over [global]: action_av_infected = discard exits 99", async () => {
    await withDaemon("\n[global]\naction_av_infected = defer\n[pipe]\naction_av_infected = discard\n", (cfg) => {
      const r = runAgent("bulwark-pipe", ["--config", cfg], EICAR_MAIL);
      expect(r.code).toBe(99);
      expect(r.stdout.length).toBe(0);
    });
  });

  it("a mail with an encrypted zip is not scanned: action_av_notscanned decides (reject by default, accept when set)", () => {
    const r = runAgent("bulwark-pipe", ["--config", config], ENCRYPTED_MAIL);
    expect(r.code).toBe(69);
    expect(r.stdout.length).toBe(0);
    expect(r.stderr).toMatch(/not scanned: action_av_notscanned=reject/);
  });

  it("a mail with an encrypted zip is accepted, marked not-scanned, when the daemon's [pipe] says action_av_notscanned = accept", async () => {
    await withDaemon("\n[pipe]\naction_av_notscanned = accept\n", (cfg) => {
      const a = runAgent("bulwark-pipe", ["--config", cfg], ENCRYPTED_MAIL);
      expect(a.code).toBe(0);
      expect(a.stdout.toString("latin1")).toMatch(/^X-Bulwark-Verdict: not-scanned; Heuristics\.Encrypted\.Zip\n/);
      expect(a.stdout.toString("latin1").endsWith(ENCRYPTED_MAIL.toString("latin1"))).toBe(true);
    });
  });

  it("a mail over the pipe's own max_file_size is not scanned, even by a daemon with a larger limit", () => {
    // the pipe stops reading at its limit and says so; the daemon must not judge the start alone
    const cfg = join(dir, "small.cfg");
    writeFileSync(cfg, `[global]\ncache_dir = "${join(dir, "cache")}"\nmax_file_size = 1K\n`);
    const r = runAgent("bulwark-pipe", ["--config", cfg], Buffer.concat([CLEAN_MAIL, Buffer.alloc(200_000, 0x61)]));
    expect(r.code).toBe(69);
    expect(r.stdout.length).toBe(0);
    expect(r.stderr).toMatch(/not scanned: action_av_notscanned=reject/);
  });
});

describe("bulwark-cli", () => {
  it("exits 0 with no output for a clean file", () => {
    const r = runAgent("bulwark-cli", ["--config", config, join(dir, "clean.txt")]);
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toBe("");
  });

  it("prints virus=\"NAME\" for the infected file and exits 1", () => {
    const r = runAgent("bulwark-cli", ["--config", config, join(dir, "clean.txt"), join(dir, "eicar.com")]);
    expect(r.code).toBe(1);
    expect(r.stdout.toString()).toMatch(new RegExp(`^${join(dir, "eicar.com")}: virus="Eicar[^"]*"\\n$`, "i"));
  });

  it("scans a directory argument (amavisd-new passes its parts directory)", () => {
    const parts = join(dir, "parts");
    mkdirSync(join(parts, "sub"), { recursive: true });
    writeFileSync(join(parts, "clean.txt"), "nothing here\n");
    writeFileSync(join(parts, "sub", "eicar.com"), EICAR);
    const r = runAgent("bulwark-cli", ["--config", config, parts]);
    expect(r.code).toBe(1);
    expect(r.stdout.toString()).toMatch(/eicar\.com: virus="/);
    expect(r.stdout.toString()).not.toMatch(/clean\.txt/);
  });

  it("the documented @av_scanners entry works the way amavisd-new reads it (Perl)", () => {
    // The entry is taken from agents/cli/main.ts's header, evaluated by Perl as amavisd.conf
    // would be, and applied as amavisd's run_av does: {} becomes the parts directory, the exit
    // status is looked up in the clean and infected lists, the regex collects the names.
    const header = readFileSync(join(ROOT, "agents", "cli", "main.ts"), "utf8");
    const entry = /^ \*\s+(\['Bulwark'.*\],)\s*$/m.exec(header)?.[1];
    expect(entry, "the @av_scanners entry in agents/cli/main.ts").toBeDefined();
    const parts = join(dir, "amavis-parts");
    mkdirSync(parts, { recursive: true });
    writeFileSync(join(parts, "p001"), "plain text part\n");
    writeFileSync(join(parts, "p002"), EICAR);
    const perl = `
      my $e = ${entry.slice(0, -1)};
      my ($name, $cmd, $args, $clean, $infected, $re) = @$e;
      $args =~ s/\\{\\}/$ENV{PARTS}/g;
      my $out = qx(@$cmd[0] --config $ENV{CFG} $args);
      my $st = $? >> 8;
      my $verdict = (grep { $_ == $st } @$clean) ? "CLEAN" : (grep { $_ == $st } @$infected) ? "INFECTED" : "FAILED";
      my @names = ($out =~ /$re/g);
      print "$verdict @names\n";
    `;
    const binDir = join(ROOT, "bin");
    const run = (partsDir: string) =>
      spawnSync("perl", ["-e", perl], { encoding: "utf8", env: { ...process.env, PATH: `${binDir}:${process.env.PATH}`, PARTS: partsDir, CFG: config } });
    const infected = run(parts);
    expect(infected.error, "perl must be installed").toBeUndefined();
    expect(infected.stdout).toMatch(/^INFECTED Eicar-Test-Signature\n$/);
    rmSync(join(parts, "p002"));
    expect(run(parts).stdout).toBe("CLEAN \n");
  });

  it("exits 2 for a file that could not be scanned (encrypted zip)", () => {
    writeFileSync(join(dir, "secret.zip"), ENCRYPTED_ZIP);
    const r = runAgent("bulwark-cli", ["--config", config, join(dir, "secret.zip")]);
    expect(r.code).toBe(2);
    expect(r.stdout.toString()).toBe(`${join(dir, "secret.zip")}: error="not scanned: Heuristics.Encrypted.Zip"\n`);
    rmSync(join(dir, "secret.zip"));
  });

  it("exits 2 for a missing file", () => {
    const r = runAgent("bulwark-cli", ["--config", config, join(dir, "nope")]);
    expect(r.code).toBe(2);
    expect(r.stdout.toString()).toMatch(/nope: error="/);
  });
});

describe("with the daemon stopped", () => {
  it("bulwark-pipe defers (75) and writes nothing; bulwark-cli exits 2", async () => {
    daemon.child.kill("SIGTERM");
    expect(await daemon.exited).toBe(0);
    const p = runAgent("bulwark-pipe", ["--config", config], CLEAN_MAIL);
    expect(p.code).toBe(75);
    expect(p.stdout.length).toBe(0);
    expect(p.stderr).toMatch(/daemon/);
    const c = runAgent("bulwark-cli", ["--config", config, join(dir, "clean.txt")]);
    expect(c.code).toBe(2);
    expect(c.stdout.toString()).toMatch(/error="cannot talk to the daemon/);
  });
});
