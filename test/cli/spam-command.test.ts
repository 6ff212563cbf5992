/**
 * `bulwark spam learn|forget|check|stats` through the real built CLI (./bin/bulwark -> dist/,
 * built by `npm run build`, which `npm test` runs first), on mails generated here: per-file
 * outcomes and totals, idempotence, the mbox "From " line, relearn and forget, the database from
 * the configuration and from --db, usage and input errors (exit 2), schema refusal, check's exit
 * codes (GTUBE is spam: 1) and the statistical filter taking part once trained.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import type { SpamResult } from "../../host/spam/types.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BIN = join(ROOT, "bin", "bulwark");
const GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";

const dir = mkdtempSync(join(tmpdir(), "bulwark-spam-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const config = join(dir, "bulwark.cfg");
writeFileSync(config, `[global]\ncache_dir = "${join(dir, "cache")}"\n`);
const configDb = join(dir, "cache", "bayes.sqlite");

function bulwark(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [BIN, "spam", ...args], {
    encoding: "utf8", input, env: { ...process.env, BULWARK_CONFIG: config, BULWARK_SYSLOG_SOCKET: "off" },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

// ---- generated mails: two vocabularies, a seeded generator, every mail different ----
const SPAM_WORDS = ["viagra", "casino", "winner", "prize", "mortgage", "refinance", "lottery", "bonus", "cheapest", "pharmacy", "offshore", "guaranteed", "income", "wealth", "unsubscribe"];
const HAM_WORDS = ["meeting", "agenda", "kernel", "patch", "review", "minutes", "deadline", "compiler", "release", "budget", "invoice", "schedule", "thanks", "regards", "colleague"];
let seed = 7;
function pick(words: string[], n: number): string {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    out.push(words[(seed >>> 8) % words.length]);
  }
  return out.join(" ");
}
function mail(kind: "spam" | "ham", n: number, body?: string): string {
  const words = kind === "spam" ? SPAM_WORDS : HAM_WORDS;
  return `From: ${kind}${n}@example.${kind === "spam" ? "biz" : "org"}\nTo: user@example.net\nSubject: ${pick(words, 3)}\n`
    + `Date: Thu, 22 Aug 2002 13:17:22 +0000\nMessage-ID: <${kind}.${n}@example.org>\n\n${body ?? `${pick(words, 40)}\nnumber ${n}\n`}`;
}
function writeMails(sub: string, kind: "spam" | "ham", count: number, mbox = false): string {
  const d = join(dir, sub);
  mkdirSync(d, { recursive: true });
  for (let i = 0; i < count; i++) {
    const m = mail(kind, i);
    writeFileSync(join(d, `${String(i).padStart(4, "0")}.eml`), mbox && i % 2 === 0 ? `From ${kind}${i}@example.org  Thu Aug 22 13:17:22 2002\n${m}` : m);
  }
  return d;
}
function stats(db?: string): Record<string, unknown> {
  const r = bulwark(["stats", "--json", ...(db ? ["--db", db] : [])]);
  expect(r.code, r.err).toBe(0);
  return JSON.parse(r.out);
}

describe("bulwark spam learn / forget / stats", () => {
  const spamDir = writeMails("spam5", "spam", 5, true);

  it("learns a directory into the configuration's database, once", () => {
    expect(existsSync(configDb)).toBe(false);
    const r = bulwark(["learn", "--spam", spamDir]);
    expect(r.code, r.err).toBe(0);
    expect(r.out.match(/: learned as spam$/gm)).toHaveLength(5);
    expect(r.out).toContain(`database ${configDb}: 5 spam, 0 ham`);
    expect(existsSync(configDb)).toBe(true);
    const again = bulwark(["learn", "--spam", spamDir]);
    expect(again.code).toBe(0);
    expect(again.out.match(/: already learned as spam$/gm)).toHaveLength(5);
    expect(stats()).toMatchObject({ nspam: 5, nham: 0, learned: 5 });
  });

  it("ignores the mbox From line: the same mail without it is already learned", () => {
    const withLine = readFileSync(join(spamDir, "0000.eml"), "latin1"); // written with a From line
    expect(withLine).toMatch(/^From spam0@example\.org {2}Thu/);
    const bare = join(dir, "bare.eml");
    writeFileSync(bare, withLine.slice(withLine.indexOf("\n") + 1), "latin1");
    const r = bulwark(["learn", "--spam", bare]);
    expect(r.out).toContain(`${bare}: already learned as spam`);
  });

  it("relearns in the other class and forgets exactly once", () => {
    const one = join(spamDir, "0003.eml");
    expect(bulwark(["learn", "--ham", one]).out).toContain(`${one}: relearned as ham`);
    expect(stats()).toMatchObject({ nspam: 4, nham: 1 });
    const f = bulwark(["forget", one]);
    expect(f.code).toBe(0);
    expect(f.out).toContain(`${one}: forgotten`);
    expect(stats()).toMatchObject({ nspam: 4, nham: 0, learned: 4 });
    const f2 = bulwark(["forget", one]);
    expect(f2.code).toBe(0);
    expect(f2.out).toContain(`${one}: not learned`);
  });

  it("reads standard input as one message", () => {
    const r = bulwark(["learn", "--ham", "-"], mail("ham", 999));
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain("stdin: learned as ham");
    expect(stats()).toMatchObject({ nham: 1 });
  });

  it("reports usage errors and unreadable inputs with exit 2, learning the rest", () => {
    for (const flags of [[], ["--spam", "--ham"]]) {
      const r = bulwark(["learn", ...flags, join(spamDir, "0000.eml")]);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/ERROR: give exactly one of --spam and --ham/);
    }
    const good = join(dir, "good.eml");
    writeFileSync(good, mail("ham", 500));
    const missing = join(dir, "missing.eml");
    const r = bulwark(["learn", "--ham", missing, good]);
    expect(r.code).toBe(2);
    expect(r.out).toContain(`${missing}: ERROR: No such file or directory`);
    expect(r.out).toContain(`${good}: learned as ham`);
    expect(r.out).toMatch(/learned 1, errors 1/);
  });

  it("uses --db instead of as_bayes_db", () => {
    const other = join(dir, "other.sqlite");
    const before = stats();
    const r = bulwark(["learn", "--db", other, "--spam", join(spamDir, "0001.eml")]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(`database ${other}: 1 spam, 0 ham`);
    expect(stats(other)).toMatchObject({ nspam: 1, nham: 0, file: other });
    expect(stats()).toEqual(before);
  });

  it("shows an absent database as empty without creating it", () => {
    const absent = join(dir, "absent.sqlite");
    const r = bulwark(["stats", "--db", absent]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("spam messages: 0");
    expect(r.err).toContain("nothing learned");
    expect(existsSync(absent)).toBe(false);
  });

  it("refuses a database of a newer schema (exit 2) and leaves it alone", () => {
    const newer = join(dir, "newer.sqlite");
    expect(bulwark(["learn", "--db", newer, "--spam", join(spamDir, "0001.eml")]).code).toBe(0);
    const Database = createRequire(import.meta.url)("better-sqlite3");
    const db = new Database(newer);
    db.pragma("user_version = 99");
    db.close();
    for (const args of [["stats", "--db", newer], ["learn", "--db", newer, "--spam", join(spamDir, "0002.eml")]]) {
      const r = bulwark(args);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/ERROR: .*newer than this Bulwark understands/);
    }
  });
});

describe("bulwark spam check", () => {
  const gtube = join(dir, "gtube.eml");
  const ham = join(dir, "plain-ham.eml");
  writeFileSync(gtube, mail("spam", 9000, `This is the GTUBE, the\nGeneric Test for Unsolicited Bulk Email\n\n${GTUBE}\n`));
  writeFileSync(ham, mail("ham", 9001));
  const check = (...args: string[]) => bulwark(["check", "--local", ...args]);
  const results = (out: string) => out.trim().split("\n").map((l) => JSON.parse(l) as SpamResult & { file: string; error?: string });

  it("gives exit 1 and the GTUBE reason for the GTUBE mail, 0 for ham", () => {
    const s = check(gtube);
    expect(s.code, s.err).toBe(1);
    expect(s.out).toMatch(/: spam score=\d+\.\d required=/);
    expect(s.out).toMatch(/^\s+\+\d+\.\d GTUBE/m);
    const h = check("--json", ham);
    expect(h.code, h.err).toBe(0);
    const [r] = results(h.out);
    expect(r.status).toBe("ham");
    expect(r.reasons.some((x) => x.name === "GTUBE")).toBe(false);
  });

  it("spam beats an error, an error beats ham", () => {
    const missing = join(dir, "nope.eml");
    const both = check("--json", missing, gtube);
    expect(both.code).toBe(1);
    const [e, s] = results(both.out);
    expect(e).toMatchObject({ file: missing, error: "No such file or directory" });
    expect(s).toMatchObject({ file: gtube, status: "spam" });
    expect(check(ham, missing).code).toBe(2);
  });

  it("reads standard input", () => {
    expect(bulwark(["check", "--local", "-"], `Subject: t\n\n${GTUBE}\n`).code).toBe(1);
  });

  it("says in --help that only spam exits 1", () => {
    const r = spawnSync(process.execPath, [BIN, "spam", "check", "--help"], { encoding: "utf8" });
    expect(r.stdout).toMatch(/Probable spam\s+exits 0/);
  });

  it("the statistical filter takes part once both classes are trained", () => {
    const db = join(dir, "trained.sqlite");
    const probe = join(dir, "probe-spam.eml");
    const probeHam = join(dir, "probe-ham.eml");
    writeFileSync(probe, mail("spam", 7000));
    writeFileSync(probeHam, mail("ham", 7001));
    const bayesOf = (file: string) => results(bulwark(["check", "--local", "--json", "--db", db, file]).out)[0].reasons.find((x) => x.name.startsWith("BAYES_"));
    expect(bayesOf(probe)).toBeUndefined(); // untrained: the filter abstains
    const n = 210; // above the filter's minimum of each class (bayes.ts MIN_LEARNED_EACH)
    const learnSpam = bulwark(["learn", "--db", db, "--spam", writeMails("train-spam", "spam", n)]);
    expect(learnSpam.code, learnSpam.err).toBe(0);
    expect(bulwark(["learn", "--db", db, "--ham", writeMails("train-ham", "ham", n)]).code).toBe(0);
    expect(stats(db)).toMatchObject({ nspam: n, nham: n });
    expect(bayesOf(probe)!.score).toBeGreaterThan(0);
    expect(bayesOf(probeHam)!.score).toBeLessThan(0);
  });
});
