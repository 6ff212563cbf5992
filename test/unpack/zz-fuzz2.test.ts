import { it } from "vitest";
import { randomBytes } from "node:crypto";
import { unpackMail, unpackMbox } from "../../host/unpack/mime.js";
import { unpackUuencode } from "../../host/unpack/uuencode.js";
import { unpackBinhex } from "../../host/unpack/binhex.js";
import { unpackHtml } from "../../host/unpack/html.js";
import { unpackTnef } from "../../host/unpack/tnef.js";
import { LimitExceeded } from "../../host/limits.js";
import { UnpackError } from "../../host/unpack/types.js";
import { collect, makeCtx } from "../helpers/unpack-ctx.js";
const toks = ["--o", "--o--", "--i", "--i--", "Content-Type: multipart/mixed; boundary=o", "Content-Type: multipart/digest; boundary=i",
  "Content-Type: message/rfc822", "Content-Transfer-Encoding: base64", "Content-Transfer-Encoding: quoted-printable", "Content-Transfer-Encoding: x-uuencode",
  "", "", "From x y", "From: a", " folded", "=?utf-8?b?w6k=?=", "begin 644 a.exe", "M35I0``(````$``\\`__\\``+@````A", "`", "end", "begin-base64 644 b", "====",
  "(This file must be converted with BinHex 4.0)", ":#'0XB@dZCAKP!%9B43\"$E'&Y!!!!!!)J!!!!!EY969T3!!)!!!!%!!m!rrm!!,J", "!!!:", "TVpQAAIAAAAEAA8A//8AALgAAAAhAAAAQAAaAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
  "=3D=\r", "<a href=\"data:x;base64,QUJD", "Content-Disposition: attachment; filename*0*=utf-8''%E2; filename*1=x", "\r", "\x00\xff"];
it("soup", async () => {
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  for (let i = 0; i < 3000; i++) {
    const n = 1 + Math.floor(rnd() * 60);
    const eol = ["\r\n", "\n", "\r"][Math.floor(rnd() * 3)];
    const lines: string[] = [];
    for (let k = 0; k < n; k++) lines.push(toks[Math.floor(rnd() * toks.length)]);
    const data = i % 10 === 0 ? randomBytes(Math.floor(rnd() * 4000)) : Buffer.from(lines.join(eol), "latin1");
    for (const u of [unpackMail, unpackMbox, unpackUuencode, unpackBinhex, unpackHtml, unpackTnef]) {
      try { await collect(u, data, makeCtx({ maxFileSize: 100_000, maxMimeDepth: 4, maxMimeParts: 20 })); }
      catch (e) { if (!(e instanceof LimitExceeded || e instanceof UnpackError)) { console.log(JSON.stringify(data.toString("latin1"))); throw e; } }
    }
  }
}, 300_000);
