/**
 * The INI layer: byte-for-byte round trips of commented files, in-place edits that leave every
 * other byte alone, and syntax errors with line numbers.
 */
import { describe, expect, it } from "vitest";
import { MAX_LINE_LENGTH, parseIni, serializeIni, setIniValue } from "../../host/config/ini.js";

const COMMENTED = [
  "# Bulwark test configuration",
  "   # indented comment",
  "",
  "[global]",
  "action_av = \"scan\"   # trailing comment",
  "\tworkers=4",
  "av_footnote_text = \"tab\\there \\\"quoted\\\" back\\\\slash\"",
  "",
  "",
  "[ smtp ]  # agent",
  "# listen_port = 2526",
  "agent_enabled = yes",
  "listen_addr = 127.0.0.1",
  "",
].join("\n");

describe("parseIni / serializeIni", () => {
  it.each([
    ["LF with final newline", COMMENTED],
    ["CRLF", COMMENTED.replace(/\n/g, "\r\n")],
    ["no final newline", COMMENTED.trimEnd()],
    ["empty file", ""],
    ["only comments", "# a\n#b\n\n"],
  ])("round-trips %s byte for byte", (_n, text) => {
    const { doc, errors } = parseIni(text, "t.cfg");
    expect(errors).toEqual([]);
    expect(serializeIni(doc)).toBe(text);
  });

  it("decodes quoted strings and keeps bare tokens", () => {
    const { doc } = parseIni(COMMENTED, "t.cfg");
    const entries = Object.fromEntries(doc.lines.flatMap((l) => (l.kind === "entry" ? [[`${l.section}.${l.key}`, l.value]] : [])));
    expect(entries["global.action_av"]).toEqual({ text: "scan", quoted: true });
    expect(entries["global.workers"]).toEqual({ text: "4", quoted: false });
    expect(entries["global.av_footnote_text"].text).toBe('tab\there "quoted" back\\slash');
    expect(entries["smtp.listen_addr"]).toEqual({ text: "127.0.0.1", quoted: false });
  });

  it("keeps a line that fails to parse, so even a broken file serializes unchanged", () => {
    const text = "[global]\nthis is not ini\nworkers = 2\n";
    const { doc, errors } = parseIni(text, "t.cfg");
    expect(errors).toHaveLength(1);
    expect(serializeIni(doc)).toBe(text);
  });

  it.each([
    ["key outside a section", "workers = 2\n", 1, /key workers outside any section/],
    ["unterminated quote", "[global]\nbase_dir = \"/var/lib\n", 2, /unterminated quoted string/],
    ["unknown escape", "[global]\nbase_dir = \"a\\qb\"\n", 2, /unknown escape \\q/],
    ["text after closing quote", "[global]\nbase_dir = \"a\" b\n", 2, /unexpected text after the closing quote/],
    ["stray quote in bare value", "[global]\nbase_dir = a\"b\n", 2, /stray double quote/],
    ["duplicate key", "[global]\nworkers = 1\n# x\nworkers = 2\n", 4, /duplicate key workers in \[global\]/],
    ["duplicate key across repeated headers", "[smtp]\nlisten_port = 1\n[global]\n[smtp]\nlisten_port = 2\n", 5, /duplicate key listen_port in \[smtp\]/],
    ["malformed line", "[global]\n= 3\n", 2, /malformed line/],
    ["malformed section header", "[global\n", 1, /malformed section header/],
    ["empty section header", "[ ]\n", 1, /malformed section header/],
    ["over-long line", `[global]\n# ${"x".repeat(MAX_LINE_LENGTH)}\n`, 2, /longer than/],
  ])("reports %s with its line", (_n, text, line, reason) => {
    const { errors } = parseIni(text, "f.cfg");
    expect(errors).toHaveLength(1);
    expect(errors[0].file).toBe("f.cfg");
    expect(errors[0].line).toBe(line);
    expect(errors[0].reason).toMatch(reason);
  });
});

describe("setIniValue", () => {
  const edit = (text: string, section: string, key: string, value: string) => {
    const { doc } = parseIni(text, "t.cfg");
    setIniValue(doc, section, key, value);
    return serializeIni(doc);
  };

  it("replaces only the value of an existing entry, keeping spacing and comment", () => {
    const out = edit(COMMENTED, "global", "action_av", '"reject"');
    expect(out).toBe(COMMENTED.replace('action_av = "scan"   # trailing', 'action_av = "reject"   # trailing'));
  });

  it("puts a new entry under its commented-out default", () => {
    const out = edit(COMMENTED, "smtp", "listen_port", "2600");
    expect(out).toBe(COMMENTED.replace("# listen_port = 2526\n", "# listen_port = 2526\nlisten_port = 2600\n"));
  });

  it("puts a new entry after the section's last entry", () => {
    const out = edit(COMMENTED, "global", "base_dir", '"/srv"');
    expect(out).toBe(COMMENTED.replace("back\\\\slash\"\n", 'back\\\\slash"\nbase_dir = "/srv"\n'));
  });

  it("appends a missing section, keeping CRLF and the final newline", () => {
    const crlf = COMMENTED.replace(/\n/g, "\r\n");
    const out = edit(crlf, "clamd", "listen_port", "3311");
    expect(out).toBe(`${crlf}\r\n[clamd]\r\nlisten_port = 3311\r\n`);
    expect(edit("", "clamd", "listen_port", "1")).toBe("[clamd]\nlisten_port = 1\n");
    expect(edit("[global]", "clamd", "listen_port", "1")).toBe("[global]\n\n[clamd]\nlisten_port = 1\n");
  });

  it("produces a file that parses back to the new value", () => {
    const out = edit(COMMENTED, "smtp", "listen_addr", '"a b \\"c\\""');
    const { doc, errors } = parseIni(out, "t.cfg");
    expect(errors).toEqual([]);
    const line = doc.lines.find((l) => l.kind === "entry" && l.key === "listen_addr");
    expect(line?.kind === "entry" && line.value.text).toBe('a b "c"');
  });
});
