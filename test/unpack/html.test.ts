import { describe, expect, it } from "vitest";
import { LimitExceeded } from "../../host/limits.js";
import { looksLikeHtml, unpackHtml } from "../../host/unpack/html.js";
import { expectSurvivesMutants, mutants } from "../helpers/mutations.js";
import { CLAM_EXE_SHA256, sha256, testfile } from "../helpers/testfiles.js";
import { collect, makeCtx } from "../helpers/unpack-ctx.js";

const clamExe = Buffer.from(testfile("clam.exe"));
const html = (s: string) => Buffer.from(s, "latin1");

describe("html", () => {
  it("detects HTML documents and fragments, not other text", () => {
    expect(looksLikeHtml(testfile("clam.exe.html"))).toBe(true);
    expect(looksLikeHtml(Buffer.from("\ufeff  <!DOCTYPE html><html><body>x</body></html>", "utf8"))).toBe(true);
    expect(looksLikeHtml(html("<div>hi</div>"))).toBe(true);
    expect(looksLikeHtml(testfile("clam.mail"))).toBe(false);
    expect(looksLikeHtml(testfile("clam.exe"))).toBe(false);
    expect(looksLikeHtml(html("a < b and c > d"))).toBe(false);
  });

  it("decodes the data: URI of clam.exe.html", async () => {
    const kids = await collect(unpackHtml, testfile("clam.exe.html"));
    expect(kids.map((k) => [k.name, sha256(k.data)])).toEqual([["data-uri-1", CLAM_EXE_SHA256]]);
  });

  it("decodes data: URIs split over lines, in CSS, and in base64url", async () => {
    const wrapped = (clamExe.toString("base64").match(/.{1,60}/g) ?? []).join("\n  ");
    const url = clamExe.toString("base64url");
    const doc = html(`<html><a href='data:application/x-msdownload;name=a.exe;base64,${wrapped}'>x</a>
<style>div{background:url(DATA:image/png;base64,${url})}</style></html>`);
    const kids = await collect(unpackHtml, doc);
    expect(kids.map((k) => sha256(k.data))).toEqual([CLAM_EXE_SHA256, CLAM_EXE_SHA256]);
  });

  it("decodes long base64 strings in scripts (HTML smuggling), not short tokens", async () => {
    const payload = Buffer.concat([clamExe, clamExe, clamExe]); // 1632 bytes = 2176 base64 chars
    const doc = html(`<html><script>var t="c2hvcnQ=";var b=atob("${payload.toString("base64")}");</script></html>`);
    const kids = await collect(unpackHtml, doc);
    expect(kids.map((k) => k.name)).toEqual(["base64-blob-1"]);
    expect(Buffer.from(kids[0].data).equals(payload)).toBe(true);
    expect(await collect(unpackHtml, html(`<p>token ${"A1".repeat(100)} and data:;base64 without comma</p>`))).toEqual([]);
  });

  it("charges blobs and stops at maxFileSize", async () => {
    const ctx = makeCtx();
    await collect(unpackHtml, testfile("clam.exe.html"), ctx);
    expect(ctx.charged).toBe(clamExe.length);
    await expect(collect(unpackHtml, testfile("clam.exe.html"), makeCtx({ maxFileSize: 100 }))).rejects.toThrow(LimitExceeded);
  });

  it("survives truncations and byte flips", async () => {
    await expectSurvivesMutants(unpackHtml, mutants(testfile("clam.exe.html"), { flips: 60 }));
  });
});
