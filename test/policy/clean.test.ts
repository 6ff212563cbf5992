/**
 * av_clean_mode: cleanMail removes infected (strict: also not-scanned; rigorous: also every
 * non-text attachment) parts, keeps the rest byte for byte, and leaves valid MIME. Verdicts come
 * from the real scanner (built-in EICAR signature), and Python's `email` package checks the
 * result independently. EICAR and the encrypted zip are built at run time.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Scanner } from "../../host/api.js";
import { cleanMail, type CleanMode } from "../../host/policy/clean.js";
import { MAX_MIME_NESTING, MAX_MIME_NODES } from "../../host/policy/mime-structure.js";
import type { Verdict } from "../../host/scan/verdict.js";
import { createScanner } from "../../host/scanner.js";
import { EICAR } from "../daemon/daemon-process.js";
import { deepMimeNesting } from "../helpers/mime-bombs.js";
import { makeZip } from "../helpers/zip-bombs.js";
import { pythonDefects, pythonParts } from "./python-mime.js";

let scanner: Scanner;
beforeAll(async () => {
  scanner = await createScanner({ workers: 0, cacheDir: null });
});
afterAll(async () => {
  await scanner?.close();
});

const scan = (entity: Buffer): Promise<Verdict> => scanner.scan(entity);

function b64(data: Uint8Array, eol: string): string {
  return (Buffer.from(data).toString("base64").match(/.{1,76}/g) ?? []).join(eol);
}

/** Bytes that are not EICAR and not text: a fake PDF. */
const PDF = Buffer.concat([Buffer.from("%PDF-1.4\n"), Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 37) % 256))]);
const ENCRYPTED_ZIP = () => makeZip([{ name: "secret.txt", data: Buffer.from("the plans"), encrypted: true }]);

interface Part {
  /** a key for the test's expectations */
  key: string;
  /** the part's entity (header lines, blank line, body), lines joined by eol */
  entity: string;
}

/** The test mail: a multipart/mixed with text alternatives, EICAR, a PDF, an encrypted zip and a
 *  forwarded message holding another EICAR. Returns the mail and each leaf entity's text. */
function testMail(eol: string): { mail: Buffer; parts: Part[] } {
  const L = (...lines: string[]) => lines.join(eol);
  const text: Part = { key: "text", entity: L("Content-Type: text/plain; charset=utf-8", "", "Hello, see attachments.") };
  const html: Part = { key: "html", entity: L("Content-Type: text/html; charset=utf-8", "", "<html><body><p>Hello</p></body></html>") };
  const eicar: Part = {
    key: "eicar",
    entity: L(
      'Content-Type: application/octet-stream; name="eicar.com"',
      'Content-Disposition: attachment; filename="eicar.com"',
      "Content-Transfer-Encoding: base64",
      "",
      b64(EICAR, eol),
    ),
  };
  const pdf: Part = {
    key: "pdf",
    entity: L(
      'Content-Type: application/pdf; name="report.pdf"',
      'Content-Disposition: attachment; filename="report.pdf"',
      "Content-Transfer-Encoding: base64",
      "",
      b64(PDF, eol),
    ),
  };
  const zip: Part = {
    key: "zip",
    entity: L(
      'Content-Type: application/zip; name="secret.zip"',
      'Content-Disposition: attachment; filename="secret.zip"',
      "Content-Transfer-Encoding: base64",
      "",
      b64(ENCRYPTED_ZIP(), eol),
    ),
  };
  const fwdText: Part = { key: "fwdText", entity: L("Content-Type: text/plain", "", "forwarded text") };
  const fwdEicar: Part = {
    key: "fwdEicar",
    entity: L('Content-Type: application/octet-stream; name="inner.com"', "Content-Transfer-Encoding: base64", "", b64(EICAR, eol)),
  };
  const mail = L(
    "From: a@example.com",
    "To: b@example.com",
    "Subject: test",
    "MIME-Version: 1.0",
    'Content-Type: multipart/mixed; boundary="outer"',
    "",
    "This is a multi-part message in MIME format.",
    "--outer",
    'Content-Type: multipart/alternative; boundary="alt"',
    "",
    "--alt",
    text.entity,
    "--alt",
    html.entity,
    "--alt--",
    "--outer",
    eicar.entity,
    "--outer",
    pdf.entity,
    "--outer",
    zip.entity,
    "--outer",
    "Content-Type: message/rfc822",
    "",
    "From: c@example.com",
    "Subject: forwarded",
    "MIME-Version: 1.0",
    'Content-Type: multipart/mixed; boundary="inner"',
    "",
    "--inner",
    fwdText.entity,
    "--inner",
    fwdEicar.entity,
    "--inner--",
    "--outer--",
    "epilogue",
    "",
  );
  return { mail: Buffer.from(mail, "latin1"), parts: [text, html, eicar, pdf, zip, fwdText, fwdEicar] };
}

const cases: Array<{ mode: CleanMode; removed: string[]; kept: string[]; labels: string[] }> = [
  { mode: "standard", removed: ["eicar", "fwdEicar"], kept: ["text", "html", "pdf", "zip", "fwdText"], labels: ['2 "eicar.com"', '5.2 "inner.com"'] },
  { mode: "strict", removed: ["eicar", "zip", "fwdEicar"], kept: ["text", "html", "pdf", "fwdText"], labels: ['2 "eicar.com"', '4 "secret.zip"', '5.2 "inner.com"'] },
  {
    mode: "rigorous",
    removed: ["eicar", "pdf", "zip", "fwdEicar"],
    kept: ["text", "html", "fwdText"],
    labels: ['2 "eicar.com"', '3 "report.pdf"', '4 "secret.zip"', '5.2 "inner.com"'],
  },
];

describe("cleanMail on a real mail, per mode and line ending", () => {
  for (const eol of ["\r\n", "\n"]) {
    for (const c of cases) {
      it(`${c.mode}, ${eol === "\r\n" ? "CRLF" : "LF"}`, async () => {
        const { mail, parts } = testMail(eol);
        // the input really is infected, and its pieces really have the verdicts the case assumes
        expect((await scan(mail)).status).toBe("infected");
        const byKey = new Map(parts.map((p) => [p.key, Buffer.from(p.entity, "latin1")]));
        expect((await scan(byKey.get("zip")!)).status).toBe("not_scanned");
        expect((await scan(byKey.get("pdf")!)).status).toBe("clean");

        const result = await cleanMail(mail, c.mode, scan);
        expect(result.complete).toBe(true);
        expect(result.removed.map((r) => r.part)).toEqual(c.labels);
        for (const r of result.removed) {
          if (r.part.includes("eicar") || r.part.includes("inner")) expect(r.names).toEqual(["Eicar-Test-Signature"]);
        }
        const out = result.mail;
        // removed parts are gone, kept parts are byte-identical, the header block is untouched
        for (const key of c.removed) expect(out.includes(byKey.get(key)!)).toBe(false);
        for (const key of c.kept) expect(out.includes(byKey.get(key)!)).toBe(true);
        const headerEnd = mail.indexOf(`${eol}${eol}`);
        expect(out.subarray(0, headerEnd).equals(mail.subarray(0, headerEnd))).toBe(true);
        expect(out.subarray(out.length - 20).equals(mail.subarray(mail.length - 20))).toBe(true);
        // the line ending style is kept
        if (eol === "\n") expect(out.includes("\r")).toBe(false);
        else expect(/[^\r]\n/.test(out.toString("latin1"))).toBe(false);

        // re-scanned with the real engine: no detection left
        const again = await scan(out);
        expect(again.names).toEqual([]);
        expect(again.status).toBe(c.mode === "standard" ? "not_scanned" : "clean");

        // an independent MIME parser accepts it and sees a notice in place of each removed part
        const py = pythonParts(out);
        expect(pythonDefects(py)).toEqual([]);
        const original = pythonParts(mail);
        expect(py.length).toBe(original.length);
        const notices = py.filter((p) => p.text?.startsWith("Bulwark removed a part of this message."));
        expect(notices.length).toBe(c.removed.length);
        for (const n of notices) {
          expect(n.type).toBe("text/plain");
          expect(n.filename).toBeNull();
        }
        expect(notices[0].text).toContain('Part: 2 "eicar.com" (application/octet-stream)');
        expect(notices[0].text).toContain("Reason: infected (Eicar-Test-Signature)");
        if (c.mode !== "standard") expect(notices.some((n) => /could not be scanned \(Heuristics\.Encrypted\.Zip/.test(n.text!))).toBe(true);
        // the kept text alternatives still decode to their text
        expect(py.find((p) => p.type === "text/html")?.text).toContain("<p>Hello</p>");
      });
    }
  }
});

function mixed(eol: string, bodies: string[], close = true): Buffer {
  const lines = ["From: a@example.com", "MIME-Version: 1.0", 'Content-Type: multipart/mixed; boundary="b"', ""];
  for (const body of bodies) lines.push("--b", body);
  if (close) lines.push("--b--");
  lines.push("");
  return Buffer.from(lines.join(eol), "utf8");
}

const eicarPart = (eol: string, name = "eicar.com") =>
  [`Content-Type: application/octet-stream; name="${name}"`, "Content-Transfer-Encoding: base64", "", b64(EICAR, eol)].join(eol);
const textPart = (eol: string, text = "hello") => ["Content-Type: text/plain", "", text].join(eol);

describe("what cannot be cleaned, and scan failures", () => {
  it("an infected single-part body: the mail comes back unchanged, incomplete", async () => {
    const mail = Buffer.from(`From: a@example.com\r\nSubject: x\r\n\r\n${EICAR.toString("latin1")}\r\n`, "latin1");
    expect((await scan(mail)).status).toBe("infected");
    for (const mode of ["standard", "strict", "rigorous"] as const) {
      const r = await cleanMail(mail, mode, scan);
      expect(r.complete).toBe(false);
      expect(r.mail.equals(mail)).toBe(true);
      expect(r.removed).toEqual([]);
    }
  });

  it("a clean single-part body is complete and unchanged", async () => {
    const mail = Buffer.from("From: a@example.com\r\nSubject: x\r\n\r\nhello\r\n");
    const r = await cleanMail(mail, "strict", scan);
    expect(r).toEqual({ mail, removed: [], complete: true });
  });

  for (const failure of ["rejects", "error verdict"] as const) {
    it(`scanPart ${failure}: that part is kept, the rest is cleaned, complete is false`, async () => {
      const mail = mixed("\r\n", [textPart("\r\n", "FAILME"), eicarPart("\r\n")]);
      const failing = async (entity: Buffer): Promise<Verdict> => {
        if (entity.includes("FAILME")) {
          if (failure === "rejects") throw new Error("worker died");
          return { ...(await scan(entity)), status: "error", error: "read error" };
        }
        return scan(entity);
      };
      const r = await cleanMail(mail, "standard", failing);
      expect(r.complete).toBe(false);
      expect(r.mail.includes("FAILME")).toBe(true);
      expect(r.removed.map((x) => x.part)).toEqual(['2 "eicar.com"']);
      expect((await scan(r.mail)).status).toBe("clean");
    });
  }

  it("strict: a part whose scan met an internal fault (Bulwark.Error.*) is kept, not removed as not scanned, and the result says failed", async () => {
    const mail = mixed("\r\n", [textPart("\r\n", "FAILME"), eicarPart("\r\n")]);
    const faulty = async (entity: Buffer): Promise<Verdict> => {
      const v = await scan(entity);
      if (!entity.includes("FAILME")) return v;
      return { ...v, status: "not_scanned", notScanned: [{ name: "Bulwark.Error.WorkerCrashed", path: "", reason: "worker exited" }] };
    };
    const r = await cleanMail(mail, "strict", faulty);
    expect(r.mail.includes("FAILME")).toBe(true);
    expect(r.removed.map((x) => x.part)).toEqual(['2 "eicar.com"']);
    expect(r.complete).toBe(false);
    expect(r.failed).toMatch(/Bulwark\.Error\.WorkerCrashed/);
    // a clean run has no failure to report
    expect((await cleanMail(mixed("\r\n", [textPart("\r\n", "fine"), eicarPart("\r\n")]), "strict", scan)).failed).toBeUndefined();
  });

  it("a forwarded single-part message that is infected is removed whole", async () => {
    const fwd = ["Content-Type: message/rfc822", "", "From: c@example.com", "Subject: fwd", "", EICAR.toString("latin1"), ""].join("\r\n");
    const mail = mixed("\r\n", [textPart("\r\n"), fwd]);
    const r = await cleanMail(mail, "standard", scan);
    expect(r).toMatchObject({ complete: true, removed: [{ part: "2", names: ["Eicar-Test-Signature"] }] });
    const py = pythonParts(r.mail);
    expect(pythonDefects(py)).toEqual([]);
    expect(py.map((p) => p.type)).toEqual(["multipart/mixed", "text/plain", "text/plain"]);
    expect(py[2].text).toContain("(message/rfc822)");
  });

  it("rigorous without an infection removes only what could not be scanned", async () => {
    const { parts } = testMail("\r\n");
    const entity = (key: string) => parts.find((p) => p.key === key)!.entity;
    const mail = mixed("\r\n", [entity("text"), entity("pdf"), entity("zip")]);
    const r = await cleanMail(mail, "rigorous", scan);
    expect(r.complete).toBe(true);
    expect(r.removed).toEqual([{ part: '3 "secret.zip"', names: ["Heuristics.Encrypted.Zip"] }]);
    expect(r.mail.includes(entity("pdf"))).toBe(true);
    // standard mode keeps the unscannable part: nothing to remove, nothing infected
    const std = await cleanMail(mail, "standard", scan);
    expect(std).toEqual({ mail, removed: [], complete: true });
  });

  it("a part without Content-Type is scanned decoded (its default type is given to the engine)", async () => {
    const part = ["Content-Disposition: attachment", "Content-Transfer-Encoding: base64", "", b64(EICAR, "\r\n")].join("\r\n");
    const mail = mixed("\r\n", [textPart("\r\n"), part]);
    const r = await cleanMail(mail, "standard", scan);
    expect(r.complete).toBe(true);
    expect(r.removed).toEqual([{ part: "2", names: ["Eicar-Test-Signature"] }]);
    expect(pythonDefects(pythonParts(r.mail))).toEqual([]);
  });

  it("when the parts scan clean but the whole mail does not, the result is not complete", async () => {
    // EICAR in the preamble: no part holds it, so nothing can be removed, but the engine finds it
    const mail = Buffer.from(
      `From: a@example.com\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\nbegin 644 e.com\r\n` +
        `${uuencodeLines(EICAR)}\`\r\nend\r\n--b\r\n${textPart("\r\n")}\r\n--b--\r\n`,
      "latin1",
    );
    expect((await scan(mail)).status).toBe("infected");
    const r = await cleanMail(mail, "standard", scan);
    expect(r.removed).toEqual([]);
    expect(r.complete).toBe(false);
  });
});

function uuencodeLines(data: Buffer): string {
  const lines: string[] = [];
  for (let i = 0; i < data.length; i += 45) {
    const chunk = data.subarray(i, i + 45);
    let line = String.fromCharCode(32 + chunk.length);
    for (let j = 0; j < chunk.length; j += 3) {
      const [a, b = 0, c = 0] = chunk.subarray(j, j + 3);
      for (const v of [a >> 2, ((a & 3) << 4) | (b >> 4), ((b & 15) << 2) | (c >> 6), c & 63]) line += String.fromCharCode(v === 0 ? 96 : 32 + v);
    }
    lines.push(line);
  }
  return lines.join("\r\n") + "\r\n";
}

describe("hostile input", () => {
  it("missing closing boundary: the infected part is removed, but the clean is not complete", async () => {
    const mail = mixed("\r\n", [textPart("\r\n"), eicarPart("\r\n")], false);
    const r = await cleanMail(mail, "standard", scan);
    expect(r.complete).toBe(false);
    expect(r.removed.map((x) => x.part)).toEqual(['2 "eicar.com"']);
    expect((await scan(r.mail)).status).toBe("clean");
    expect(r.mail.includes(textPart("\r\n"))).toBe(true);
  });

  it("10,000 parts: at most MAX_MIME_NODES scans, the parts seen are cleaned, not complete", async () => {
    const bodies = [eicarPart("\r\n")];
    for (let i = 0; i < 10_000; i++) bodies.push(textPart("\r\n", `t${i}`));
    bodies.push(eicarPart("\r\n", "late.com"));
    const mail = mixed("\r\n", bodies);
    let calls = 0;
    const r = await cleanMail(mail, "standard", (e) => {
      calls++;
      return scan(e);
    });
    expect(calls).toBeLessThanOrEqual(MAX_MIME_NODES + 1);
    expect(r.complete).toBe(false);
    expect(r.removed[0]).toEqual({ part: '1 "eicar.com"', names: ["Eicar-Test-Signature"] });
    // the late EICAR was beyond the limit: it is still there, which is why complete is false
    expect(r.mail.includes(eicarPart("\r\n", "late.com"))).toBe(true);
    expect(pythonDefects(pythonParts(r.mail))).toEqual([]);
  });

  it("1,000-deep nesting: bounded, kept whole below the nesting limit, not complete", async () => {
    const mail = deepMimeNesting(1000, EICAR);
    let calls = 0;
    const r = await cleanMail(mail, "standard", (e) => {
      calls++;
      return scan(e);
    });
    expect(calls).toBeLessThanOrEqual(2);
    expect(r.complete).toBe(false);
    expect(MAX_MIME_NESTING).toBeLessThan(1000);
  });

  it("deep nesting within the limit is followed and cleaned", async () => {
    const mail = deepMimeNesting(MAX_MIME_NESTING - 1, EICAR);
    const r = await cleanMail(mail, "standard", scan);
    expect(r.complete).toBe(true);
    expect(r.removed.length).toBe(1);
    expect((await scan(r.mail)).status).toBe("clean");
    expect(pythonDefects(pythonParts(r.mail))).toEqual([]);
  });

  it("a file name with CR, LF and non-ASCII characters cannot reach the notice", async () => {
    const names = [
      `filename*=utf-8''evil%0D%0AContent-Type%3A%20text%2Fhtml%0D%0A%0D%0A%E2%80%AEmoc.exe`,
      `filename="\u00e9t\u00e9\u202e.exe"`, // raw UTF-8 in the header (RFC 6532)
    ];
    for (const param of names) {
      const part = [
        "Content-Type: application/octet-stream",
        `Content-Disposition: attachment; ${param}`,
        "Content-Transfer-Encoding: base64",
        "",
        b64(EICAR, "\r\n"),
      ].join("\r\n");
      const mail = mixed("\r\n", [textPart("\r\n"), part]);
      const r = await cleanMail(mail, "standard", scan);
      expect(r.complete).toBe(true);
      expect(r.removed.length).toBe(1);
      expect(r.removed[0].part).toMatch(/^[\x20-\x7e]*$/);
      const py = pythonParts(r.mail);
      expect(pythonDefects(py)).toEqual([]);
      const notice = py.find((p) => p.text?.startsWith("Bulwark removed"))!;
      expect(notice.type).toBe("text/plain");
      // every notice line is printable ASCII; the injected header line did not become a header
      // (Python keeps the CRLF line ends of the body text)
      expect(notice.text).toMatch(/^([\x20-\x7e]*\r?\n)*[\x20-\x7e]*$/);
      expect(notice.text!.split(/\r?\n/).some((line) => line.startsWith("Content-Type"))).toBe(false);
      expect(py.filter((p) => p.type === "text/html")).toEqual([]);
    }
  });

  it("garbage and truncated mail never throw", async () => {
    const { mail } = testMail("\r\n");
    for (const cut of [0, 1, 50, 200, 400, 700, 1200, mail.length - 30]) {
      const piece = mail.subarray(0, cut);
      const r = await cleanMail(piece, "rigorous", scan);
      expect(Buffer.isBuffer(r.mail)).toBe(true);
      if (!r.complete) continue;
      expect((await scan(r.mail)).status).toBe("clean");
    }
  });
});
