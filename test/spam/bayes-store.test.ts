/**
 * The Bayes database (host/spam/bayes-store.ts): learn / already / relearn / forget semantics
 * checked against a model kept by the test, the in-memory snapshot against the tokens table,
 * persistence, schema refusal, input bounds, and real concurrency: child processes (the built
 * dist/ copy, as `npm test` builds first) learning into one file at once, one killed with SIGKILL
 * in the middle of learning, and another process's learns reaching a snapshot.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import {
  BayesSchemaError, BayesStoreError, CHANGES_KEPT, DATA_VERSION_CHECK_MS, MAX_FEATURES_PER_MESSAGE, SCHEMA_VERSION,
  type BayesStore, messageDigest, openBayesStore, stripMboxFromLine,
} from "../../host/spam/bayes-store.js";
import type { TokenCounts } from "../../host/spam/types.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const DIST_STORE = join(ROOT, "dist", "host", "spam", "bayes-store.js");
const Database = createRequire(import.meta.url)("better-sqlite3") as new (f: string) => {
  prepare(sql: string): { all(...a: unknown[]): unknown[]; get(...a: unknown[]): unknown; run(...a: unknown[]): unknown };
  pragma(s: string, o?: { simple: boolean }): unknown;
  exec(s: string): void;
  close(): void;
};

const dir = mkdtempSync(join(tmpdir(), "bulwark-bayes-store-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let fileNo = 0;
const newFile = () => join(dir, `b${++fileNo}.sqlite`);

const digestOf = (name: string) => createHash("sha256").update(name).digest("hex");

/** Every row of the tokens table, read with plain SQLite (not through the store). */
function tableTokens(file: string): Map<number, [number, number]> {
  const db = new Database(file);
  const rows = db.prepare("SELECT hash, spam, ham FROM tokens").all() as { hash: number; spam: number; ham: number }[];
  db.close();
  return new Map(rows.map((r) => [r.hash, [r.spam, r.ham]]));
}

/** The snapshot holds exactly the table's rows (size and every row) and the same totals. */
function expectSnapshotMatches(counts: TokenCounts, store: BayesStore): void {
  const table = tableTokens(store.file);
  expect((counts as unknown as { size: number }).size).toBe(table.size);
  for (const [hash, c] of table) expect(counts.get(hash)).toEqual(c);
  const s = store.stats();
  expect([counts.nspam, counts.nham]).toEqual([s.nspam, s.nham]);
}

// ---- the messages the child processes learn: features shared by all, by some, and unique ----
const SHARED = Array.from({ length: 30 }, (_, k) => k + 1);
const featuresOf = (i: number, unique = 20) => [...SHARED, 100 + (i % 7), ...Array.from({ length: unique }, (_, k) => 1_000_000 + i * 1000 + k)];
const classOf = (i: number) => (i % 3 === 0 ? "ham" : "spam");

/** A child process running the built store: learns (or forgets) messages `from`..`to`-1,
 *  printing each index after its transaction committed; with `barrier` it prints "ready" once
 *  the database is open and starts on a line from stdin. */
function child(file: string, op: "learn" | "forget", from: number, to: number, opts: { unique?: number; barrier?: boolean } = {}): ChildProcess {
  const script = join(dir, "child.mjs");
  writeFileSync(script, `
    import { createHash } from "node:crypto";
    const { openBayesStore } = await import(${JSON.stringify(DIST_STORE)});
    const [file, op, from, to, unique, barrier] = process.argv.slice(2);
    const store = openBayesStore(file);
    if (barrier === "1") {
      process.stdout.write("ready\\n");
      await new Promise((r) => process.stdin.once("data", r));
      process.stdin.destroy();
    }
    const SHARED = Array.from({ length: 30 }, (_, k) => k + 1);
    for (let i = +from; i < +to; i++) {
      const d = createHash("sha256").update("msg-" + i).digest("hex");
      const f = [...SHARED, 100 + (i % 7), ...Array.from({ length: +unique }, (_, k) => 1000000 + i * 1000 + k)];
      if (op === "learn") store.learn(d, i % 3 === 0 ? "ham" : "spam", f);
      else store.forget(d);
      process.stdout.write(i + "\\n");
    }
    store.close();
  `);
  const c = spawn(process.execPath, [script, file, op, String(from), String(to), String(opts.unique ?? 20), opts.barrier ? "1" : "0"], {
    stdio: [opts.barrier ? "pipe" : "ignore", "pipe", "pipe"],
  });
  return c;
}

function finished(c: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }> {
  let out = "";
  let err = "";
  c.stdout!.on("data", (d) => (out += d));
  c.stderr!.on("data", (d) => (err += d));
  return new Promise((resolve) => c.on("close", (code, signal) => resolve({ code, signal, out, err })));
}

/** Expected counts of the tokens after learning messages `is` (indices as in featuresOf). */
function expectLearnedSet(counts: TokenCounts, is: number[]): void {
  const spam = is.filter((i) => classOf(i) === "spam").length;
  expect([counts.nspam, counts.nham]).toEqual([spam, is.length - spam]);
  for (const t of SHARED) expect(counts.get(t) ?? [0, 0]).toEqual([spam, is.length - spam]);
  for (let r = 0; r < 7; r++) {
    const group = is.filter((i) => i % 7 === r);
    const s = group.filter((i) => classOf(i) === "spam").length;
    expect(counts.get(100 + r) ?? [0, 0]).toEqual([s, group.length - s]);
  }
  for (const i of is) expect(counts.get(1_000_000 + i * 1000)).toEqual(classOf(i) === "spam" ? [1, 0] : [0, 1]);
}

describe("learn, relearn, already, forget", () => {
  it("counts each step exactly and removes rows that reach 0/0", () => {
    const store = openBayesStore(newFile());
    const a = digestOf("a");
    const b = digestOf("b");
    expect(store.learn(a, "spam", [1, 2, 3, 3, 3])).toEqual({ outcome: "learned", nspam: 1, nham: 0 });
    let c = store.counts();
    expect(c.get(3)).toEqual([1, 0]); // duplicates count once per message
    expect(store.learn(a, "spam", [1, 2, 3])).toEqual({ outcome: "already", nspam: 1, nham: 0 });
    expect(store.learn(b, "ham", [2, 3, 4])).toEqual({ outcome: "learned", nspam: 1, nham: 1 });
    expect([store.counts().get(2), store.counts().get(4)]).toEqual([[1, 1], [0, 1]]);
    // relearn in the other class with a different feature list (a changed tokenizer): the
    // stored list (1, 2, 3) is taken away, the new one added
    expect(store.learn(a, "ham", [5])).toEqual({ outcome: "relearned", nspam: 0, nham: 2 });
    c = store.counts();
    expect([c.get(1), c.get(2), c.get(3), c.get(5)]).toEqual([undefined, [0, 1], [0, 1], [0, 1]]);
    expect(store.stats().tokens).toBe(4); // 2, 3, 4, 5: the row of 1 reached 0/0 and went
    expectSnapshotMatches(c, store);
    expect(store.forget(a)).toEqual({ outcome: "forgotten", nspam: 0, nham: 1 });
    expect(store.forget(a)).toEqual({ outcome: "unknown", nspam: 0, nham: 1 });
    expect(store.forget(b)).toEqual({ outcome: "forgotten", nspam: 0, nham: 0 });
    expect(store.stats()).toMatchObject({ nspam: 0, nham: 0, tokens: 0, learned: 0, schemaVersion: SCHEMA_VERSION });
    expect(store.counts().get(2)).toBeUndefined();
    store.close();
  });

  it("agrees with a model of the semantics over a random sequence, in the snapshot and in the table", () => {
    const store = openBayesStore(newFile());
    let seed = 12345;
    const rnd = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const model = new Map<string, { cls: "spam" | "ham"; f: number[] }>();
    store.counts(); // loaded first, so every later step goes through the in-place updates
    for (let step = 0; step < 400; step++) {
      const d = digestOf(`m${rnd(40)}`);
      if (rnd(4) === 0) {
        const r = store.forget(d);
        expect(r.outcome).toBe(model.has(d) ? "forgotten" : "unknown");
        model.delete(d);
      } else {
        const cls = rnd(2) ? "spam" : "ham";
        const f = Array.from({ length: 1 + rnd(10) }, () => rnd(60));
        const before = model.get(d);
        const r = store.learn(d, cls, f);
        expect(r.outcome).toBe(!before ? "learned" : before.cls === cls ? "already" : "relearned");
        if (!before || before.cls !== cls) model.set(d, { cls, f: [...new Set(f)] });
      }
      if (step % 50 === 49) {
        const expected = new Map<number, [number, number]>();
        for (const { cls, f } of model.values()) {
          for (const x of f) {
            const e = expected.get(x) ?? [0, 0];
            e[cls === "spam" ? 0 : 1]++;
            expected.set(x, e);
          }
        }
        expect(tableTokens(store.file)).toEqual(expected);
        const c = store.counts();
        expectSnapshotMatches(c, store);
        expect(c.nspam).toBe([...model.values()].filter((m) => m.cls === "spam").length);
      }
    }
    store.close();
  });

  it("keeps everything across close and reopen", () => {
    const file = newFile();
    const s1 = openBayesStore(file);
    for (let i = 0; i < 10; i++) s1.learn(digestOf(`msg-${i}`), classOf(i), featuresOf(i));
    s1.close();
    const s2 = openBayesStore(file, { mustExist: true });
    expectLearnedSet(s2.counts(), [...Array(10).keys()]);
    expect(s2.learn(digestOf("msg-3"), classOf(3), [1]).outcome).toBe("already");
    expect(s2.stats()).toMatchObject({ learned: 10, tokens: 30 + 7 + 10 * 20 });
    s2.close();
  });

  it("refuses bad input without changing anything", () => {
    const store = openBayesStore(newFile());
    store.learn(digestOf("x"), "spam", [1]);
    const tooMany = Array.from({ length: MAX_FEATURES_PER_MESSAGE + 1 }, (_, k) => k);
    expect(() => store.learn(digestOf("y"), "spam", tooMany)).toThrow(BayesStoreError);
    for (const bad of [-1, 1.5, 2 ** 53, Number.NaN]) expect(() => store.learn(digestOf("y"), "spam", [2, bad])).toThrow(BayesStoreError);
    expect(() => store.learn("abc", "spam", [1])).toThrow(/not a SHA-256/);
    expect(() => store.learn(digestOf("y"), "junk" as "spam", [1])).toThrow(/class/);
    expect(() => store.forget("z".repeat(64))).toThrow(/not a SHA-256/);
    expect(store.stats()).toMatchObject({ nspam: 1, nham: 0, tokens: 1, learned: 1 });
    // exactly the maximum is allowed
    expect(store.learn(digestOf("y"), "ham", tooMany.slice(1)).outcome).toBe("learned");
    store.close();
  });
});

describe("the message digest", () => {
  it("is the SHA-256 of the message without a leading mbox From line", () => {
    const mail = "Subject: hi\nFrom: a@example.org\n\nbody\n";
    const withMbox = Buffer.from(`From a@example.org  Thu Aug 22 13:17:22 2002\n${mail}`);
    expect(messageDigest(withMbox)).toBe(createHash("sha256").update(mail).digest("hex"));
    expect(messageDigest(Buffer.from(mail))).toBe(messageDigest(withMbox));
    expect(stripMboxFromLine(withMbox).toString()).toBe(mail);
    // a "From:" header field is part of the message, not an mbox line
    const header = Buffer.from("From: a@example.org\n\nbody\n");
    expect(messageDigest(header)).toBe(createHash("sha256").update(header).digest("hex"));
    expect(messageDigest(Buffer.from(mail.replace("body", "other")))).not.toBe(messageDigest(Buffer.from(mail)));
  });
});

describe("schema version and foreign files", () => {
  it("refuses a database written by a newer schema, and leaves it alone", () => {
    const file = newFile();
    openBayesStore(file).close();
    const raw = new Database(file);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    expect(() => openBayesStore(file)).toThrow(BayesSchemaError);
    expect(() => openBayesStore(file)).toThrow(/newer than this Bulwark understands/);
    const again = new Database(file);
    expect(again.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION + 1);
    again.close();
  });

  it("refuses another program's SQLite file and a file that is not SQLite", () => {
    const foreign = newFile();
    const raw = new Database(foreign);
    raw.exec("CREATE TABLE mail (id INTEGER)");
    raw.close();
    expect(() => openBayesStore(foreign)).toThrow(/not a Bulwark Bayes database/);
    const check = new Database(foreign);
    expect(check.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'").all()).toEqual([{ name: "mail" }]);
    check.close();

    const otherApp = newFile();
    const raw2 = new Database(otherApp);
    raw2.pragma("application_id = 1234");
    raw2.pragma("user_version = 1");
    raw2.close();
    expect(() => openBayesStore(otherApp)).toThrow(/application_id 1234/);

    const text = newFile();
    writeFileSync(text, "this is not a database, just some text that is long enough to have a header ".repeat(20));
    expect(() => openBayesStore(text)).toThrow(BayesStoreError);
  });

  it("does not create a file with mustExist", () => {
    expect(() => openBayesStore(join(dir, "missing.sqlite"), { mustExist: true })).toThrow(BayesStoreError);
  });
});

describe("several processes", () => {
  it("four processes creating one new database and learning into it at the same time end with exact totals and counts", async () => {
    const file = newFile(); // not created here: the four race to create it
    const kids = [0, 1, 2, 3].map((w) => child(file, "learn", w * 60, w * 60 + 60, { barrier: true }));
    const results = kids.map(finished);
    // all four have the database open before any starts: their transactions really overlap
    await Promise.all(kids.map((k) => new Promise<void>((resolve) => {
      const onData = (d: Buffer) => {
        if (d.toString().includes("ready")) {
          k.stdout!.off("data", onData);
          resolve();
        }
      };
      k.stdout!.on("data", onData);
    })));
    for (const k of kids) k.stdin!.end("go\n");
    for (const r of await Promise.all(results)) expect(r, r.err).toMatchObject({ code: 0 });
    const store = openBayesStore(file);
    expectLearnedSet(store.counts(), [...Array(240).keys()]);
    expect(store.stats()).toMatchObject({ learned: 240, tokens: 30 + 7 + 240 * 20 });
    store.close();
  });

  it("a learner killed with SIGKILL mid-learning leaves a consistent database", async () => {
    const file = newFile();
    openBayesStore(file).close();
    // 400 features a message: most of the child's time is spent inside a transaction
    const kid = child(file, "learn", 0, 100_000, { unique: 400 });
    const done = finished(kid);
    await new Promise<void>((resolve) => {
      let seen = "";
      kid.stdout!.on("data", (d) => {
        seen += d;
        if (seen.split("\n").length > 150) resolve();
      });
    });
    kid.kill("SIGKILL");
    const r = await done;
    expect(r.signal).toBe("SIGKILL");
    const completed = r.out.split("\n").filter((l) => /^\d+$/.test(l)).length;
    expect(completed).toBeGreaterThanOrEqual(150);
    const raw = new Database(file);
    expect(raw.pragma("integrity_check", { simple: true })).toBe("ok");
    raw.close();
    const store = openBayesStore(file);
    const s = store.stats();
    // the message being learned when the signal came committed entirely or not at all
    expect([completed, completed + 1]).toContain(s.learned);
    expect(s.nspam + s.nham).toBe(s.learned);
    expect(s.tokens).toBe(30 + 7 + s.learned * 400);
    expectLearnedSet(store.counts(), [...Array(s.learned).keys()]);
    store.close();
  });

  it("a snapshot sees another process's learns and forgets once it looks again", async () => {
    const file = newFile();
    let clock = 1_000_000;
    const store = openBayesStore(file, { now: () => clock });
    store.learn(digestOf("msg-0"), classOf(0), featuresOf(0));
    const first = store.counts();
    expectLearnedSet(first, [0]);
    expect((await finished(child(file, "learn", 1, 4))).code).toBe(0);
    // not looked yet: still the old counts
    expect(store.counts().get(1_000_000 + 1000)).toBeUndefined();
    clock += DATA_VERSION_CHECK_MS;
    expectLearnedSet(store.counts(), [0, 1, 2, 3]);
    expectSnapshotMatches(store.counts(), store);
    // this process's own learn shows at once
    store.learn(digestOf("msg-4"), classOf(4), featuresOf(4));
    expectLearnedSet(store.counts(), [0, 1, 2, 3, 4]);
    // another process's forget, then an own learn before looking: applied in commit order
    expect((await finished(child(file, "forget", 1, 3))).code).toBe(0);
    store.learn(digestOf("msg-5"), classOf(5), featuresOf(5));
    expectLearnedSet(store.counts(), [0, 3, 4, 5]);
    expectSnapshotMatches(store.counts(), store);
    store.close();
  });

  it("a snapshot further behind than the kept changes reloads whole", async () => {
    const file = newFile();
    let clock = 0;
    const store = openBayesStore(file, { now: () => clock });
    expectLearnedSet(store.counts(), []);
    expect((await finished(child(file, "learn", 0, CHANGES_KEPT + 20, { unique: 1 }))).code).toBe(0);
    clock += DATA_VERSION_CHECK_MS;
    const c = store.counts();
    expect(c.nspam + c.nham).toBe(CHANGES_KEPT + 20);
    expectSnapshotMatches(c, store);
    store.close();
  });
});
