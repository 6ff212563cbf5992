/**
 * agents/smtp/data-reader.ts: end-of-data only on <CRLF>.<CRLF>, dot-unstuffing, bare CR/LF
 * normalised, size bound, and the relay re-encoder. Every table case is fed whole, split at every
 * byte offset, byte by byte and in random pieces, and must give the same result each time.
 */
import { describe, expect, it } from "vitest";
import { DataReader, encodeForRelay, RelayEncoder } from "../../agents/smtp/data-reader.js";

const BIG = 1 << 20;
const b = (s: string) => Buffer.from(s, "latin1");
const s = (x: Buffer) => x.toString("latin1");

interface Outcome {
  done: boolean;
  body?: string;
  rest?: string;
  tooBig?: boolean;
  size?: number;
  bareLineEnds?: number;
  nulBytes?: number;
  overlongLines?: number;
}

function feed(pieces: Buffer[], limit = BIG): Outcome {
  const r = new DataReader(limit);
  for (const [k, p] of pieces.entries()) {
    const rest = r.push(p);
    if (rest !== null) {
      const res = r.result();
      const after = Buffer.concat([rest, ...pieces.slice(k + 1)]);
      return { done: true, body: s(res.body), rest: s(after), tooBig: res.tooBig, size: res.size,
        bareLineEnds: res.bareLineEnds, nulBytes: res.nulBytes, overlongLines: res.overlongLines };
    }
  }
  return { done: false };
}

/** Deterministic PRNG so a failure can be replayed. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    return x / 2 ** 32;
  };
}

/** Every way of feeding `input` this file checks; each must give the same outcome. */
function allFeedings(input: Buffer, seed = 7): Buffer[][] {
  const ways: Buffer[][] = [[input]];
  for (let k = 0; k <= input.length; k++) ways.push([input.subarray(0, k), input.subarray(k)]);
  ways.push([...input].map((x) => Buffer.from([x])));
  const rand = rng(seed);
  for (let t = 0; t < 5; t++) {
    const pieces: Buffer[] = [];
    for (let i = 0; i < input.length; ) {
      const n = Math.floor(rand() * 7);
      pieces.push(input.subarray(i, i + n));
      i += n;
    }
    ways.push(pieces);
  }
  return ways;
}

function expectSplitSafe(input: Buffer, limit = BIG): Outcome {
  const whole = feed([input], limit);
  for (const way of allFeedings(input)) expect(feed(way, limit)).toEqual(whole);
  return whole;
}

/**
 * Independent reference written with string operations: the message is what precedes the first
 * "\r\n.\r\n" of "\r\n"+input; real lines are split on CRLF; a real line starting with "." loses
 * it when another character follows that is not CR/LF; then each bare CR/LF becomes CRLF.
 */
function reference(input: string): { body: string; rest: string } | null {
  const t = "\r\n" + input;
  const idx = t.indexOf("\r\n.\r\n");
  if (idx < 0) return null;
  const message = t.slice(2, idx + 2);
  const lines = message.split("\r\n").map((line) => {
    const unstuffed = line.length > 1 && line[0] === "." && line[1] !== "\r" && line[1] !== "\n" ? line.slice(1) : line;
    return unstuffed.replace(/\r|\n/g, "\r\n");
  });
  return { body: lines.join("\r\n"), rest: t.slice(idx + 5) };
}

describe("DataReader: ordinary DATA", () => {
  const table: Array<[string, string, string, string]> = [
    ["simple message", "Subject: x\r\n\r\nhello\r\n.\r\n", "Subject: x\r\n\r\nhello\r\n", ""],
    ["empty message", ".\r\n", "", ""],
    ["one empty line", "\r\n.\r\n", "\r\n", ""],
    ["pipelined commands after the end", "a\r\n.\r\nQUIT\r\n", "a\r\n", "QUIT\r\n"],
    ["dot-unstuffing", "..x\r\n..\r\n...\r\n.\r\n", ".x\r\n.\r\n..\r\n", ""],
    ["a dot inside a line is text", "a.b\r\n .\r\n.\r\n", "a.b\r\n .\r\n", ""],
    ["only the first terminator counts", "a\r\n.\r\nb\r\n.\r\n", "a\r\n", "b\r\n.\r\n"],
    ["CR CR LF: first CR bare, then a real end", "a\r\r\n.\r\n", "a\r\n\r\n", ""],
    ["lone dot ended by bare LF at the start", ".\nb\r\n.\r\n", ".\r\nb\r\n", ""],
    ["dot after bare LF is kept", "a\n.x\r\n.\r\n", "a\r\n.x\r\n", ""],
    ["8-bit bytes pass", "caf\xe9\xff\r\n.\r\n", "caf\xe9\xff\r\n", ""],
  ];
  for (const [name, input, body, rest] of table) {
    it(name, () => {
      const out = expectSplitSafe(b(input));
      expect(out.done).toBe(true);
      expect(out.body).toBe(body);
      expect(out.rest).toBe(rest);
      expect(out.tooBig).toBe(false);
      expect(out.size).toBe(body.length);
    });
  }

  it("counts NUL bytes and bare line ends without dropping them", () => {
    const out = expectSplitSafe(b("a\0b\nc\rd\0\r\n.\r\n"));
    expect(out.body).toBe("a\0b\r\nc\r\nd\0\r\n");
    expect(out.nulBytes).toBe(2);
    expect(out.bareLineEnds).toBe(2);
  });

  it("non-terminators never end DATA", () => {
    for (const input of ["a\n.\n", "a\n.\r\n", "a\r.\r", "a\r\n.\n", "a\r\n.\r", "a\r\n. \r\n", "a\r\n..\r\n", "a\r\n.\r\r\n"]) {
      for (const way of allFeedings(b(input))) expect(feed(way).done, JSON.stringify(input)).toBe(false);
    }
  });

  it("pushing after the end throws; result before the end throws", () => {
    const r = new DataReader(BIG);
    expect(() => r.result()).toThrow(/not seen/);
    expect(r.push(b(".\r\n"))).toEqual(Buffer.alloc(0));
    expect(() => r.push(b("x"))).toThrow(/after end-of-data/);
  });

  it("matches the string reference on random inputs, fed in every way", () => {
    const rand = rng(2024);
    const alphabet = ["a", ".", "\r", "\n", "\r\n", "\r\n."];
    for (let n = 0; n < 300; n++) {
      let input = "";
      const len = Math.floor(rand() * 16);
      for (let i = 0; i < len; i++) input += alphabet[Math.floor(rand() * alphabet.length)];
      input += "\r\n.\r\n" + (rand() < 0.3 ? "NOOP\r\n" : "");
      const want = reference(input);
      expect(want).not.toBeNull();
      const got = expectSplitSafe(b(input));
      expect({ body: got.body, rest: got.rest }, JSON.stringify(input)).toEqual(want);
    }
  });
});

describe("DataReader: SMTP smuggling sequences", () => {
  // Each sequence, put between "a" and "b", must become the body line "." (see the file header).
  const sequences: Array<[string, string]> = [
    ["<LF>.<LF>", "\n.\n"],
    ["<LF>.<CR><LF>", "\n.\r\n"],
    ["<CR>.<CR>", "\r.\r"],
    ["<CR>.<CR><LF>", "\r.\r\n"],
    ["<LF>.<CR>", "\n.\r"],
    ["<CR><LF>.<LF>", "\r\n.\n"],
    ["<CR><LF>.<CR>", "\r\n.\r"],
  ];
  const smuggled = "MAIL FROM:<evil@example.org>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\nSubject: SMUGGLED\r\n\r\nsmuggled";
  for (const [name, seq] of sequences) {
    it(`${name} stays body text: one message, the rest verbatim`, () => {
      const input = `Subject: outer\r\n\r\nouter body${seq}${smuggled}${seq}tail\r\n.\r\nQUIT\r\n`;
      const out = expectSplitSafe(b(input));
      expect(out.done).toBe(true);
      expect(out.rest).toBe("QUIT\r\n");
      expect(out.body).toBe(`Subject: outer\r\n\r\nouter body\r\n.\r\n${smuggled}\r\n.\r\ntail\r\n`);
      // Relayed: the only end-of-data the downstream can see is the final one.
      const relayed = s(encodeForRelay(b(out.body!)));
      expect(relayed.split("\r\n.\r\n").length - 1).toBe(1);
      expect(relayed.endsWith("\r\n.\r\n")).toBe(true);
      expect(relayed).not.toMatch(/\r(?!\n)|(?<!\r)\n/);
      // And a conforming receiver reads back exactly the same single message.
      expect(feed([b(relayed)])).toMatchObject({ done: true, body: out.body, rest: "" });
    });
  }

  it("the recipes/smuggle-probe.js payload is one message; its last '.' line goes back to the command reader", () => {
    const payload =
      "Subject: outer\r\n\r\nouter body\n.\r\nMAIL FROM:<evil@example.org>\r\nRCPT TO:<bob@example.test>\r\n" +
      "DATA\r\nSubject: SMUGGLED\r\n\r\nsmuggled\r\n.\r\n\r\n.\r\n";
    const out = expectSplitSafe(b(payload));
    expect(out.body).toBe(
      "Subject: outer\r\n\r\nouter body\r\n.\r\nMAIL FROM:<evil@example.org>\r\nRCPT TO:<bob@example.test>\r\n" +
        "DATA\r\nSubject: SMUGGLED\r\n\r\nsmuggled\r\n",
    );
    expect(out.rest).toBe("\r\n.\r\n");
  });
});

describe("DataReader: hostile inputs stay bounded", () => {
  const LIMIT = 64 * 1024;

  it("a 5 MB line: consumed to the end, stored only up to the limit, counted as overlong", () => {
    const input = Buffer.concat([Buffer.alloc(5 << 20, 0x61), b("\r\n.\r\nQUIT\r\n")]);
    const out = feed([input.subarray(0, 3_000_001), input.subarray(3_000_001)], LIMIT);
    expect(out).toMatchObject({ done: true, tooBig: true, size: (5 << 20) + 2, overlongLines: 1, rest: "QUIT\r\n" });
    expect(out.body!.length).toBe(LIMIT);
  });

  it("millions of dots, and a million dot-stuffed lines, stay within the limit", () => {
    const oneLine = feed([b(".".repeat(3_000_000) + "\r\n.\r\n")], LIMIT);
    expect(oneLine).toMatchObject({ done: true, tooBig: true, size: 3_000_001 });
    expect(oneLine.body!.length).toBe(LIMIT);
    expect(oneLine.body!.startsWith("..")).toBe(true); // the first dot was the transparency dot
    const lines = feed([b("..\r\n".repeat(1_000_000) + ".\r\n")], LIMIT);
    expect(lines).toMatchObject({ done: true, tooBig: true, size: 3_000_000 });
    expect(lines.body).toBe(".\r\n".repeat(LIMIT / 3) + ".".repeat(LIMIT % 3));
  });

  it("two million bare LFs double in size but are stored only up to the limit", () => {
    const out = feed([b("\n".repeat(2_000_000) + "\r\n.\r\n")], LIMIT);
    expect(out).toMatchObject({ done: true, tooBig: true, size: 4_000_002, bareLineEnds: 2_000_000 });
    expect(out.body!.length).toBe(LIMIT);
  });

  it("no terminator: keeps reading, never ends, stores at most the limit", () => {
    const r = new DataReader(LIMIT);
    const chunk = b("line\n.\r\n".repeat(8192));
    for (let i = 0; i < 40; i++) expect(r.push(chunk)).toBeNull();
    expect(r.done).toBe(false);
    expect(r.push(b("\r\n.\r\n"))).toEqual(Buffer.alloc(0));
    const res = r.result();
    expect(res.tooBig).toBe(true);
    expect(res.body.length).toBe(LIMIT);
    expect(res.size).toBe(40 * 8192 * 9 + 2);
  });

  it("a message exactly at the limit is not too big; one byte more is", () => {
    expect(feed([b("abc\r\n.\r\n")], 5)).toMatchObject({ tooBig: false, body: "abc\r\n" });
    expect(feed([b("abcd\r\n.\r\n")], 5)).toMatchObject({ tooBig: true, body: "abcd\r", size: 6 });
  });

  it("refuses a nonsensical limit", () => {
    expect(() => new DataReader(-1)).toThrow(RangeError);
    expect(() => new DataReader(Number.NaN)).toThrow(RangeError);
  });
});

describe("RelayEncoder", () => {
  const table: Array<[string, string]> = [
    ["", ".\r\n"],
    ["a", "a\r\n.\r\n"],
    ["a\r\n", "a\r\n.\r\n"],
    [".a\n", "..a\r\n.\r\n"],
    ["a\r\n.\r\nb", "a\r\n..\r\nb\r\n.\r\n"],
    ["a\rb", "a\r\nb\r\n.\r\n"],
    ["a\r", "a\r\n.\r\n"],
    ["\n.\n", "\r\n..\r\n.\r\n"],
    ["x.y\r\n..z", "x.y\r\n...z\r\n.\r\n"],
  ];
  for (const [input, want] of table) {
    it(`${JSON.stringify(input)} -> ${JSON.stringify(want)} in every split`, () => {
      const data = b(input);
      for (const way of allFeedings(data)) {
        const e = new RelayEncoder();
        expect(s(Buffer.concat([...way.map((p) => e.push(p)), e.end()]))).toBe(want);
      }
    });
  }

  it("round trip: reading the encoding gives the CRLF-normalised input", () => {
    const rand = rng(99);
    const alphabet = ["a", ".", "\r", "\n", "\r\n", ".."];
    for (let n = 0; n < 300; n++) {
      let input = "";
      for (let i = Math.floor(rand() * 20); i > 0; i--) input += alphabet[Math.floor(rand() * alphabet.length)];
      let normal = input.replace(/\r\n|\r|\n/g, "\r\n");
      if (normal !== "" && !normal.endsWith("\r\n")) normal += "\r\n";
      const out = feed([encodeForRelay(b(input))]);
      expect(out, JSON.stringify(input)).toMatchObject({ done: true, body: normal, rest: "", bareLineEnds: 0 });
    }
  });

  it("refuses use after end", () => {
    const e = new RelayEncoder();
    e.end();
    expect(() => e.push(b("x"))).toThrow();
    expect(() => e.end()).toThrow();
  });
});
