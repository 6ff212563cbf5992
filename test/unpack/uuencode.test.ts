import { describe, expect, it } from "vitest";
import { LimitExceeded } from "../../host/limits.js";
import { looksLikeUuencode, unpackUuencode } from "../../host/unpack/uuencode.js";
import { expectSurvivesMutants, mutants } from "../helpers/mutations.js";
import { CLAM_EXE_SHA256, sha256, testfile } from "../helpers/testfiles.js";
import { collect, makeCtx } from "../helpers/unpack-ctx.js";

/** The uuencoded block of Debian's clam.exe.mbox.uu, without the mail headers. */
const bareUu = Buffer.from(testfile("clam.exe.mbox.uu")).toString("latin1").split("\n\n")[1];
const clamExe = Buffer.from(testfile("clam.exe"));
const bytes = (s: string) => Buffer.from(s, "latin1");

describe("uuencode", () => {
  it("detects uuencoded files and not prose that says begin", () => {
    expect(looksLikeUuencode(bytes(bareUu))).toBe(true);
    expect(looksLikeUuencode(bytes(`Some note first\r\n\r\n${bareUu}`))).toBe(true);
    expect(looksLikeUuencode(testfile("clam.exe"))).toBe(false);
    expect(looksLikeUuencode(bytes("begin the meeting at 10\nend"))).toBe(false);
    expect(looksLikeUuencode(bytes("begin 644 notes.txt\nThis is not uuencoded at all.\nend\n"))).toBe(false);
    expect(looksLikeUuencode(bytes(""))).toBe(false);
  });

  it("decodes the Debian block to clam.exe, with LF or CRLF lines", async () => {
    for (const text of [bareUu, bareUu.replace(/\n/g, "\r\n")]) {
      const kids = await collect(unpackUuencode, bytes(text));
      expect(kids.map((k) => [k.name, sha256(k.data)])).toEqual([["clam.exe", CLAM_EXE_SHA256]]);
    }
  });

  it("treats spaces for zeros, stripped trailing spaces and a missing end line like uudecode", async () => {
    const lines = bareUu.split("\n");
    const spaced = lines
      .map((l, i) => (i === 0 || l === "end" ? l : l.replace(/`/g, " ").replace(/ +$/, "")))
      .filter((l) => l !== "end" && l !== "")
      .join("\n");
    expect(spaced).not.toContain("`");
    const kids = await collect(unpackUuencode, bytes(spaced));
    expect(kids.map((k) => sha256(k.data))).toEqual([CLAM_EXE_SHA256]);
  });

  it("decodes begin-base64 blocks (uuencode -m) and several blocks in order", async () => {
    const b64 = (clamExe.toString("base64").match(/.{1,60}/g) ?? []).join("\n");
    const text = `intro\nbegin-base64 644 second.exe\n${b64}\n====\nmiddle text\n${bareUu.replace("clam.exe", "third.exe")}`;
    const kids = await collect(unpackUuencode, bytes(text));
    expect(kids.map((k) => k.name)).toEqual(["second.exe", "third.exe"]);
    for (const k of kids) expect(sha256(k.data)).toBe(CLAM_EXE_SHA256);
  });

  it("charges what it yields and stops at maxFileSize", async () => {
    const ctx = makeCtx();
    await collect(unpackUuencode, bytes(bareUu), ctx);
    expect(ctx.charged).toBe(clamExe.length);
    await expect(collect(unpackUuencode, bytes(bareUu), makeCtx({ maxFileSize: 543 }))).rejects.toThrow(LimitExceeded);
  });

  it("survives truncations and byte flips", async () => {
    await expectSurvivesMutants(unpackUuencode, mutants(bytes(bareUu), { flips: 80 }));
  });
});
