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
import { EICAR } from "../daemon/daemon-process.js";
import { makeZip } from "../helpers/zip-bombs.js";

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

describe("the footnote says the mail was scanned", () => {
  it("so an accepted mail that could not be scanned (encrypted zip) gets none, only its verdict field", async () => {
    const zip = Buffer.from(makeZip([{ name: "secret.txt", data: Buffer.from("a secret\n"), encrypted: true }])).toString("base64");
    const mail = Buffer.from(
      "From: a@example.org\nSubject: zip\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b1\"\n\n" +
        "--b1\nContent-Type: text/plain\n\nsee attachment\n--b1\nContent-Type: application/zip; name=\"s.zip\"\n" +
        `Content-Transfer-Encoding: base64\n\n${zip}\n--b1--\n`,
    );
    expect(mail.length).toBeLessThan(LIMIT);
    const out = await service().handle({ agent: "pipe" }, { mail, received: mail.length, overflow: false });
    expect(out.result.verdict.status).toBe("not_scanned");
    expect(out.result.action).toBe("accept");
    expect(out.result.rewritten).toBe(false);
    expect(out.result.headers.find((h) => h.name === "X-Bulwark-Verdict")?.value).toMatch(/^not-scanned; Heuristics\.Encrypted/);
  });
});

describe("cleaning that fails on our side", () => {
  const mail = Buffer.from(
    [
      "From: a@example.org", "Subject: t", "MIME-Version: 1.0", 'Content-Type: multipart/mixed; boundary="b1"', "",
      "--b1", "Content-Type: text/plain", "", "FAILME text", "--b1",
      'Content-Type: application/octet-stream; name="e.com"', "Content-Transfer-Encoding: base64", "",
      EICAR.toString("base64"), "--b1--", "",
    ].join("\r\n"),
    "latin1",
  );
  let cleaning: Config;
  beforeAll(() => {
    const text = [
      "[global]", `cache_dir = "${dir}"`, 'av_clean_mode = "strict"', 'action_av_deleted = "accept"', 'action_av_infected = "reject"', "",
    ].join("\n");
    cleaning = loadConfigText(text, join(dir, "bulwark.cfg")).config;
  });

  /** the real scanner, except that a part holding FAILME meets a crashed worker */
  const faulty = (failure: "error" | "fault"): Scanner =>
    ({
      get signatureCount() {
        return scanner.signatureCount;
      },
      scan: async (data: Uint8Array, opts?: { name?: string }) => {
        const v = await scanner.scan(data, opts);
        if (opts?.name !== "part" || !Buffer.from(data).includes("FAILME")) return v;
        return failure === "error"
          ? { ...v, status: "error", error: "worker exited" }
          : { ...v, status: "not_scanned", notScanned: [{ name: "Bulwark.Error.WorkerCrashed", path: "", reason: "worker exited" }] };
      },
    }) as unknown as Scanner;

  for (const failure of ["error", "fault"] as const) {
    it(`a part scan ${failure === "error" ? "error" : "internal fault"} defers the mail (not rejected, no part dropped)`, async () => {
      const svc = new MailService({ config: () => cleaning, scanner: () => faulty(failure), stats: new Statistics(), quarantine, log: silent });
      const out = await svc.handle({ agent: "pipe", recipients: ["r@y.test"] }, { mail, received: mail.length, overflow: false });
      expect(out.result.action).toBe("defer");
      expect(out.result.reason).toMatch(/cleaning \(strict\) failed: .*worker/);
      expect(out.result.rewritten).toBe(false);
      expect(out.result.quarantineId).toBeUndefined();
    });
  }

  it("a mail deferred after its scan still counts the objects that were scanned (SPEC §2), once", async () => {
    const stats = new Statistics();
    const svc = new MailService({ config: () => cleaning, scanner: () => faulty("error"), stats, quarantine, log: silent });
    const out = await svc.handle({ agent: "pipe", recipients: ["r@y.test"] }, { mail, received: mail.length, overflow: false });
    expect(out.result.action).toBe("defer");
    // what the same mail's scan counts on its own, from the real scanner
    const v = await scanner.scan(mail, { name: "mail" });
    expect(v.status).toBe("infected");
    expect(v.objects).toBeGreaterThan(0);
    const pipe = stats.snapshot().agents.pipe;
    expect(pipe.scanned).toBe(v.objects);
    expect(pipe.infected).toBe(new Set(v.detections.map((d) => d.path)).size);
    expect(pipe.infected).toBeGreaterThan(0);
    expect(pipe.cleaned).toBe(0);
    expect(pipe.deferred).toBe(1);
    expect(pipe.accepted + pipe.rejected + pipe.discarded).toBe(0);
  });

  it("a mail deferred before any scan (a disabled agent) counts no object, only the message", async () => {
    const off = loadConfigText(["[global]", `cache_dir = "${dir}"`, "", "[pipe]", "agent_enabled = no", ""].join("\n"), join(dir, "bulwark.cfg")).config;
    const stats = new Statistics();
    const svc = new MailService({ config: () => off, scanner: () => scanner, stats, quarantine, log: silent });
    const out = await svc.handle({ agent: "pipe" }, { mail, received: mail.length, overflow: false });
    expect(out.result.action).toBe("defer");
    const pipe = stats.snapshot().agents.pipe;
    expect(pipe.scanned).toBe(0);
    expect(pipe.deferred).toBe(1);
  });

  it("with a working scanner the same mail is cleaned and accepted (the setup is sound)", async () => {
    const svc = new MailService({ config: () => cleaning, scanner: () => scanner, stats: new Statistics(), quarantine, log: silent });
    const out = await svc.handle({ agent: "pipe", recipients: ["r@y.test"] }, { mail, received: mail.length, overflow: false });
    expect(out.result.verdict.status).toBe("infected");
    expect(out.result.action).toBe("accept");
    expect(out.result.cleaned).toBe(true);
    expect(out.mail?.includes("FAILME text")).toBe(true);
  });
});
