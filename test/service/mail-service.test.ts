/**
 * MailService (the daemon's zBWMAIL judgement) in process, with a real scanner, real statistics
 * and a real quarantine: the cases a review found, each stated as the behaviour that must hold.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Scanner } from "../../host/api.js";
import { type Config, loadConfigText } from "../../host/config/load.js";
import type { Logger } from "../../host/log/types.js";
import { openQuarantine, type QuarantineStore } from "../../host/quarantine/store.js";
import { createScanner } from "../../host/scanner.js";
import { MailService } from "../../host/service/mail-service.js";
import { Statistics } from "../../host/stats/counters.js";

const LIMIT = 4096;
const silent: Logger = {
  log: () => {},
  error: () => {},
  warning: () => {},
  info: () => {},
  debug: () => {},
  line: () => {},
  close: async () => {},
};

let dir: string;
let scanner: Scanner;
let quarantine: QuarantineStore;
let config: Config;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "bulwark-mailsvc-"));
  const text = [
    "[global]", `cache_dir = "${dir}"`, `max_file_size = ${LIMIT}`,
    'action_av_notscanned = "accept"', "av_footnote_enabled = yes", 'av_footnote_text = "FOOTNOTE-MARK"', "",
  ].join("\n");
  const r = loadConfigText(text, join(dir, "bulwark.cfg"));
  expect(r.globalErrors).toEqual([]);
  config = r.config;
  scanner = await createScanner({ workers: 0, cacheDir: null });
  quarantine = await openQuarantine(join(dir, "quarantine"), { warn: () => {} });
});

afterAll(async () => {
  await scanner?.close();
  await quarantine?.close();
  rmSync(dir, { recursive: true, force: true });
});

const service = () => new MailService({ config: () => config, scanner: () => scanner, stats: new Statistics(), quarantine, log: silent });

describe("a mail the daemon did not receive whole", () => {
  // a single-part text/plain mail: the kind the footnote appends to at the end of the body
  const BIG = Buffer.concat([Buffer.from("From: a@example.org\nSubject: big\n\n"), Buffer.alloc(LIMIT * 3, 0x61), Buffer.from("\nTHE END\n")]);
  const held = BIG.subarray(0, LIMIT);

  it("is never rewritten (a footnote on its first bytes would cut the rest off or corrupt it)", async () => {
    for (const input of [
      { req: { agent: "pipe" as const, truncated: true }, mail: held, received: held.length, overflow: false },
      { req: { agent: "pipe" as const }, mail: held, received: BIG.length, overflow: true },
    ]) {
      const out = await service().handle(input.req, { mail: input.mail, received: input.received, overflow: input.overflow });
      expect(out.result.verdict.status).toBe("not_scanned");
      expect(out.result.action).toBe("accept");
      expect(out.result.rewritten).toBe(false);
      expect(out.mail).toBeUndefined();
    }
  });

  it("a whole mail under the limit still gets its footnote (the option works here)", async () => {
    const small = Buffer.from("From: a@example.org\nSubject: small\n\nhello\n");
    const out = await service().handle({ agent: "pipe" }, { mail: small, received: small.length, overflow: false });
    expect(out.result.action).toBe("accept");
    expect(out.result.rewritten).toBe(true);
    expect(out.mail?.toString("latin1")).toContain("FOOTNOTE-MARK");
  });
});
