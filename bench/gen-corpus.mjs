// Generates the benchmark corpora into bench/out/corpus/ (each only once per size):
//  - random: seeded random bytes with the "plants" of gen-sigs.mjs spread evenly, so the
//    literal, wildcard and logical sets have real matches (and ldb near-misses);
//  - elf: concatenated ELF binaries from the "corpus" half of the machine's binaries
//    (the realistic signatures are cut from the other half);
//  - mail: a MIME mail with a text part and a large base64 attachment (ELF bytes with
//    some literal plants), the shape a gateway sees most;
//  - tiny: a 2-byte file, scanned to measure database load time.
// Slices (prefixes) of a corpus give clamscan an input it finishes within its budget.
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, readSync, renameSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { randomStream } from "./prng.mjs";
import { elfSplit, literalPlants, randomCorpusPlants } from "./gen-sigs.mjs";

const MiB = 1024 * 1024;
/** Write in 4 MiB blocks: large enough for throughput, small enough to keep RSS low. */
const BLOCK = 4 * MiB;

function corpusDir(outDir) {
  const dir = join(outDir, "corpus");
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Write through a temporary name so an interrupted run never leaves a short corpus. */
function writeAtomically(path, fill) {
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, "w");
  try {
    fill((buf) => writeSync(fd, buf));
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/** Overwrite `block` (covering [start, start+block.length)) with the plants at `placed`. */
function applyPlants(block, start, placed) {
  const end = start + block.length;
  for (const { at, bytes } of placed) {
    if (at >= end || at + bytes.length <= start) continue;
    const from = Math.max(at, start);
    const to = Math.min(at + bytes.length, end);
    bytes.copy(block, from - start, from - at, to - at);
  }
}

/** Plants spread evenly: plant k at floor((k + 0.5) * size / count) + shift. */
function placePlants(plants, size, shift = 0) {
  return plants.map((bytes, k) => ({ at: Math.floor(((k + 0.5) * size) / plants.length) + shift, bytes }));
}

/** Each family spread over the whole corpus (so any prefix slice holds a fair share of
 *  every family), family f shifted by f/3 of the densest family's spacing so that plants
 *  of different families do not overlap. */
function placeFamilies(families, size) {
  const spacing = size / Math.max(...families.map((f) => f.length));
  return families.flatMap((f, i) => placePlants(f, size, Math.floor((i * spacing) / families.length)));
}

export function ensureRandom(outDir, mib, { seed = "random-corpus-v2", plants = true } = {}) {
  const path = join(corpusDir(outDir), `${seed}-${mib}M.bin`);
  if (existsSync(path)) return path;
  const size = mib * MiB;
  const placed = plants ? placeFamilies(randomCorpusPlants(), size) : [];
  const rnd = randomStream(seed);
  writeAtomically(path, (write) => {
    for (let pos = 0; pos < size; pos += BLOCK) {
      const block = rnd.next(Math.min(BLOCK, size - pos));
      applyPlants(block, pos, placed);
      write(block);
    }
  });
  return path;
}

/** The first `size` bytes of the corpus half of the machine's ELF files, concatenated. */
function elfBytes(size) {
  const { corpus } = elfSplit();
  const out = Buffer.alloc(size);
  let pos = 0;
  for (const f of corpus) {
    if (pos >= size) break;
    const data = readFileSync(f.path);
    pos += data.copy(out, pos, 0, Math.min(data.length, size - pos));
  }
  if (pos < size) throw new Error(`elf corpus: only ${pos} bytes of binaries available, ${size} wanted`);
  return out;
}

export function ensureElf(outDir, mib) {
  const path = join(corpusDir(outDir), `elf-${mib}M.bin`);
  if (existsSync(path)) return path;
  const data = elfBytes(mib * MiB);
  writeAtomically(path, (write) => write(data));
  return path;
}

/** A mail of about `mib` MiB: text part + base64 attachment (76-char lines, CRLF). */
export function ensureMail(outDir, mib) {
  const path = join(corpusDir(outDir), `mail-${mib}M.eml`);
  if (existsSync(path)) return path;
  // base64 grows 4/3, CRLF every 76 chars adds 2/76: pick the attachment size to land near mib.
  const attachSize = Math.floor(((mib * MiB * 3) / 4) * (76 / 78));
  const attach = elfBytes(attachSize);
  // 50 of the literal plants (every 20th) inside the attachment: found only if decoded.
  applyPlants(attach, 0, placePlants(literalPlants(100_000).filter((_, i) => i % 20 === 0), attachSize));
  const head = [
    "From: Bench Sender <sender@example.test>",
    "To: Bench Rcpt <rcpt@example.test>",
    "Subject: quarterly report",
    "Date: Tue, 25 Nov 2025 10:00:00 +0000",
    "Message-ID: <bench@example.test>",
    "MIME-Version: 1.0",
    'Content-Type: multipart/mixed; boundary="=_bench_boundary"',
    "",
    "--=_bench_boundary",
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: 7bit",
    "",
    ...Array.from({ length: 40 }, (_, i) => `Line ${i} of the cover letter: please find the report attached.`),
    "",
    "--=_bench_boundary",
    'Content-Type: application/octet-stream; name="report.bin"',
    "Content-Transfer-Encoding: base64",
    'Content-Disposition: attachment; filename="report.bin"',
    "",
    "",
  ].join("\r\n");
  // 57 input bytes = one 76-char line; encode many lines per step.
  const LINE_IN = 57;
  const STEP = LINE_IN * 16384;
  writeAtomically(path, (write) => {
    write(Buffer.from(head));
    for (let pos = 0; pos < attach.length; pos += STEP) {
      const b64 = attach.subarray(pos, Math.min(pos + STEP, attach.length)).toString("base64");
      const lines = [];
      for (let i = 0; i < b64.length; i += 76) lines.push(b64.slice(i, i + 76));
      write(Buffer.from(lines.join("\r\n") + "\r\n"));
    }
    write(Buffer.from("--=_bench_boundary--\r\n"));
  });
  return path;
}

export function ensureTiny(outDir) {
  const path = join(corpusDir(outDir), "tiny-2B.bin");
  if (!existsSync(path)) writeFileSync(path, "ok");
  return path;
}

/** The corpus of a kind at a size; slices of random/elf are prefixes of the full file. */
export function ensureCorpus(outDir, kind, mib, fullMib) {
  if (kind === "mail") return ensureMail(outDir, mib);
  const full = kind === "random" ? ensureRandom(outDir, fullMib) : ensureElf(outDir, fullMib);
  if (mib === fullMib) return full;
  const path = full.replace(/\.bin$/, `-slice-${mib}M.bin`);
  if (!existsSync(path)) copyPrefix(full, path, mib * MiB);
  return path;
}

function copyPrefix(src, dst, size) {
  if (size <= 0) return copyFileSync(src, dst);
  const fd = openSync(src, "r");
  try {
    writeAtomically(dst, (write) => {
      const buf = Buffer.alloc(BLOCK);
      for (let pos = 0; pos < size; ) {
        const n = readSync(fd, buf, 0, Math.min(BLOCK, size - pos), pos);
        if (n <= 0) break;
        write(buf.subarray(0, n));
        pos += n;
      }
    });
  } finally {
    closeSync(fd);
  }
}
