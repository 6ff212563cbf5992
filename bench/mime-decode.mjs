// Micro benchmark (not a test): MB/s of unpackMail on a generated mail with one 64 MiB
// base64 attachment (76-char CRLF lines), i.e. MIME split + header parse + base64 decode.
// Throughput counts encoded input bytes per second, the way mail arrives.
// The TypeScript sources are bundled with esbuild (a vitest dependency) into bench/out/.
// Usage: node bench/mime-decode.mjs [MiB=64] [rounds=5]
import { build } from "esbuild";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const outfile = `${root}bench/out/mime-decode.bundle.mjs`;
await build({
  entryPoints: [`${root}host/unpack/mime.ts`],
  bundle: true,
  platform: "node",
  format: "esm",
  outfile,
  logLevel: "warning",
});
const { unpackMail } = await import(outfile);

const mib = Number(process.argv[2] ?? 64);
const rounds = Number(process.argv[3] ?? 5);
const payload = randomBytes(mib * 1024 * 1024);
const lines = payload.toString("base64").replace(/.{76}/g, "$&\r\n");
const mail = Buffer.from(
  "From: bench@example.com\r\nTo: you@example.com\r\nSubject: bench\r\nMIME-Version: 1.0\r\n" +
    'Content-Type: multipart/mixed; boundary="----=_Part_0_123456789.1700000000000"\r\n\r\n' +
    "------=_Part_0_123456789.1700000000000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee attached.\r\n" +
    '------=_Part_0_123456789.1700000000000\r\nContent-Type: application/octet-stream; name="big.bin"\r\n' +
    "Content-Transfer-Encoding: base64\r\n\r\n" + lines + "\r\n------=_Part_0_123456789.1700000000000--\r\n",
  "latin1",
);

const ctx = () => {
  let charged = 0;
  return {
    limits: { maxRecursion: 17, maxFiles: 10_000, maxScanSize: 4e9, maxFileSize: 2e9, maxScanTime: 6e5, maxRatio: 1000, maxMimeParts: 1024, maxMimeDepth: 64 },
    charge(n) { charged += n; },
    room() { return 2e9 - charged; },
    checkTime() {},
    heuristic() {},
  };
};

let best = 0;
for (let r = 0; r < rounds; r++) {
  const t0 = process.hrtime.bigint();
  let out = 0;
  let ok = false;
  for (const child of unpackMail(mail, ctx())) {
    out += child.data.length;
    if (child.name === "big.bin") ok = Buffer.from(child.data.buffer, child.data.byteOffset, child.data.byteLength).equals(payload);
  }
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (!ok) throw new Error("decoded attachment differs from the payload");
  const mbs = mail.length / 1e6 / s;
  best = Math.max(best, mbs);
  console.log(`round ${r + 1}: ${(mail.length / 1e6).toFixed(1)} MB of mail -> ${(out / 1e6).toFixed(1)} MB in ${(s * 1000).toFixed(1)} ms = ${mbs.toFixed(0)} MB/s`);
}
console.log(`best: ${best.toFixed(0)} MB/s (parse + base64 decode, one core, Node ${process.version})`);
