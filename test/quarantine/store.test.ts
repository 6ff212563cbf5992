/**
 * The quarantine store's contract: put/get/list/filter/delete/restore round trips that survive
 * a reopen, idempotent puts, corruption detected on read, the size and line bounds, and 50
 * concurrent puts all journaled.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openQuarantine } from "../../host/quarantine/store.js";
import {
  MAX_JOURNAL_LINE_BYTES, MAX_MESSAGE_BYTES, QuarantineCorruptError, QuarantineError, QuarantineNotFoundError,
} from "../../host/quarantine/types.js";

const root = mkdtempSync(join(tmpdir(), "bulwark-quar-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = (): string => join(root, `q${n++}`);
const sha = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");
const mail = (i: number, extra = ""): Buffer =>
  Buffer.from(`From: sender${i}@example.org\r\nTo: rcpt${i}@example.net\r\nSubject: message ${i}${extra}\r\n\r\nbody ${i}\r\n`);
const quiet = { warn: () => {} };
const journalLines = (dir: string): string[] => readFileSync(join(dir, "journal.jsonl"), "utf8").split("\n").filter(Boolean);

describe("quarantine store", () => {
  it("puts a message content-addressed and durable, and gets it back after reopening", async () => {
    const dir = freshDir();
    const q = await openQuarantine(dir, quiet);
    const m = mail(1);
    const { id } = await q.put(m, { names: ["Eicar-Test-Signature"], status: "infected", sender: "a@x.org", recipients: ["b@y.org"], agent: "smtp", reason: "action_av_infected" });
    expect(id).toBe(sha(m));
    const file = join(dir, "objects", id.slice(0, 2), id.slice(2));
    expect(readFileSync(file)).toEqual(m);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(join(dir, "tmp"))).toEqual([]);
    expect(Buffer.from(await q.get(id))).toEqual(m);
    await q.close();

    const q2 = await openQuarantine(dir, quiet);
    const e = q2.info(id)!;
    expect(e).toMatchObject({ id, size: m.length, names: ["Eicar-Test-Signature"], status: "infected", sender: "a@x.org",
      recipients: ["b@y.org"], agent: "smtp", reason: "action_av_infected" });
    expect(Date.parse(e.receivedAt)).toBeGreaterThan(0);
    expect(Buffer.from(await q2.get(id))).toEqual(m);
    expect(q2.recovery).toEqual({ tempFilesRemoved: [], journalLinesSkipped: 0, missingObjects: [], unlistedObjects: 0 });
    await q2.close();
  });

  it("filters list by time, sender, recipient, name, status, agent and limit, newest first", async () => {
    const q = await openQuarantine(freshDir(), quiet);
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      ids.push((await q.put(mail(i), {
        names: i % 2 ? ["Eicar-Test-Signature"] : ["Heuristics.Limits.Exceeded.MaxFiles"],
        status: i < 3 ? "infected" : "notscanned",
        sender: `Sender${i}@Example.org`,
        recipients: [`r${i}@a.net`, "common@b.net"],
        agent: i < 4 ? "smtp" : "pipe",
        receivedAt: `2026-11-0${i + 1}T12:00:00Z`,
      })).id);
    }
    const listed = (f: Parameters<typeof q.list>[0]) => q.list(f).map((e) => ids.indexOf(e.id));
    expect(listed({})).toEqual([5, 4, 3, 2, 1, 0]);
    expect(listed({ since: "2026-11-03T00:00:00Z", until: new Date("2026-11-05T00:00:00Z") })).toEqual([3, 2]);
    expect(listed({ sender: "sender4@example" })).toEqual([4]);
    expect(listed({ recipient: "R2@A.NET" })).toEqual([2]);
    expect(listed({ recipient: "common" })).toHaveLength(6);
    expect(listed({ name: "eicar" })).toEqual([5, 3, 1]);
    expect(listed({ status: "notscanned", agent: "smtp" })).toEqual([3]);
    expect(listed({ status: "notscan" })).toEqual([]); // status is exact
    expect(listed({ limit: 2 })).toEqual([5, 4]);
    expect(() => q.list({ since: "yesterday-ish" })).toThrow(QuarantineError);
    expect(q.list({})[0].receivedAt).toBe("2026-11-06T12:00:00.000Z");
    await q.close();
  });

  it("puts the same bytes idempotently: one object, one entry with the latest metadata", async () => {
    const dir = freshDir();
    const q = await openQuarantine(dir, quiet);
    const m = mail(7);
    const a = await q.put(m, { names: ["A"], status: "infected" });
    const b = await q.put(m, { names: ["B"], status: "notscanned" });
    expect(b.id).toBe(a.id);
    expect(readdirSync(join(dir, "objects", a.id.slice(0, 2)))).toEqual([a.id.slice(2)]);
    expect(q.list()).toHaveLength(1);
    expect(q.info(a.id)).toMatchObject({ names: ["B"], status: "notscanned" });
    await q.close();
    const q2 = await openQuarantine(dir, quiet);
    expect(q2.list().map((e) => [e.id, e.status])).toEqual([[a.id, "notscanned"]]);
    await q2.close();
  });

  it("deletes: the entry and the object are gone, also after reopening", async () => {
    const dir = freshDir();
    const q = await openQuarantine(dir, quiet);
    const keep = (await q.put(mail(1), { names: [], status: "infected" })).id;
    const gone = (await q.put(mail(2), { names: [], status: "infected" })).id;
    await q.delete(gone);
    expect(existsSync(join(dir, "objects", gone.slice(0, 2), gone.slice(2)))).toBe(false);
    await expect(q.get(gone)).rejects.toBeInstanceOf(QuarantineNotFoundError);
    await expect(q.delete(gone)).rejects.toBeInstanceOf(QuarantineNotFoundError);
    expect(q.list().map((e) => e.id)).toEqual([keep]);
    await q.close();
    const q2 = await openQuarantine(dir, quiet);
    expect(q2.list().map((e) => e.id)).toEqual([keep]);
    expect(q2.info(gone)).toBeUndefined();
    // Stored again after deletion: listed again.
    await q2.put(mail(2), { names: [], status: "imported" });
    expect(q2.list().map((e) => e.id)).toEqual([gone, keep]);
    await q2.close();
  });

  it("restores a message as a file, records it, and never overwrites a different file", async () => {
    const dir = freshDir();
    const out = join(root, `out${n}`);
    const q = await openQuarantine(dir, quiet);
    const m = mail(3);
    const { id } = await q.put(m, { names: ["X"], status: "infected" });
    const { file } = await q.restore(id, out);
    expect(file).toBe(join(out, `${id}.eml`));
    expect(readFileSync(file)).toEqual(m);
    expect(readdirSync(out)).toEqual([`${id}.eml`]); // no temp file left beside it
    expect((await q.restore(id, out)).file).toBe(file); // same content again: fine
    const byDefault = await q.restore(id);
    expect(byDefault.file).toBe(join(dir, "restored", `${id}.eml`));
    await q.close();
    const q2 = await openQuarantine(dir, quiet);
    expect(q2.info(id)).toMatchObject({ restoredTo: byDefault.file });
    writeFileSync(file, "something else");
    await expect(q2.restore(id, out)).rejects.toThrow(/exists with other content/);
    expect(readFileSync(file, "utf8")).toBe("something else");
    await expect(q2.restore("0".repeat(64), out)).rejects.toBeInstanceOf(QuarantineNotFoundError);
    await q2.close();
  });

  it("detects a corrupt object on read (one flipped byte) and repairs it on the next put", async () => {
    const dir = freshDir();
    const warnings: string[] = [];
    const q = await openQuarantine(dir, { warn: (w) => warnings.push(w) });
    const m = mail(4);
    const { id } = await q.put(m, { names: [], status: "infected" });
    const file = join(dir, "objects", id.slice(0, 2), id.slice(2));
    const bad = Buffer.from(m);
    bad[10] ^= 0x01;
    writeFileSync(file, bad);
    await expect(q.get(id)).rejects.toBeInstanceOf(QuarantineCorruptError);
    await expect(q.get(id)).rejects.toThrow(/is corrupt: its content hashes to [0-9a-f]{64}/);
    await expect(q.restore(id, join(root, `out${n}`))).rejects.toBeInstanceOf(QuarantineCorruptError);
    await q.put(m, { names: [], status: "infected" });
    expect(warnings.join("\n")).toMatch(/corrupt.*replacing/);
    expect(Buffer.from(await q.get(id))).toEqual(m);
    await q.close();
  });

  it("rejects bad ids, bad metadata and oversized input before writing anything", async () => {
    const dir = freshDir();
    const q = await openQuarantine(dir, quiet);
    await expect(q.get("../../etc/passwd")).rejects.toThrow(/bad id/);
    await expect(q.put(mail(1), { names: "x" as unknown as string[], status: "infected" })).rejects.toThrow(/names/);
    await expect(q.put(mail(1), { names: [], status: "" })).rejects.toThrow(/status/);
    await expect(q.put(mail(1), { names: [], status: "s", receivedAt: "not a date" })).rejects.toThrow(/receivedAt/);
    const huge = Buffer.alloc(MAX_MESSAGE_BYTES + 1);
    await expect(q.put(huge, { names: [], status: "s" })).rejects.toThrow(/over the .*-byte bound/);
    const tooMany = Array.from({ length: Math.ceil(MAX_JOURNAL_LINE_BYTES / 100) }, (_, i) => `${"r".repeat(90)}${i}@x.org`);
    await expect(q.put(mail(2), { names: [], status: "s", recipients: tooMany })).rejects.toThrow(/journal line, over/);
    expect(readdirSync(join(dir, "objects"))).toEqual([]);
    expect(readFileSync(join(dir, "journal.jsonl"), "utf8")).toBe("");
    expect(() => q.resolveId("xyz")).toThrow(/bad id/);
    await q.close();
  });

  it("resolves unique id prefixes", async () => {
    const q = await openQuarantine(freshDir(), quiet);
    const ids = [];
    for (let i = 0; i < 40; i++) ids.push((await q.put(mail(i), { names: [], status: "s" })).id);
    expect(q.resolveId(ids[0].slice(0, 12))).toBe(ids[0]);
    expect(q.resolveId(ids[0].toUpperCase())).toBe(ids[0]);
    expect(q.resolveId("f".repeat(64))).toBeUndefined();
    expect(() => q.resolveId(ids[0].slice(0, 5))).toThrow(/at least 6/);
    await q.close();
  });

  it("50 concurrent puts of distinct messages are all listed after reopening", async () => {
    const dir = freshDir();
    const q = await openQuarantine(dir, quiet);
    const msgs = Array.from({ length: 50 }, (_, i) => mail(i, "x".repeat(i * 1000)));
    const ids = (await Promise.all(msgs.map((m, i) => q.put(m, { names: [`N${i}`], status: "infected" })))).map((r) => r.id);
    expect(new Set(ids).size).toBe(50);
    await q.close();
    expect(journalLines(dir)).toHaveLength(50);
    const q2 = await openQuarantine(dir, quiet);
    expect(new Set(q2.list().map((e) => e.id))).toEqual(new Set(ids));
    for (let i = 0; i < 50; i++) expect(Buffer.from(await q2.get(ids[i]))).toEqual(msgs[i]);
    expect(readdirSync(join(dir, "tmp"))).toEqual([]);
    await q2.close();
  });
});
