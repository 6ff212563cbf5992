import { describe, expect, it } from "vitest";
import { MAX_HEADER_FIELDS, MAX_HEADER_FIELD_BYTES, MAX_TEXT_BYTES, MAX_URIS, parseMail, parseMailStrict } from "../../host/spam/message.js";
import { decodeEntities, decodeHeaderValue, decodeText } from "../../host/spam/text-decode.js";
import { uriHost } from "../../host/spam/uris.js";
import { deepMimeNesting, longBoundary, longHeaderLine, manyHeaders, manyParts } from "../helpers/mime-bombs.js";
import { mutants } from "../helpers/mutations.js";
import { Rng } from "../helpers/random-data.js";

/** A mail from lines written with \n, sent with CRLF, bytes taken as latin1. */
const mail = (s: string) => Buffer.from(s.replace(/\n/g, "\r\n"), "latin1");
const b64 = (data: Buffer | string) => (Buffer.from(data).toString("base64").match(/.{1,76}/g) ?? []).join("\r\n");

describe("headers", () => {
  it("strips the mbox From line, unfolds, decodes B and Q encoded-words and keeps the raw form", () => {
    const m = parseMail(mail(
      "From someone@example.com  Thu Aug 22 13:17:22 2002\n" +
      "Subject: =?utf-8?B?R3LDvMOfZQ==?=\n  =?utf-8?Q?_aus_K=C3=B6ln?= und\n\tmehr\n" +
      "From: =?iso-8859-1?q?Ren=E9?= <rene@example.org>\n" +
      "X-Odd: =?x-unknown-charset?Q?caf=E9?=\n\nbody\n",
    ));
    expect(m.headers.map((h) => h.lname)).toEqual(["subject", "from", "x-odd"]);
    expect(m.subject).toBe("Grüße aus Köln und\tmehr");
    const subject = m.headers[0];
    expect(subject.raw).toBe("=?utf-8?B?R3LDvMOfZQ==?=  =?utf-8?Q?_aus_K=C3=B6ln?= und\tmehr");
    expect(m.headers[1].value).toBe("René <rene@example.org>");
    expect(m.headers[2].value).toBe("caf\u00e9"); // unknown charset: latin1, no byte lost
    expect(m.textParts).toEqual(["body\r\n"]);
  });

  it("joins a UTF-8 character split across two encoded-words and keeps text between words", () => {
    // "é" is C3 A9: split over two B words
    expect(decodeHeaderValue("=?UTF-8?B?w6==?= =?UTF-8?B?qQ==?=")).not.toContain("\ufffd");
    expect(decodeHeaderValue("=?utf-8?Q?a=C3?= =?utf-8?Q?=A9b?=")).toBe("aéb");
    expect(decodeHeaderValue("x =?utf-8?Q?y?= z")).toBe("x y z");
  });

  it("reads 8-bit header bytes as UTF-8 when valid, else latin1", () => {
    const m = parseMail(Buffer.concat([Buffer.from("Subject: "), Buffer.from("Größe", "utf8"), Buffer.from("\r\nX: "), Buffer.from([0x47, 0xf6]), Buffer.from("\r\n\r\nb")]));
    expect(m.subject).toBe("Größe");
    expect(m.headers[1].value).toBe("Gö");
  });
});

describe("bodies", () => {
  it("decodes quoted-printable with soft line breaks in the declared charset", () => {
    const m = parseMail(mail(
      "Content-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\n" +
      "Sch=F6ne Gr=FC=DFe, this line is soft=\nly broken =3D ok\n",
    ));
    expect(m.textParts[0]).toBe("Schöne Grüße, this line is softly broken = ok\r\n");
  });

  it("decodes base64 with junk characters and odd line lengths", () => {
    const text = "Buy cheap watches now, best offer";
    const enc = Buffer.from(text).toString("base64");
    const junky = enc.slice(0, 10) + " !\t" + enc.slice(10, 23) + "\r\n*" + enc.slice(23);
    const m = parseMail(mail(`Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\n${junky}\n`));
    expect(m.textParts[0]).toBe(text);
  });

  it("decodes charsets: windows-1252, koi8-r, gb2312, and latin1 for unknown ones", () => {
    expect(decodeText(Buffer.from([0x93, 0x68, 0x69, 0x94]), "windows-1252")).toBe("\u201chi\u201d");
    expect(decodeText(Buffer.from([0xf0, 0xd2, 0xc9, 0xd7, 0xc5, 0xd4]), "koi8-r")).toBe("Привет");
    expect(decodeText(Buffer.from([0xc4, 0xe3, 0xba, 0xc3]), "gb2312")).toBe("你好");
    expect(decodeText(Buffer.from([0x63, 0xe9]), "x-made-up")).toBe("cé");
    // undeclared 8-bit: UTF-8 when valid, else windows-1252
    expect(decodeText(Buffer.from("née", "utf8"), "")).toBe("née");
    expect(decodeText(Buffer.from([0x6e, 0xe9, 0x65]), "")).toBe("née");
  });

  it("walks nested multiparts, message/rfc822 parts and attachments", () => {
    const m = parseMail(mail(
      "From: a@example.com\nSubject: outer\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"outer\"\n\n" +
      "preamble is not text\n" +
      "--outer\nContent-Type: multipart/alternative; boundary=inner\n\n" +
      "--inner\nContent-Type: text/plain; charset=utf-8\n\nplain version\n" +
      "--inner\nContent-Type: text/html\nContent-Transfer-Encoding: base64\n\n" +
      b64("<p>html <b>version</b> <a href=\"http://html.example.net/x\">link</a></p>") + "\n" +
      "--inner--\n" +
      "--outer\nContent-Type: application/pdf; name=\"offer.pdf\"\nContent-Disposition: attachment\nContent-Transfer-Encoding: base64\n\n" +
      b64(Buffer.alloc(570, 1)) + "\n" +
      "--outer\nContent-Type: message/rfc822\n\nSubject: inner subject\nFrom: b@example.com\n\ninner body www.inner.example.com/page\n" +
      "--outer--\nepilogue is not text\n",
    ));
    expect(m.subject).toBe("outer");
    expect(m.headers.map((h) => h.lname)).toEqual(["from", "subject", "mime-version", "content-type"]);
    expect(m.textParts).toEqual(["plain version", "inner subject", "inner body www.inner.example.com/page"]);
    expect(m.htmlParts).toEqual(['<p>html <b>version</b> <a href="http://html.example.net/x">link</a></p>']);
    expect(m.htmlText[0].trim()).toBe("html version link");
    expect(m.attachments).toHaveLength(1);
    expect(m.attachments[0].contentType).toBe("application/pdf");
    expect(m.attachments[0].filename).toBe("offer.pdf");
    expect(Math.abs(m.attachments[0].size - 570)).toBeLessThan(20);
    expect(m.uris.sort()).toEqual(["http://html.example.net/x", "www.inner.example.com/page"]);
    expect(m.truncated).toBe(false);
  });

  it("reads a multipart whose boundary never occurs as text, and an unclosed last part to the end", () => {
    const noBoundary = parseMail(mail("Content-Type: multipart/mixed; boundary=zz\n\njust text\n"));
    expect(noBoundary.textParts).toEqual(["just text\r\n"]);
    const unclosed = parseMail(mail("Content-Type: multipart/mixed; boundary=zz\n\n--zz\n\nfirst\n--zz\nContent-Type: text/plain\n\nsecond, cut"));
    expect(unclosed.textParts).toEqual(["first", "second, cut"]);
  });

  it("treats an undeclared body that starts like an HTML document as HTML", () => {
    const m = parseMail(mail("Subject: x\n\n<html><body>Hello <i>there</i></body></html>\n"));
    expect(m.htmlParts).toHaveLength(1);
    expect(m.htmlText[0]).toContain("Hello there");
    expect(m.textParts).toEqual([]);
  });
});

describe("HTML to text", () => {
  it("drops script, style, comments and tags, decodes entities, keeps word boundaries right", () => {
    const html =
      "<html><head><style>p { color: red }</style><script>var hidden = 'secret';</script></head>" +
      "<body>V<b></b>ia<!-- noise -->gra &amp; caf&eacute; &#65;&#x42;&#X43; 5&nbsp;&lt;6" +
      "<table><tr><td>cheap</td><td>meds</td></tr></table>" +
      "<form action='http://form.example.com/post'><img src=http://img.example.com/a.gif></form>" +
      "<a href='#top'>top</a><img src=\"cid:part1@x\"><a href=\"javascript:void(0)\">js</a></body></html>";
    const m = parseMail(mail(`Content-Type: text/html\n\n${html}`));
    const text = m.htmlText[0].replace(/[ \t\r\n]+/g, " ").trim();
    expect(text).toBe("Viagra & café ABC 5\u00a0<6 cheap meds top js");
    expect(text).not.toContain("secret");
    expect(m.uris.sort()).toEqual(["http://form.example.com/post", "http://img.example.com/a.gif"]);
  });

  it("decodes character references like a browser", () => {
    expect(decodeEntities("&#x263a; &#9731; &copy &unknown; &amp &#0; &#xD800;")).toBe("\u263a \u2603 \u00a9 &unknown; & \ufffd \ufffd");
  });

  it("extracts URI hosts", () => {
    expect(uriHost("http://user:pw@Sub.Example.COM:8080/path?q")).toBe("sub.example.com");
    expect(uriHost("www.example.org/x")).toBe("www.example.org");
    expect(uriHost("mailto:me@mail.example.net")).toBe("mail.example.net");
    expect(uriHost("http://%65xample.com/")).toBe("example.com");
    expect(uriHost("//cdn.example.com/x.js")).toBe("cdn.example.com");
    expect(uriHost("not a uri")).toBe("");
  });
});

describe("bounds", () => {
  it("stops a 100,000-deep nesting bomb", () => {
    const m = parseMailStrict(deepMimeNesting(100_000));
    expect(m.truncated).toBe(true);
  });

  it("keeps MAX_HEADER_FIELDS of a million headers", () => {
    const m = parseMailStrict(manyHeaders(1_000_000));
    expect(m.headers).toHaveLength(MAX_HEADER_FIELDS);
    expect(m.truncated).toBe(true);
  });

  it("stops a 100,000-part multipart", () => {
    const m = parseMailStrict(manyParts(100_000));
    expect(m.truncated).toBe(true);
    expect(m.textParts.length).toBeLessThan(200);
  });

  it("caps a 10 MB header line and survives a 1 MB boundary", () => {
    const long = parseMailStrict(longHeaderLine(10 * 1024 * 1024));
    expect(long.truncated).toBe(true);
    expect(long.subject.length).toBeLessThanOrEqual(MAX_HEADER_FIELD_BYTES);
    expect(long.attachments.map((a) => a.filename)).toEqual(["payload.bin"]);
    // the Content-Type field is cut at MAX_HEADER_FIELD_BYTES, so the boundary is never
    // found and the body is read as text (RFC 2046 allows 70 characters)
    const boundary = parseMailStrict(longBoundary(1024 * 1024));
    expect(boundary.truncated).toBe(true);
    expect(boundary.textParts[0].startsWith("--xxxxxxxx")).toBe(true);
    expect(boundary.textParts[0].length).toBeLessThanOrEqual(MAX_TEXT_BYTES);
  });

  it("caps decoded text at MAX_TEXT_BYTES and URIs at MAX_URIS", () => {
    const big = parseMailStrict(mail(`Content-Type: text/plain\n\n${"word ".repeat(MAX_TEXT_BYTES / 2)}`));
    expect(big.truncated).toBe(true);
    expect(big.textParts[0].length).toBeLessThanOrEqual(MAX_TEXT_BYTES);
    const links = Array.from({ length: 3 * MAX_URIS }, (_, i) => `http://h${i}.example.com/`).join(" ");
    const many = parseMailStrict(mail(`Content-Type: text/plain\n\n${links}\n`));
    expect(many.uris).toHaveLength(MAX_URIS);
    expect(many.truncated).toBe(true);
  });

  it("never throws on random bytes, truncations and byte flips of a real-looking mail", () => {
    const rng = new Rng(5);
    for (let i = 0; i < 200; i++) {
      const junk = Buffer.alloc(rng.int(0, 4000));
      for (let j = 0; j < junk.length; j++) junk[j] = rng.int(0, 255);
      // random bytes, and random bytes after a plausible multipart header
      parseMailStrict(junk);
      parseMailStrict(Buffer.concat([mail("Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/html\n\n<a href="), junk]));
    }
    const sample = mail(
      "From: a@example.com\nSubject: =?utf-8?B?w6k=?=\nContent-Type: multipart/mixed; boundary=b\n\n--b\n" +
      "Content-Type: text/html; charset=koi8-r\nContent-Transfer-Encoding: quoted-printable\n\n<p>=F0=D2 &#x41;<a href=3D'http://x.example/'>x</a>\n" +
      "--b\nContent-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n" + b64("Subject: in\n\nbody") + "\n--b--\n",
    );
    const whole = parseMailStrict(sample);
    expect(whole.textParts).toEqual(["in", "body"]);
    for (const mutant of mutants(sample, { seed: 7, flips: 300 })) {
      const m = parseMailStrict(Buffer.from(mutant.data));
      expect(m.size).toBe(mutant.data.length);
    }
  });
});
