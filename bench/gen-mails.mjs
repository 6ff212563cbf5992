// Generates the INSTREAM benchmark's mail corpus into bench/out/instream/mails/ (seeded, so
// every run and machine gets the same mails): MIME mails of about 0.5 MB each, a text and an
// HTML alternative plus a base64 attachment of random bytes (CRLF, 76-character lines), the
// shape a gateway sees most. A few are infected, each with exactly one known signature so
// both scanners must report the same name:
//   - every 10th (i % 10 == 3): a planted literal of the 100k .ndb set inside the attachment
//     (found only after base64 decoding);
//   - every 50th (i % 50 == 27): a second small attachment whose MD5 is listed in
//     instream-plants.hdb (written next to the mails when the corpus has any; the benchmark
//     links it into the signature directory).
// manifest.json lists each mail with its size and the expected signature name (or null).
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { literalPlants } from "./gen-sigs.mjs";
import { Rng, randomStream } from "./prng.mjs";

const SEED = "instream-mails-v1";
/** Mail sizes are drawn from this range (bytes), around the issue's "0.5 MB mails". */
const MIN_BYTES = 460_000;
const MAX_BYTES = 560_000;
/** Size of the hash-planted second attachment. */
const HASH_ATTACH_BYTES = 12_000;

export const WORDS =
  "the report quarterly figures please find attached meeting agenda budget review team project schedule update customer invoice order shipment delivery contract draft final revision notes summary regards thanks hello colleague office market sales growth plan risk cost estimate".split(
    " ",
  );

/** About `bytes` of text as lines of 12 words. */
export function words(rng, bytes) {
  const out = [];
  let n = 0;
  let line = [];
  while (n < bytes) {
    const w = rng.pick(WORDS);
    line.push(w);
    n += w.length + 1;
    if (line.length >= 12) {
      out.push(line.join(" "));
      line = [];
    }
  }
  if (line.length) out.push(line.join(" "));
  return out;
}

/** base64 in 76-character CRLF lines, encoded 57 input bytes per line. */
export function base64Lines(buf) {
  const b64 = buf.toString("base64");
  const lines = [];
  for (let i = 0; i < b64.length; i += 76) lines.push(b64.slice(i, i + 76));
  return lines.join("\r\n") + "\r\n";
}

/** Literal plants of the 100k set: plant k is signature Bench.Lit.(100k + 7) (gen-sigs.mjs). */
let plantsMemo = null;
export const plants = () => (plantsMemo ??= literalPlants(100_000));

function mail(i) {
  const rng = new Rng(`${SEED}:${i}`);
  const target = rng.int(MIN_BYTES, MAX_BYTES);
  const mix = `=_mix_${i}_${rng.u32().toString(16)}`;
  const alt = `=_alt_${i}_${rng.u32().toString(16)}`;
  const text = words(rng, rng.int(2_000, 6_000)).join("\r\n");
  const html = `<html><body>\r\n${words(rng, rng.int(4_000, 12_000))
    .map((l) => `<p>${l}</p>`)
    .join("\r\n")}\r\n</body></html>`;
  let expected = null;
  let extra = "";
  let hash = null;
  if (i % 50 === 27) {
    const att = randomStream(`${SEED}:hash:${i}`).next(HASH_ATTACH_BYTES);
    expected = `Bench.InstreamHash.${i}`;
    hash = `${createHash("md5").update(att).digest("hex")}:${att.length}:${expected}`;
    extra = [`--${mix}`, `Content-Type: application/octet-stream; name="invoice-${i}.bin"`, "Content-Transfer-Encoding: base64", `Content-Disposition: attachment; filename="invoice-${i}.bin"`, "", base64Lines(att)].join("\r\n");
  }
  const head = [
    `From: Sender ${i} <sender${i}@example.test>`,
    "To: Bench Rcpt <rcpt@example.test>",
    `Subject: ${rng.pick(WORDS)} ${rng.pick(WORDS)} ${i}`,
    "Date: Tue, 25 Nov 2025 10:00:00 +0000",
    `Message-ID: <instream-${i}@example.test>`,
    "MIME-Version: 1.0",
    `Content-Type: multipart/mixed; boundary="${mix}"`,
    "",
    `--${mix}`,
    `Content-Type: multipart/alternative; boundary="${alt}"`,
    "",
    `--${alt}`,
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: 7bit",
    "",
    text,
    `--${alt}`,
    "Content-Type: text/html; charset=utf-8",
    "Content-Transfer-Encoding: 7bit",
    "",
    html,
    `--${alt}--`,
    "",
    `--${mix}`,
    `Content-Type: application/octet-stream; name="data-${i}.bin"`,
    "Content-Transfer-Encoding: base64",
    `Content-Disposition: attachment; filename="data-${i}.bin"`,
    "",
    "",
  ].join("\r\n");
  const tail = `${extra}--${mix}--\r\n`;
  // base64 with CRLF every 76 chars: 57 bytes -> 78 bytes on the wire
  const room = Math.max(57, target - head.length - tail.length);
  const attSize = Math.floor(room / 78) * 57;
  const att = randomStream(`${SEED}:data:${i}`).next(attSize);
  if (i % 10 === 3) {
    const k = Math.floor(i / 10) % plants().length;
    const p = plants()[k];
    p.copy(att, rng.int(0, att.length - p.length));
    expected = `Bench.Lit.${100 * k + 7}`;
  }
  return { bytes: Buffer.from(head + base64Lines(att) + tail, "latin1"), expected, hash };
}

/** Write `count` mails (once; reused while the manifest matches). Returns {dir, mails, hdb}. */
export function ensureMailCorpus(outDir, count) {
  const dir = join(outDir, "instream", "mails");
  const manifestPath = join(dir, "manifest.json");
  const hdb = join(dir, "instream-plants.hdb");
  if (existsSync(manifestPath)) {
    const m = JSON.parse(readFileSync(manifestPath, "utf8"));
    if (m.seed === SEED && m.mails.length === count && (m.hashes === 0 || existsSync(hdb)))
      return { dir, mails: m.mails.map((x) => ({ ...x, path: join(dir, x.file) })), hdb: m.hashes ? hdb : null };
  }
  mkdirSync(dir, { recursive: true });
  const mails = [];
  const hashes = [];
  for (let i = 0; i < count; i++) {
    const m = mail(i);
    const file = `${String(i).padStart(4, "0")}.eml`;
    writeFileSync(join(dir, file), m.bytes);
    mails.push({ file, size: m.bytes.length, expected: m.expected });
    if (m.hash) hashes.push(m.hash);
  }
  // clamd refuses an empty .hdb ("Malformed database"): a small corpus without hash plants has none
  if (hashes.length) writeFileSync(hdb, hashes.join("\n") + "\n");
  else rmSync(hdb, { force: true });
  writeFileSync(`${manifestPath}.tmp`, JSON.stringify({ seed: SEED, hashes: hashes.length, mails }, null, 1));
  renameSync(`${manifestPath}.tmp`, manifestPath);
  return { dir, mails: mails.map((x) => ({ ...x, path: join(dir, x.file) })), hdb: hashes.length ? hdb : null };
}
