// Micro benchmark (not a test): MB/s of unpackMail on a generated mail with one 64 MiB
// base64 attachment (76-char CRLF lines), i.e. MIME split + header parse + base64 decode.
// Throughput counts encoded input bytes per second, the way mail arrives.
// The TypeScript sources are bundled with esbuild (a vitest dependency) into bench/out/.
// It prints wall-clock MB/s and CPU-time MB/s (user + system of the process, so it counts
// page faults and GC threads; on a shared machine it is the steadier number).
// Decoding into fresh memory is dominated by page faults when glibc mmaps (and later
// munmaps) every large buffer; try the same run with
//   GLIBC_TUNABLES=glibc.malloc.mmap_threshold=1073741824:glibc.malloc.trim_threshold=4294967295
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
let bestCpu = 0;
for (let r = 0; r < rounds; r++) {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const children = [...unpackMail(mail, ctx())];
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(c0);
  const out = children.reduce((n, c) => n + c.data.length, 0);
  const big = children.find((c) => c.name === "big.bin");
  const ok = big !== undefined && Buffer.from(big.data.buffer, big.data.byteOffset, big.data.byteLength).equals(payload);
  const cpuS = (cpu.user + cpu.system) / 1e6;
  if (!ok) throw new Error("decoded attachment differs from the payload");
  const mbs = mail.length / 1e6 / s;
  const cpuMbs = mail.length / 1e6 / cpuS;
  best = Math.max(best, mbs);
  bestCpu = Math.max(bestCpu, cpuMbs);
  console.log(
    `round ${r + 1}: ${(mail.length / 1e6).toFixed(1)} MB of mail -> ${(out / 1e6).toFixed(1)} MB decoded in ` +
      `${(s * 1000).toFixed(1)} ms wall (${mbs.toFixed(0)} MB/s), ${(cpuS * 1000).toFixed(1)} ms CPU (${cpuMbs.toFixed(0)} MB/s)`,
  );
}
console.log(`best: ${best.toFixed(0)} MB/s wall, ${bestCpu.toFixed(0)} MB/s CPU (split + parse + base64 decode, Node ${process.version})`);
