/**
 * The anti-spam engine through the embedded library (`createSpamFilter` from "bulwark"):
 * GTUBE is spam at once; after learning 200 generated spam and 200 generated ham the
 * statistical filter scores new mail of each kind into its bands; forget takes a message out;
 * bad options throw with the entry named. No network.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSpamFilter, type SpamFilter } from "../../host/index.js";

const GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";
const SPAM_WORDS = "cheap pills viagra winner lottery claim prize casino bonus unclaimed wire transfer urgent beneficiary".split(" ");
const HAM_WORDS = "meeting agenda minutes project review schedule deadline budget draft lunch weekend report invoice".split(" ");

/** A small deterministic PRNG, so the generated corpus is the same on every run. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}
function mail(words: string[], n: number, rand: () => number): Buffer {
  const body = Array.from({ length: 40 }, () => words[Math.floor(rand() * words.length)]).join(" ");
  return Buffer.from(`From: sender${n}@example.org\nTo: bob@example.test\nSubject: note ${n}\nMessage-ID: <${n}@example.org>\n\n${body}\n`);
}

let dir = "";
let filter: SpamFilter;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "bulwark-spam-filter-"));
  filter = await createSpamFilter({ database: join(dir, "bayes.sqlite") });
});
afterAll(() => {
  filter?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("createSpamFilter", () => {
  it("calls GTUBE spam without any training", async () => {
    const r = await filter.classify(Buffer.from(`Subject: x\n\n${GTUBE}\n`), {});
    expect(r.status).toBe("spam");
    expect(r.reasons.map((x) => x.name)).toContain("GTUBE");
  });

  it("learns, scores new mail into the Bayes bands, and forgets exactly", async () => {
    const rand = prng(7);
    for (let i = 0; i < 200; i++) {
      expect((await filter.learn(mail(SPAM_WORDS, i, rand), "spam")).outcome).toBe("learned");
      expect((await filter.learn(mail(HAM_WORDS, 1000 + i, rand), "ham")).outcome).toBe("learned");
    }
    const spam = filter.classifyLocal(mail(SPAM_WORDS, 5000, rand));
    const ham = filter.classifyLocal(mail(HAM_WORDS, 6000, rand));
    const band = (r: typeof spam) => r.reasons.find((x) => x.name.startsWith("BAYES_"));
    expect(band(spam)!.score).toBeGreaterThan(0);
    expect(band(ham)!.score).toBeLessThan(0);
    expect(spam.score).toBeGreaterThan(ham.score);
    const again = mail(SPAM_WORDS, 0, prng(7));
    expect(await filter.forget(again)).toMatchObject({ outcome: "forgotten", nspam: 199, nham: 200 });
    expect(await filter.forget(again)).toMatchObject({ outcome: "unknown", nspam: 199 });
  });

  it("refuses bad network options with the entry named", async () => {
    await expect(createSpamFilter({ database: join(dir, "x.sqlite"), network: { blockLists: ["bl.example:8.8.8.8"] } })).rejects.toThrow(/8\.8\.8\.8/);
    await expect(createSpamFilter({ database: join(dir, "x.sqlite"), network: { dnsServers: ["not a server"] } })).rejects.toThrow(/not a server/);
  });
});
