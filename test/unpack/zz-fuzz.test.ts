import { it } from "vitest";
import { readFileSync } from "node:fs";
import { unpackMail, unpackMbox } from "../../host/unpack/mime.js";
import { unpackUuencode } from "../../host/unpack/uuencode.js";
import { unpackBinhex } from "../../host/unpack/binhex.js";
import { unpackHtml } from "../../host/unpack/html.js";
import { unpackTnef } from "../../host/unpack/tnef.js";
import { expectSurvivesMutants, mutants } from "../helpers/mutations.js";
const T = (f: string) => new Uint8Array(readFileSync("/usr/share/clamav-testfiles/" + f));
const exe = readFileSync("/usr/share/clamav-testfiles/clam.exe");
const b64 = (exe.toString("base64").match(/.{1,76}/g) ?? []).join("\r\n");
const complex = Buffer.from(`From: a@b\r\nContent-Type: multipart/mixed; boundary="o"\r\n\r\npre\r\n--o\r\nContent-Type: multipart/alternative; boundary=i\r\n\r\n--i\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nab=3Dc=\r\nd\r\n--i\r\nContent-Type: text/html\r\n\r\n<a href="data:x;base64,${exe.toString("base64")}">\r\n--i--\r\n--o\r\nContent-Type: message/rfc822\r\n\r\nFrom: x\r\n\r\nhi\r\n--o\r\nContent-Type: text/plain\r\n\r\n${T("clam.exe.binhex").toString()}\r\n--o\r\nContent-Type: application/x; name="=?utf-8?q?a=C3=A9?="\r\nContent-Transfer-Encoding: base64\r\n\r\n${b64}\r\n--o\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\n${Buffer.from(T("clam.exe.mbox.uu")).toString("latin1").split("\n\n")[1]}\r\n--o--\r\n`, "latin1");
it("fuzz", async () => {
  for (let seed = 1; seed <= 40; seed++) {
    await expectSurvivesMutants(unpackMail, mutants(complex, { seed, flips: 100, focus: [0, complex.length] }));
    await expectSurvivesMutants(unpackMail, mutants(T("clam.mail"), { seed, flips: 50 }));
    await expectSurvivesMutants(unpackMbox, mutants(T("clam.exe.mbox.base64"), { seed, flips: 50 }));
    await expectSurvivesMutants(unpackUuencode, mutants(T("clam.exe.mbox.uu"), { seed, flips: 50, focus: [0, 960] }));
    await expectSurvivesMutants(unpackBinhex, mutants(T("clam.exe.binhex"), { seed, flips: 50, focus: [0, 833] }));
    await expectSurvivesMutants(unpackHtml, mutants(T("clam.exe.html"), { seed, flips: 50, focus: [0, 782] }));
    await expectSurvivesMutants(unpackTnef, mutants(T("clam.tnef"), { seed, flips: 50, focus: [0, 9738] }));
  }
}, 300_000);
