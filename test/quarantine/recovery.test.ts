/**
 * Crash recovery of the quarantine (style-reliability B7, goal R11): the leftovers each crash
 * point can leave are created directly — a temp file of a dead writer, a journal line cut
 * mid-write, an object without its journal line, a journal line without its object, garbage
 * lines — and a real `kill -9` of a process putting in a loop. After reopening, the store is
 * consistent: every listed id re-hashes correctly and every acknowledged put is listed.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { JournalWriter } from "../../host/quarantine/journal.js";
import { type QuarantineStore, openQuarantine } from "../../host/quarantine/store.js";
import { MAX_JOURNAL_LINE_BYTES, TEMP_FILE_MAX_AGE_MS } from "../../host/quarantine/types.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const root = mkdtempSync(join(tmpdir(), "bulwark-quar-rec-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = (): string => join(root, `q${n++}`);
const sha = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");
const mail = (i: number): Buffer => Buffer.from(`Subject: m${i}\r\n\r\nbody ${i}\r\n`);
/** A pid above Linux's PID_MAX_LIMIT (2^22): never a running process. */
const DEAD_PID = 4_194_305;

function opener(): { warnings: string[]; open: (dir: string) => Promise<QuarantineStore> } {
  const warnings: string[] = [];
  return { warnings, open: (dir) => openQuarantine(dir, { warn: (w) => warnings.push(w) }) };
}

/** The invariant after any crash: every listed id's object re-hashes to it. */
async function expectConsistent(q: QuarantineStore): Promise<void> {
  for (const e of q.list()) expect(sha(await q.get(e.id))).toBe(e.id);
}

async function seed(dir: string, count: number): Promise<string[]> {
  const q = await openQuarantine(dir, { warn: () => {} });
  const ids = [];
  for (let i = 0; i < count; i++) ids.push((await q.put(mail(i), { names: [], status: "infected" })).id);
  await q.close();
  return ids;
}

describe("quarantine crash recovery", () => {
  it("removes temp files of dead or stale writers and keeps a live writer's", async () => {
    const dir = freshDir();
    const ids = await seed(dir, 2);
    const tmp = join(dir, "tmp");
    writeFileSync(join(tmp, `${DEAD_PID}.00aa11bb22cc33dd.tmp`), "half a mess"); // crashed mid-write
    writeFileSync(join(tmp, `${process.pid}.1111111111111111.tmp`), "in progress"); // live writer
    writeFileSync(join(tmp, `${process.pid}.2222222222222222.tmp`), "old");
    const old = (Date.now() - TEMP_FILE_MAX_AGE_MS - 60_000) / 1000;
    utimesSync(join(tmp, `${process.pid}.2222222222222222.tmp`), old, old); // pid reused long after
    writeFileSync(join(tmp, "junk"), "not ours");
    const { warnings, open } = opener();
    const q = await open(dir);
    expect(q.recovery.tempFilesRemoved.sort()).toEqual([`${DEAD_PID}.00aa11bb22cc33dd.tmp`, `${process.pid}.2222222222222222.tmp`, "junk"].sort());
    expect(readdirSync(tmp)).toEqual([`${process.pid}.1111111111111111.tmp`]);
    expect(warnings.join("\n")).toMatch(/interrupted write/);
    expect(q.list().map((e) => e.id).sort()).toEqual([...ids].sort());
    await expectConsistent(q);
    await q.close();
  });

  it("skips a journal line cut by a crash, and later events start on a line of their own", async () => {
    const dir = freshDir();
    const ids = await seed(dir, 3);
    const journal = join(dir, "journal.jsonl");
    const lost = mail(99);
    const line = JSON.stringify({ v: 1, ev: "stored", id: sha(lost), at: new Date().toISOString(), size: lost.length, meta: { names: [], status: "infected" } });
    appendFileSync(journal, line.slice(0, line.length - 7)); // the crash cut the write
    const a = opener();
    const q = await a.open(dir);
    expect(q.recovery.journalLinesSkipped).toBe(1);
    expect(a.warnings.join("\n")).toMatch(/journal\.jsonl:4: last line cut by a crash \(no newline\), invalid JSON, skipped/);
    expect(q.list()).toHaveLength(3);
    const { id: next } = await q.put(mail(4), { names: [], status: "infected" });
    await q.close();

    const b = opener();
    const q2 = await b.open(dir);
    expect(q2.list().map((e) => e.id).sort()).toEqual([...ids, next].sort());
    expect(q2.recovery.journalLinesSkipped).toBe(1); // the closed-off torn line, nothing else
    await expectConsistent(q2);
    await q2.close();
  });

  it("keeps a whole last event that only lacks its newline, the same on every reopen", async () => {
    const dir = freshDir();
    const ids = await seed(dir, 2);
    const journal = join(dir, "journal.jsonl");
    writeFileSync(journal, readFileSync(journal, "utf8").replace(/\n$/, ""));
    for (let round = 0; round < 2; round++) {
      const q = await opener().open(dir);
      expect(q.list().map((e) => e.id).sort()).toEqual([...ids].sort());
      expect(q.recovery.journalLinesSkipped).toBe(0);
      await q.close();
    }
  });

  it("leaves an object whose journal line never got written unlisted and harmless", async () => {
    const dir = freshDir();
    const ids = await seed(dir, 2);
    // Crash after the object's rename+dirsync, before its journal line: the object exists,
    // the put was never acknowledged, so the sender still holds the message and retries.
    const orphan = mail(50);
    const id = sha(orphan);
    mkdirSync(join(dir, "objects", id.slice(0, 2)), { recursive: true });
    writeFileSync(join(dir, "objects", id.slice(0, 2), id.slice(2)), orphan);
    const q = await opener().open(dir);
    expect(q.recovery.unlistedObjects).toBe(1);
    expect(q.info(id)).toBeUndefined();
    expect(q.list().map((e) => e.id).sort()).toEqual([...ids].sort());
    await expectConsistent(q);
    // The retry stores the same bytes: deduplicated onto the existing object, now listed.
    expect((await q.put(orphan, { names: [], status: "infected" })).id).toBe(id);
    expect(Buffer.from(await q.get(id))).toEqual(orphan);
    await q.close();
    const q2 = await opener().open(dir);
    expect(q2.recovery.unlistedObjects).toBe(0);
    await q2.close();
  });

  it("does not list ids whose object file is missing, nor garbage or over-long lines", async () => {
    const dir = freshDir();
    const ids = await seed(dir, 3);
    rmSync(join(dir, "objects", ids[1].slice(0, 2), ids[1].slice(2)));
    const journal = join(dir, "journal.jsonl");
    appendFileSync(journal, "not json at all\n");
    appendFileSync(journal, `${JSON.stringify({ v: 1, ev: "stored", id: "../../x", at: "2026-01-01T00:00:00Z", size: 1, meta: { names: [], status: "s" } })}\n`);
    appendFileSync(journal, `{"pad":"${"z".repeat(MAX_JOURNAL_LINE_BYTES + 10)}"}\n`);
    appendFileSync(journal, `${JSON.stringify({ v: 1, ev: "restored", id: ids[2], at: "2026-11-25T00:00:00Z", to: "/tmp/x.eml" })}\n`);
    const a = opener();
    const q = await a.open(dir);
    expect(q.recovery.missingObjects).toEqual([ids[1]]);
    expect(q.recovery.journalLinesSkipped).toBe(3);
    expect(a.warnings.join("\n")).toMatch(/:4: invalid JSON[\s\S]*:5: bad id[\s\S]*:6: line longer than/);
    expect(q.list().map((e) => e.id).sort()).toEqual([ids[0], ids[2]].sort());
    expect(q.info(ids[2])?.restoredTo).toBe("/tmp/x.eml"); // valid events after bad lines still count
    await expectConsistent(q);
    await q.close();
  });

  it("a journal writer refuses appends after a failed write, so no event is glued onto a torn line", async () => {
    const dir = freshDir();
    mkdirSync(dir);
    const w = await JournalWriter.open(join(dir, "journal.jsonl"), false);
    const ev = { v: 1 as const, ev: "deleted" as const, id: "a".repeat(64), at: new Date().toISOString() };
    await w.append(ev);
    await w.close(); // the next write fails (EBADF), as a full disk or I/O error would
    await expect(w.append(ev)).rejects.toThrow();
    await expect(w.append(ev)).rejects.toThrow(/had a write error; reopen the store/);
    expect(readFileSync(join(dir, "journal.jsonl"), "utf8")).toBe(`${JSON.stringify(ev)}\n`);
  });

  it("after kill -9 of a process putting in a loop, every acknowledged put is listed and re-hashes", async () => {
    const store = join(ROOT, "dist", "host", "quarantine", "store.js");
    if (!existsSync(store)) throw new Error("dist/host/quarantine/store.js is missing: run `npm run build` first (npm test does)");
    for (let round = 0; round < 3; round++) {
      const dir = freshDir();
      // Each put is printed only after it resolved (object and journal line fsynced).
      const script = `
        const { openQuarantine } = await import(${JSON.stringify(store)});
        const q = await openQuarantine(${JSON.stringify(dir)});
        for (let i = 0; ; i++) {
          const body = Buffer.alloc(20000 + (i % 7) * 1000, String.fromCharCode(97 + (i % 26)));
          const m = Buffer.concat([Buffer.from("Subject: " + i + "\\r\\n\\r\\n"), body]);
          const { id } = await q.put(m, { names: ["N" + i], status: "infected" });
          process.stdout.write(id + "\\n");
        }`;
      const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
      const acked: string[] = [];
      let buf = "";
      const killAt = 5 + round * 7;
      await new Promise<void>((resolve, reject) => {
        child.on("error", reject);
        child.on("exit", () => resolve());
        child.stdout.on("data", (d: Buffer) => {
          buf += d.toString();
          const lines = buf.split("\n");
          buf = lines.pop()!;
          acked.push(...lines);
          if (acked.length >= killAt) child.kill("SIGKILL");
        });
      });
      expect(child.signalCode).toBe("SIGKILL");
      const q = await opener().open(dir);
      const listed = new Set(q.list().map((e) => e.id));
      for (const id of acked) expect(listed.has(id)).toBe(true);
      await expectConsistent(q);
      expect(readdirSync(join(dir, "tmp"))).toEqual([]); // the dead writer's temp file is gone
      await q.close();
    }
  });
});
