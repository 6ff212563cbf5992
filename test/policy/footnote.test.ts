/**
 * addFootnote: the footnote lands in the visible text of each supported structure, the result is
 * valid MIME for an independent parser (Python's `email` package), the line ending style is kept,
 * and mail that a footnote would break (signed, encrypted, unknown, unparseable) is left as is.
 */
import { describe, expect, it } from "vitest";
import { addFootnote, encodeQuotedPrintable, footnoteLines, MAX_FOOTNOTE_CHARS } from "../../host/policy/footnote.js";
import { pythonDefects, pythonParts, type PyPart } from "./python-mime.js";

const NOTE = "Scanned by Bulwark: no virus found.";
const HEAD = ["From: a@example.com", "To: b@example.com", "Subject: hi", "MIME-Version: 1.0"];

function b64(text: string, eol: string): string {
  return (Buffer.from(text, "utf8").toString("base64").match(/.{1,76}/g) ?? []).join(eol);
}

/** Text of a part with line ends normalised (Python keeps a body's CRLF). */
const norm = (s: string | undefined) => (s ?? "").replace(/\r\n/g, "\n");
const texts = (parts: PyPart[], type: string) => parts.filter((p) => p.type === type && !p.multipart).map((p) => norm(p.text));

interface Case {
  name: string;
  mail: (eol: string) => string[];
  /** decoded text/plain and text/html contents expected after the footnote */
  plain: string[];
  html: string[];
  /** extra parts Python should see compared to the original */
  addedParts?: number;
  /** the body is decoded and encoded again, so its original bytes are not kept */
  reencodes?: boolean;
}

const cases: Case[] = [
  {
    name: "text/plain 7bit",
    mail: () => [...HEAD, "Content-Type: text/plain; charset=us-ascii", "", "Hello Bob,", "see you.", ""],
    plain: [`Hello Bob,\nsee you.\n\n${NOTE}\n`],
    html: [],
  },
  {
    name: "text/plain without Content-Type, no final line break",
    mail: () => ["From: a@example.com", "Subject: hi", "", "Hello"],
    plain: [`Hello\n\n${NOTE}`],
    html: [],
  },
  {
    name: "text/plain 8bit UTF-8",
    mail: () => [...HEAD, "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit", "", "Grüße", ""],
    plain: [`Grüße\n\n${NOTE}\n`],
    html: [],
  },
  {
    name: "text/plain quoted-printable",
    mail: () => [...HEAD, "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: quoted-printable", "", "Gr=C3=BC=C3=9Fe a=3Db", ""],
    plain: [`Grüße a=b\n\n${NOTE}\n`],
    html: [],
  },
  {
    name: "text/plain base64",
    reencodes: true,
    mail: (eol) => [...HEAD, "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: base64", "", b64("Grüße\r\nBob\r\n", eol), ""],
    plain: [`Grüße\nBob\n\n${NOTE}\n`],
    html: [],
  },
  {
    name: "text/html with </body>",
    mail: () => [...HEAD, "Content-Type: text/html; charset=utf-8", "", "<html><body><p>Hi</p></body></html>", ""],
    plain: [],
    html: [`<html><body><p>Hi</p><p>${NOTE}</p>\n</body></html>\n`],
  },
  {
    name: "text/html without </body>",
    mail: () => [...HEAD, "Content-Type: text/html", "", "<p>Hi</p>", ""],
    plain: [],
    html: [`<p>Hi</p>\n\n<p>${NOTE}</p>\n`],
  },
  {
    name: "text/html quoted-printable",
    reencodes: true,
    mail: () => [...HEAD, "Content-Type: text/html; charset=utf-8", "Content-Transfer-Encoding: quoted-printable", "", "<html><body><p style=3D\"x\">Gr=C3=BC=", "=C3=9Fe</p></BODY></html>", ""],
    plain: [],
    html: [`<html><body><p style="x">Grüße</p><p>${NOTE}</p>\n</BODY></html>\n`],
  },
  {
    name: "multipart/mixed: a new text part before the closing boundary",
    mail: (eol) => [
      ...HEAD,
      'Content-Type: multipart/mixed; boundary="mix"',
      "",
      "--mix",
      "Content-Type: text/plain",
      "",
      "body text",
      "--mix",
      'Content-Type: application/octet-stream; name="a.bin"',
      "Content-Transfer-Encoding: base64",
      "",
      b64("\x00\x01binary", eol),
      "--mix--",
      "",
    ],
    plain: ["body text", NOTE],
    html: [],
    addedParts: 1,
  },
  {
    name: "multipart/alternative: both alternatives",
    mail: () => [
      ...HEAD,
      'Content-Type: multipart/alternative; boundary="alt"',
      "",
      "--alt",
      "Content-Type: text/plain; charset=utf-8",
      "Content-Transfer-Encoding: quoted-printable",
      "",
      "plain =E2=9C=93",
      "--alt",
      "Content-Type: text/html; charset=utf-8",
      "",
      "<html><body>html</body></html>",
      "--alt--",
      "",
    ],
    plain: [`plain ✓\n\n${NOTE}`],
    html: [`<html><body>html<p>${NOTE}</p>\n</body></html>`],
  },
  {
    name: "multipart/alternative with related HTML and an inline image",
    mail: (eol) => [
      ...HEAD,
      'Content-Type: multipart/alternative; boundary="alt"',
      "",
      "--alt",
      "Content-Type: text/plain",
      "",
      "plain",
      "--alt",
      'Content-Type: multipart/related; boundary="rel"',
      "",
      "--rel",
      "Content-Type: text/html",
      "",
      '<body><img src="cid:i1"></body>',
      "--rel",
      "Content-Type: image/png",
      "Content-ID: <i1>",
      "Content-Transfer-Encoding: base64",
      "",
      b64("\x89PNG fake", eol),
      "--rel--",
      "--alt--",
      "",
    ],
    plain: [`plain\n\n${NOTE}`],
    html: [`<body><img src="cid:i1"><p>${NOTE}</p>\n</body>`],
  },
];

describe("addFootnote on each supported structure", () => {
  for (const eol of ["\r\n", "\n"]) {
    for (const c of cases) {
      it(`${c.name} (${eol === "\r\n" ? "CRLF" : "LF"})`, () => {
        const mail = Buffer.from(c.mail(eol).join(eol), "utf8");
        const r = addFootnote(mail, NOTE);
        expect(r.added).toBe(true);
        const out = r.mail;
        const py = pythonParts(out);
        expect(pythonDefects(py)).toEqual([]);
        expect(py.length).toBe(pythonParts(mail).length + (c.addedParts ?? 0));
        expect(texts(py, "text/plain")).toEqual(c.plain);
        expect(texts(py, "text/html")).toEqual(c.html);
        // the header block is untouched and the line ending style kept
        const headerEnd = mail.indexOf(`${eol}${eol}`);
        expect(out.subarray(0, headerEnd + eol.length).equals(mail.subarray(0, headerEnd + eol.length))).toBe(true);
        if (eol === "\n") expect(out.includes("\r")).toBe(false);
        else expect(/[^\r]\n/.test(out.toString("latin1"))).toBe(false);
        // it only adds: every original line is still there, in order
        const origLines = mail.toString("latin1").split(eol);
        const outText = out.toString("latin1");
        if (!c.reencodes) {
          let at = 0;
          for (const line of origLines.flatMap((l) => l.split(/(?=<\/body)/i))) {
            const i = outText.indexOf(line, at);
            expect(i).toBeGreaterThanOrEqual(0);
            at = i + line.length;
          }
        }
      });
    }
  }
});

describe("mail that must not get a footnote comes back unchanged", () => {
  const unchangedCases: Array<{ name: string; lines: string[] }> = [
    {
      name: "multipart/signed",
      lines: [
        ...HEAD,
        'Content-Type: multipart/signed; protocol="application/pgp-signature"; micalg=pgp-sha256; boundary="sig"',
        "",
        "--sig",
        "Content-Type: text/plain",
        "",
        "signed text",
        "--sig",
        "Content-Type: application/pgp-signature",
        "",
        "-----BEGIN PGP SIGNATURE-----",
        "AAAA",
        "-----END PGP SIGNATURE-----",
        "--sig--",
        "",
      ],
    },
    {
      name: "application/pkcs7-mime",
      lines: [...HEAD, 'Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"', "Content-Transfer-Encoding: base64", "", "MIAGCSqGSIb3DQEHA6CAMIACAQAx", ""],
    },
    { name: "an unknown single part", lines: [...HEAD, "Content-Type: application/octet-stream", "", "\x00\x01", ""] },
    { name: "multipart/report", lines: [...HEAD, 'Content-Type: multipart/report; boundary="r"', "", "--r", "", "x", "--r--", ""] },
    { name: "a text attachment", lines: [...HEAD, "Content-Type: text/plain", 'Content-Disposition: attachment; filename="a.txt"', "", "data", ""] },
    { name: "UTF-16 text", lines: [...HEAD, "Content-Type: text/plain; charset=utf-16", "Content-Transfer-Encoding: base64", "", "//5IAGkA", ""] },
    { name: "x-uuencode text", lines: [...HEAD, "Content-Type: text/plain", "Content-Transfer-Encoding: x-uuencode", "", "begin 644 a", "end", ""] },
    {
      name: "multipart/mixed without its closing boundary",
      lines: [...HEAD, 'Content-Type: multipart/mixed; boundary="b"', "", "--b", "Content-Type: text/plain", "", "hello", ""],
    },
    { name: "multipart without a boundary parameter", lines: [...HEAD, "Content-Type: multipart/mixed", "", "hello", ""] },
  ];
  for (const c of unchangedCases) {
    it(c.name, () => {
      const mail = Buffer.from(c.lines.join("\r\n"), "latin1");
      const r = addFootnote(mail, NOTE);
      expect(r.added).toBe(false);
      expect(r.mail.equals(mail)).toBe(true);
    });
  }

  it("a footnote text with nothing printable adds nothing", () => {
    const mail = Buffer.from("From: a\r\n\r\nhi\r\n");
    expect(addFootnote(mail, "\u0007\r\n\t  \n")).toEqual({ mail, added: false });
  });

  it("garbage and truncated mail never throw", () => {
    const mail = Buffer.from(cases[9].mail("\r\n").join("\r\n"), "utf8");
    for (let cut = 0; cut <= mail.length; cut += 31) {
      const piece = mail.subarray(0, cut);
      const r = addFootnote(piece, NOTE);
      if (r.added) expect(pythonDefects(pythonParts(r.mail))).toEqual([]);
      else expect(r.mail.equals(piece)).toBe(true);
    }
  });
});

describe("footnote text", () => {
  it("\\n (escaped or real) starts a new line; controls and non-ASCII are neutralised", () => {
    expect(footnoteLines("one\\ntwo\nthree\r\nfour")).toEqual(["one", "two", "three", "four"]);
    expect(footnoteLines("a\tb\u0007c é\u202e")).toEqual(["a bc ??"]);
    expect(footnoteLines("\n\nx\n\n")).toEqual(["x"]);
    expect(footnoteLines("x".repeat(5000)).join("").length).toBe(MAX_FOOTNOTE_CHARS);
  });

  it("a hostile footnote cannot add header fields or markup", () => {
    const mail = Buffer.from([...HEAD, "Content-Type: text/html", "", "<html><body>x</body></html>", ""].join("\r\n"));
    const r = addFootnote(mail, "<script>alert(1)</script>&\nline2");
    const html = texts(pythonParts(r.mail), "text/html")[0];
    expect(html).toContain("<p>&lt;script&gt;alert(1)&lt;/script&gt;&amp;<br>line2</p>");
    expect(html).not.toContain("<script>");
  });

  it("quoted-printable encoding: =, trailing spaces, long lines and 8-bit bytes round-trip", () => {
    const data = Buffer.from(`a=b \nline with trailing tab\t\n${"y".repeat(200)}\nGrüße\n`, "utf8");
    const encoded = encodeQuotedPrintable(data, "\r\n");
    for (const line of encoded.split("\r\n")) expect(line.length).toBeLessThanOrEqual(76);
    expect(encoded).toMatch(/^[\x20-\x7e\r\n]*$/);
    const mail = Buffer.from(`Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n${encoded}`);
    const py = pythonParts(mail);
    expect(norm(py[0].text)).toBe(data.toString("utf8"));
  });
});
