/**
 * The anti-spam rule engine (host/spam/rules.ts): the rules file format and its errors (each
 * with file:line), every rule type hitting and missing, metas, sub-rules, re-scoring by a later
 * file, GTUBE through the shipped rules, bounded input, and evaluate never throwing.
 * Mails are built here, by hand as ParsedMail or as raw bytes through parseMail.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseMail } from "../../host/spam/message.js";
import { defaultRulesPath, loadRules, parseRules, RulesFileError } from "../../host/spam/rules.js";
import { MAX_BODY_TEXT } from "../../host/spam/rules-context.js";
import { hasNestedQuantifier } from "../../host/spam/rules-parse.js";
import type { MailHeader, ParsedMail } from "../../host/spam/types.js";

const GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "bulwark-rules-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function writeRules(name: string, text: string): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, text);
  return file;
}

function header(name: string, value: string, raw = value): MailHeader {
  return { name, lname: name.toLowerCase(), value, raw };
}

function mail(over: Partial<ParsedMail> = {}): ParsedMail {
  return {
    headers: [], subject: "", textParts: [], htmlParts: [], htmlText: [], uris: [], attachments: [],
    size: 0, truncated: false, ...over,
  };
}

const NO_RAW = Buffer.alloc(0);

function rules(text: string) {
  return parseRules([{ file: "t.rules", text }]);
}

function names(rs: ReturnType<typeof rules>, m: ParsedMail, raw: Buffer = NO_RAW): string[] {
  return rs.evaluate(m, raw).map((r) => r.name).sort();
}

function rawMail(headers: string, body: string): Buffer {
  return Buffer.from(`${headers.trim()}\r\n\r\n${body}`, "latin1");
}

describe("rules file format", () => {
  it("reads every statement, keeps descriptions and thresholds, defaults a score to 1.0", () => {
    const rs = rules(`# comment
   # indented comment

required_score 6.5
probable_score 2.5
body FOO /foo/i
describe FOO says foo
score FOO 2.5
body BAR /bar/
`);
    expect(rs.required).toBe(6.5);
    expect(rs.probable).toBe(2.5);
    const r = rs.evaluate(mail({ textParts: ["FOO and bar"] }), NO_RAW);
    expect(r).toEqual([
      { name: "FOO", score: 2.5, description: "says foo" },
      { name: "BAR", score: 1 },
    ]);
  });

  it("uses 5.0 and 3.0 when no file sets thresholds", () => {
    const rs = rules("body FOO /foo/\n");
    expect([rs.required, rs.probable]).toEqual([5, 3]);
  });

  const bad: Array<[string, string, RegExp]> = [
    ["unknown keyword", "body OK /x/\nfrobnicate X /y/\n", /bad\.rules:2: unknown keyword "frobnicate"/],
    ["bad rule name", "body lower_case /x/\n", /bad\.rules:1: body: bad rule name "lower_case"/],
    ["missing regex slashes", "\nbody X foo\n", /bad\.rules:2: expected \/pattern\/flags/],
    ["bad regex", "body X /a(b/\n", /bad\.rules:1: bad regex \/a\(b\//],
    ["stateful flag", "body X /a/g\n", /bad\.rules:1: bad regex flags "g"/],
    ["nested quantifier", "body X /(a+)+b/\n", /bad\.rules:1: .*catastrophic/],
    ["unknown eval function", "eval X no_such_check()\n", /bad\.rules:1: unknown eval function "no_such_check"/],
    ["bad eval argument", "eval X many_recipients(lots)\n", /bad\.rules:1: many_recipients: argument 1/],
    ["wrong eval arity", "eval X html_only(3)\n", /bad\.rules:1: html_only: takes 0 argument/],
    ["unknown rule in meta", "body A /a/\n\nmeta M A && NOPE\n", /bad\.rules:3: meta M reads unknown rule NOPE/],
    ["meta syntax", "body A /a/\nmeta M A && (A\n", /bad\.rules:2: meta: missing \)/],
    ["meta cycle", "meta M1 M2 || M3\nmeta M2 M1\nbody M3 /x/\n", /bad\.rules:\d: meta M\d is part of a cycle/],
    ["score for an undefined rule", "body A /a/\nscore B 1\n", /bad\.rules:2: score for undefined rule B/],
    ["describe for an undefined rule", "body A /a/\ndescribe AA typo\n", /bad\.rules:2: describe for undefined rule AA/],
    ["score not a number", "body A /a/\nscore A high\n", /bad\.rules:2: score: "high" is not a number/],
    ["threshold not a number", "required_score five\n", /bad\.rules:1: required_score: "five" is not a number/],
    ["defined twice in one file", "body A /a/\nbody A /b/\n", /bad\.rules:2: rule A is defined twice/],
    ["bad header form", "header A Subject ~ /a/\n", /bad\.rules:1: header: expected/],
  ];
  for (const [what, text, error] of bad) {
    it(`refuses ${what} with file:line`, () => {
      const file = writeRules("bad.rules", text);
      expect(() => loadRules([file])).toThrow(RulesFileError);
      expect(() => loadRules([file])).toThrow(error);
    });
  }

  it("names a file it cannot read", () => {
    const missing = path.join(tmp, "missing.rules");
    expect(() => loadRules([missing])).toThrow(new RegExp(`${missing.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: cannot read`));
  });

  it("detects nested unbounded quantifiers but accepts bounded and plain patterns", () => {
    for (const p of ["(a+)+", "(\\w+\\s?)*", "(?:.*x)*", "((ab)*c)+", "(a{2,})*", "(x+){1,}"]) expect(hasNestedQuantifier(p)).toBe(true);
    for (const p of ["(ab)+", "a+b*", "(?:[a-z0-9-]{1,63}\\.){1,10}", "(a+){2}", "[(a+)]+", "\\(a+\\)+", "(?:foo|bar)+"]) {
      expect(hasNestedQuantifier(p)).toBe(false);
    }
  });
});

describe("rule types", () => {
  it("header =~, !~, :raw, :exists and ALL", () => {
    const rs = rules(`header SUBJ Subject =~ /^hello/i
header NO_XM X-Mailer !~ /mutt/i
header RAW_ENC Subject:raw =~ /=\\?utf-8\\?/i
header HAS_LIST List-Id:exists
header ANY ALL =~ /^X-Spam-Bait: yes$/m
`);
    const m1 = mail({ headers: [header("Subject", "Hello there", "=?utf-8?Q?Hello?= there"), header("List-Id", "<l.example>"), header("X-Spam-Bait", "yes")] });
    expect(names(rs, m1)).toEqual(["ANY", "HAS_LIST", "NO_XM", "RAW_ENC", "SUBJ"]);
    const m2 = mail({ headers: [header("Subject", "bye"), header("X-Mailer", "Mutt/1.4")] });
    expect(names(rs, m2)).toEqual([]);
  });

  it("header rules see every field of a name, one per line", () => {
    const rs = rules("header SECOND Received =~ /^from b\\b/m\n");
    expect(names(rs, mail({ headers: [header("Received", "from a"), header("Received", "from b")] }))).toEqual(["SECOND"]);
    expect(names(rs, mail({ headers: [header("Received", "from a")] }))).toEqual([]);
  });

  it("body sees subject, text and HTML text but not markup; rawbody sees markup", () => {
    const rs = rules(`body B_WORD /\\bbargain\\b/
body B_SUBJ /^Cheap/
body B_TAG /<font/
rawbody R_TAG /<font color=red>/
rawbody R_TEXT /plain words/
`);
    const html = mail({ subject: "Cheap stuff", htmlParts: ["<p><font color=red>a bargain</font></p>"], htmlText: ["a bargain"] });
    expect(names(rs, html)).toEqual(["B_SUBJ", "B_WORD", "R_TAG"]);
    expect(names(rs, mail({ textParts: ["plain words"] }))).toEqual(["R_TEXT"]);
  });

  it("uri rules test each URI; full rules test the raw bytes", () => {
    const rs = rules("uri U_IP /^http:\\/\\/\\d+\\.\\d+\\.\\d+\\.\\d+\\//\nfull F_HDR /^X-Raw-Only: 1/m\n");
    const m = mail({ uris: ["http://example.com/", "http://10.1.2.3/x"] });
    expect(names(rs, m, Buffer.from("Subject: x\r\nX-Raw-Only: 1\r\n\r\nbody"))).toEqual(["F_HDR", "U_IP"]);
    expect(names(rs, mail({ uris: ["http://example.com/10.1.2.3/"] }), Buffer.from("Subject: x\r\n\r\n"))).toEqual([]);
  });

  it("eval functions hit and miss", () => {
    const rs = rules(`eval HTML_ONLY html_only()
eval CAPS subject_all_caps()
eval MANY many_recipients(3)
eval NO_DATE missing_header(Date)
eval FUTURE date_in_future_hours(12)
eval PAST date_in_past_hours(48)
eval MISMATCH uri_text_domain_mismatch()
eval IMG image_only(50)
eval RATIO html_text_ratio_below(0.1)
eval NAME_ADDR from_name_address_mismatch()
eval BOUNDARY mime_boundary_suspicious()
eval SHOUT body_caps_ratio_above(0.6, 20)
`);
    const spammy = mail({
      subject: "FREE MONEY FOR YOU NOW",
      headers: [
        header("To", "a@x.example, b@x.example"),
        header("Cc", "c@x.example"),
        header("From", '"support@bank.example" <x@evil.example>'),
        header("Received", "from a by b; Tue, 1 Oct 2002 10:00:00 +0000"),
        header("Date", "Wed, 2 Oct 2002 10:00:00 +0000"),
        header("Content-Type", 'multipart/alternative; boundary="zzz"'),
      ],
      htmlParts: [`<a href="http://evil.example/login">http://www.bank.example/</a>${"<br>".repeat(200)}<img src="http://x/y.gif">`],
      htmlText: ["http://www.bank.example/ BUY NOW CHEAP PILLS"],
    });
    expect(names(rs, spammy, Buffer.from("Subject: x\r\n\r\nno boundary used"))).toEqual(
      ["BOUNDARY", "CAPS", "FUTURE", "HTML_ONLY", "IMG", "MANY", "MISMATCH", "NAME_ADDR", "RATIO", "SHOUT"],
    );
    const calm = mail({
      subject: "Meeting notes for Tuesday",
      headers: [
        header("To", "a@x.example"),
        header("From", "Ann <ann@x.example>"),
        header("Received", "from a by b; Tue, 1 Oct 2002 10:00:00 +0000"),
        header("Date", "Tue, 1 Oct 2002 09:59:00 +0000"),
        header("Content-Type", 'multipart/alternative; boundary="zzz"'),
      ],
      textParts: ["See you there. The agenda is attached."],
      htmlParts: ['<p>See <a href="http://www.x.example/a">www.x.example</a></p>'],
      htmlText: ["See www.x.example"],
    });
    expect(names(rs, calm, Buffer.from("Content-Type: multipart/alternative; boundary=\"zzz\"\r\n\r\n--zzz\r\n"))).toEqual([]);
    const old = mail({ headers: [header("Received", "x; Tue, 8 Oct 2002 10:00:00 +0000"), header("Date", "Tue, 1 Oct 2002 10:00:00 +0000")] });
    expect(names(rs, old)).toEqual(["PAST"]);
    expect(names(rs, mail({ headers: [header("Received", "x; Tue, 1 Oct 2002 10:00:00 +0000")] }))).toEqual(["NO_DATE"]);
  });

  it("subject_names_recipient_domain compares the Subject with the To domains", () => {
    const rs = rules("eval SUBJ_DOM subject_names_recipient_domain()\n");
    const to = header("To", "Jo <jo@mail.example.org>, al@other.example");
    expect(names(rs, mail({ subject: "I visited EXAMPLE.ORG today", headers: [to] }))).toEqual(["SUBJ_DOM"]);
    expect(names(rs, mail({ subject: "I visited example.com today", headers: [to] }))).toEqual([]);
    expect(names(rs, mail({ subject: "", headers: [to] }))).toEqual([]);
  });

  it("compares Date with the Received date, never with the clock", () => {
    const rs = rules("eval FUTURE date_in_future_hours(12)\n");
    // both dates far in the future of the test's clock: consistent, so no hit
    const consistent = mail({ headers: [header("Received", "x; Mon, 1 Jan 2091 00:00:00 +0000"), header("Date", "Mon, 1 Jan 2091 01:00:00 +0000")] });
    expect(names(rs, consistent)).toEqual([]);
    // both in the distant past, Date two days after Received: a hit
    const ahead = mail({ headers: [header("Received", "x; Tue, 1 Oct 2002 10:00:00 +0000"), header("Date", "Thu, 3 Oct 2002 10:00:00 +0000")] });
    expect(names(rs, ahead)).toEqual(["FUTURE"]);
  });
});

describe("combined gates", () => {
  it("never change results: a group of rules gives the same hits as each rule alone", () => {
    const lines = [
      "body G1 /\\bcheap (?:pills|meds)\\b/i",
      "body G2 /^Subject line/m",
      "body G3 /free\\s+money/i",
      "body G4 /(\\w)\\1{3}/i", // backreference: kept out of the gate, still works
      "body G5 /limited.offer/is",
      "body G6 /\\d{3}-\\d{4}/i",
      "rawbody R1 /<b>/i",
      "rawbody R2 /<i>/i",
      "rawbody R3 /<u>/i",
      "full F1 /^X-A: 1/m",
      "full F2 /^X-B: 2/m",
      "full F3 /zzz$/m",
    ];
    const together = rules(lines.join("\n"));
    const alone = lines.map((l) => rules(l));
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const words = ["cheap pills", "CHEAP MEDS", "free   money", "aaaa", "limited\noffer", "555-1234", "Subject line", "<b>", "<I>", "<u>", "plain", "text", "\n"];
    let sawHit = 0;
    let sawMiss = 0;
    for (let i = 0; i < 300; i++) {
      const pick = () => words[Math.floor(rand() * words.length)]!;
      const text = Array.from({ length: Math.floor(rand() * 4) }, pick).join(" ");
      const html = Array.from({ length: Math.floor(rand() * 3) }, pick).join("");
      const raw = Buffer.from(`${rand() < 0.3 ? "X-A: 1\n" : ""}${rand() < 0.3 ? "X-B: 2\n" : ""}\n${text}${rand() < 0.3 ? "zzz" : ""}`);
      const m = mail({ textParts: [text], htmlParts: [html] });
      const got = names(together, m, raw);
      const want = alone.flatMap((rs) => names(rs, m, raw)).sort();
      expect(got).toEqual(want);
      if (got.length) sawHit++;
      else sawMiss++;
    }
    expect(sawHit).toBeGreaterThan(50);
    expect(sawMiss).toBeGreaterThan(10);
  });
});

describe("metas, sub-rules and later files", () => {
  it("evaluates &&, ||, !, parentheses, + and comparisons", () => {
    const rs = rules(`body __A /a1/
body __B /b1/
body __C /c1/
meta AND __A && __B
meta OR __A || __B
meta NOT_A !__A
meta PAREN (__A || __B) && !__C
meta TWO_OF __A + __B + __C >= 2
meta EXACTLY_ONE __A + __B + __C == 1
meta NESTED AND && !(OR && __C)
`);
    const hits = (text: string) => names(rs, mail({ textParts: [text] }));
    expect(hits("a1")).toEqual(["EXACTLY_ONE", "OR", "PAREN"]);
    expect(hits("a1 b1")).toEqual(["AND", "NESTED", "OR", "PAREN", "TWO_OF"]);
    expect(hits("a1 b1 c1")).toEqual(["AND", "OR", "TWO_OF"]);
    expect(hits("c1")).toEqual(["EXACTLY_ONE", "NOT_A"]);
    expect(hits("")).toEqual(["NOT_A"]);
  });

  it("never reports sub-rules, even when a file scores them", () => {
    const rs = rules("body __SUB /x/\nscore __SUB 5\nmeta M __SUB\n");
    expect(rs.evaluate(mail({ textParts: ["x"] }), NO_RAW)).toEqual([{ name: "M", score: 1 }]);
  });

  it("a later file re-scores, disables, replaces and adds rules and moves thresholds", () => {
    const base = writeRules("base.rules", `required_score 5
body KEEP /keep/
score KEEP 1.5
body OFF /off/
score OFF 2
body REPL /old/
score REPL 1
body __PART /part/
meta USES_OFF OFF && __PART
score USES_OFF 0.5
`);
    const admin = writeRules("admin.rules", `required_score 7.5
score KEEP 3
score OFF 0
body REPL /new/
body MINE /mine/
score MINE -1
`);
    const text = "keep off old new mine part";
    const before = loadRules([base]).evaluate(mail({ textParts: [text] }), NO_RAW);
    expect(before.map((r) => `${r.name}=${r.score}`).sort()).toEqual(["KEEP=1.5", "OFF=2", "REPL=1", "USES_OFF=0.5"]);
    const rs = loadRules([base, admin]);
    expect(rs.required).toBe(7.5);
    const after = rs.evaluate(mail({ textParts: [text] }), NO_RAW);
    // OFF is disabled but still runs for the meta that reads it; REPL keeps its score with the new regex
    expect(after.map((r) => `${r.name}=${r.score}`).sort()).toEqual(["KEEP=3", "MINE=-1", "REPL=1", "USES_OFF=0.5"]);
    expect(rs.evaluate(mail({ textParts: ["old"] }), NO_RAW)).toEqual([]);
  });
});

describe("the shipped rules", () => {
  const shipped = loadRules([defaultRulesPath()]);

  it("resolve from the package root and load without error", () => {
    expect(fs.existsSync(defaultRulesPath())).toBe(true);
    expect(defaultRulesPath()).toMatch(/host[/\\]spam[/\\]rules[/\\]default\.rules$/);
    expect(shipped.required).toBe(5);
    expect(shipped.activeRules).toContain("GTUBE");
  });

  const headers = "From: a@example.com\r\nTo: b@example.org\r\nSubject: test\r\nDate: Tue, 1 Oct 2002 10:00:00 +0000\r\nMessage-ID: <1@example.com>";

  it("GTUBE in a plain body scores 1000", () => {
    const raw = rawMail(headers, `Hello\r\n${GTUBE}\r\n`);
    const r = shipped.evaluate(parseMail(raw), raw);
    expect(r.find((x) => x.name === "GTUBE")?.score).toBe(1000);
  });

  it("GTUBE hits in a base64 body (decoded text) and in an attachment (raw text)", () => {
    const b64 = rawMail(`${headers}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64`,
      Buffer.from(`Some text ${GTUBE} more`).toString("base64"));
    expect(b64.includes(GTUBE)).toBe(false);
    expect(shipped.evaluate(parseMail(b64), b64).map((r) => r.name)).toContain("GTUBE");
    const att = rawMail(`${headers}\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b1"`,
      `--b1\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n--b1\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="t.bin"\r\n\r\n${GTUBE}\r\n--b1--\r\n`);
    expect(shipped.evaluate(parseMail(att), att).map((r) => r.name)).toContain("GTUBE");
  });

  it("a mail without GTUBE does not hit it", () => {
    const raw = rawMail(headers, "XJS*C4JDBQADN1 is only half of it\r\n");
    expect(shipped.evaluate(parseMail(raw), raw).map((r) => r.name)).not.toContain("GTUBE");
  });

  it("score a typical reply as ham and a generated pitch as spam", () => {
    const reply = rawMail(
      `${headers}\r\nIn-Reply-To: <0@example.org>\r\nReferences: <0@example.org>\r\nUser-Agent: Mutt/1.4i`,
      "On Mon, Bob wrote:\r\n> can we meet?\r\n> tomorrow?\r\n\r\nYes, at ten.\r\n",
    );
    const hamScore = shipped.evaluate(parseMail(reply), reply).reduce((s, r) => s + r.score, 0);
    expect(hamScore).toBeLessThan(shipped.probable);
    const pitch = rawMail(
      "From: Deals <deals4u12345@hotmail.com>\r\nTo: undisclosed-recipients:;\r\nSubject: MAKE MONEY FAST                      7731\r\n" +
        "Date: Tue, 1 Oct 2002 10:00:00 -1900\r\nMessage-ID: <x>\r\nX-Priority: 1",
      "Dear Friend,\r\nThis is not spam. Earn $5,000 a week from home! 100% guaranteed, risk-free.\r\n" +
        "Act now! To be removed from our list reply with REMOVE in the subject.\r\n",
    );
    const result = shipped.evaluate(parseMail(pitch), pitch);
    expect(result.reduce((s, r) => s + r.score, 0)).toBeGreaterThanOrEqual(shipped.required);
    expect(result.map((r) => r.name)).toEqual(expect.arrayContaining(["SUBJ_PADDED", "DATE_TZ_ABSURD", "NOT_SPAM_CLAIM"]));
  });
});

describe("safety", () => {
  it("a 50 MB body is read only up to the limits and still hits GTUBE placed early", () => {
    const shipped = loadRules([defaultRulesPath()]);
    const head = "From: a@example.com\r\nTo: b@example.org\r\nSubject: big\r\n\r\n";
    const raw = Buffer.alloc(50 * 1024 * 1024, 0x61); // 'a'
    raw.write(head, 0, "latin1");
    raw.write(` ${GTUBE} `, head.length + 100, "latin1");
    for (let i = head.length + 1000; i < raw.length; i += 77) raw[i] = 0x0a; // lines, like real text
    const r = shipped.evaluate(parseMail(raw), raw);
    expect(r.map((x) => x.name)).toContain("GTUBE");
    // the same bound applies to hand-built text: a rule sees no more than MAX_BODY_TEXT characters
    const rs = rules(`body LATE /zz$/\nbody EARLY /^GT/\n`);
    const huge = "GT" + "x".repeat(MAX_BODY_TEXT * 4) + "zz";
    expect(names(rs, mail({ textParts: [huge] }))).toEqual(["EARLY"]);
  });

  it("evaluate never throws on garbage bytes or malformed parsed mail", () => {
    const shipped = loadRules([defaultRulesPath()]);
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    for (let i = 0; i < 200; i++) {
      const len = Math.floor(rand() * 4000);
      const raw = Buffer.alloc(len);
      for (let j = 0; j < len; j++) raw[j] = rand() < 0.3 ? "\r\n:<>=-\"; \t"[Math.floor(rand() * 11)]!.charCodeAt(0) : Math.floor(rand() * 256);
      if (i % 3 === 0) raw.write("Content-Type: multipart/mixed; boundary=\nDate: ;;;\nReceived: ;\n\n", 0, "latin1");
      const reasons = shipped.evaluate(parseMail(raw), raw);
      expect(Array.isArray(reasons)).toBe(true);
    }
    const broken = [
      {} as ParsedMail,
      { headers: [null, { name: 1 }], textParts: [null], htmlParts: "x", uris: [3] } as unknown as ParsedMail,
      null as unknown as ParsedMail,
      mail({ headers: [header("Date", "\u0000\uffff"), header("Received", ";;;;"), header("From", '"' + "@".repeat(5000))] }),
    ];
    for (const m of broken) expect(Array.isArray(shipped.evaluate(m, undefined as unknown as Buffer))).toBe(true);
  });
});
