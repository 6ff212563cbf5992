// Mail generator for the MTA benchmark (bench/mta.mjs): `count` seeded MIME mails of mixed
// sizes, written into a fresh temp dir at run time (so every run and machine sends the same
// bytes). The mix, per mail i:
//   - infected (i % 50 == 17, 2 %): three in five carry EICAR as a small base64 attachment in a
//     small mail, one in five EICAR inside a large mail, one in five a planted literal of the
//     100k .ndb set (gen-sigs.mjs) inside a large base64 attachment (found only after decoding);
//   - otherwise large (10 %): 200 KB–1 MB, text + HTML + a base64 attachment of random bytes;
//   - otherwise small: 2–50 KB, text/plain alone or multipart/alternative text + HTML.
// Each mail carries `X-Bench-Id: <i>` and a unique Message-ID, so the benchmark can tell which
// mails reached the Maildir. CRLF line ends, 7bit text, base64 in 76-character lines.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { base64Lines, plants, WORDS, words as wordLines } from "./gen-mails.mjs";
import { Rng, randomStream } from "./prng.mjs";

const SEED = "mta-mails-v1";
/** Share of large mails among the clean ones, and their size range (bytes on the wire). */
const LARGE_SHARE = 0.1;
const LARGE_MIN = 200_000;
const LARGE_MAX = 1_000_000;
/** Size range of the small mails (bytes on the wire). */
const SMALL_MIN = 2_000;
const SMALL_MAX = 50_000;

/** EICAR, XOR 0x5a (never stored plainly in the repository). */
const EICAR_XOR_5A =
  "026f157b0a7f1a1b0a016e060a00026f6e720a04736d1919736d277e1f13191b0877090e1b141e1b081e771b140e130c13080f09770e1f090e771c13161f7b7e12711270";
const eicar = () => Buffer.from(EICAR_XOR_5A, "hex").map((b) => b ^ 0x5a);

/** About `bytes` of text in CRLF lines of 12 words (gen-mails.mjs's words). */
const words = (rng, bytes) => wordLines(rng, bytes).join("\r\n");

function headers(i, rng, contentType) {
  return [
    `From: Sender ${i} <alice${i % 7}@sender.test>`,
    "To: Bob <bob@example.test>",
    `Subject: ${rng.pick(WORDS)} ${rng.pick(WORDS)} ${i}`,
    "Date: Tue, 25 Nov 2025 10:00:00 +0000",
    `Message-ID: <mta-${i}@sender.test>`,
    `X-Bench-Id: ${i}`,
    "MIME-Version: 1.0",
    `Content-Type: ${contentType}`,
  ];
}

const attachment = (boundary, name, data) =>
  [`--${boundary}`, `Content-Type: application/octet-stream; name="${name}"`, "Content-Transfer-Encoding: base64", `Content-Disposition: attachment; filename="${name}"`, "", base64Lines(data)].join("\r\n");

/** A small mail of about `target` bytes: text alone, or text + HTML alternatives; `attach`
 *  (optional) adds a multipart/mixed wrapper with that attachment. */
function smallMail(i, rng, target, attach) {
  const alt = `=_alt_${i}_${rng.u32().toString(16)}`;
  const mix = `=_mix_${i}_${rng.u32().toString(16)}`;
  const withHtml = rng.chance(0.5);
  const textBytes = withHtml ? Math.floor(target * 0.4) : target - 600;
  const text = words(rng, Math.max(200, textBytes));
  let body;
  let type;
  if (withHtml) {
    const html = `<html><body>\r\n${words(rng, Math.max(200, target - textBytes - 900))
      .split("\r\n")
      .map((l) => `<p>${l}</p>`)
      .join("\r\n")}\r\n</body></html>`;
    type = `multipart/alternative; boundary="${alt}"`;
    body = [`--${alt}`, "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 7bit", "", text, `--${alt}`, "Content-Type: text/html; charset=utf-8", "Content-Transfer-Encoding: 7bit", "", html, `--${alt}--`, ""].join("\r\n");
  } else {
    type = "text/plain; charset=utf-8";
    body = `${text}\r\n`;
  }
  const cte = type.startsWith("text/plain") ? ["Content-Transfer-Encoding: 7bit"] : [];
  if (!attach) return [...headers(i, rng, type), ...cte, "", body].join("\r\n");
  const inner = [`Content-Type: ${type}`, ...cte, "", body].join("\r\n");
  return [...headers(i, rng, `multipart/mixed; boundary="${mix}"`), "", `--${mix}`, inner, attachment(mix, attach.name, attach.data) + `--${mix}--`, ""].join("\r\n");
}

/** A large mail of about `target` bytes: text + HTML + a random base64 attachment, with an
 *  optional second attachment (`extra`) or a planted byte string inside the random one. */
function largeMail(i, rng, target, { extra, plant } = {}) {
  const mix = `=_mix_${i}_${rng.u32().toString(16)}`;
  const alt = `=_alt_${i}_${rng.u32().toString(16)}`;
  const text = words(rng, rng.int(2_000, 6_000));
  const html = `<html><body>\r\n${words(rng, rng.int(4_000, 12_000))
    .split("\r\n")
    .map((l) => `<p>${l}</p>`)
    .join("\r\n")}\r\n</body></html>`;
  const head = [
    ...headers(i, rng, `multipart/mixed; boundary="${mix}"`),
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
    "",
  ].join("\r\n");
  const tail = `${extra ? attachment(mix, extra.name, extra.data) : ""}--${mix}--\r\n`;
  const room = Math.max(57, target - head.length - tail.length - 300);
  const attSize = Math.floor(room / 78) * 57; // 57 bytes -> one 76-char line + CRLF
  const att = randomStream(`${SEED}:data:${i}`).next(attSize);
  if (plant) plant.copy(att, rng.int(0, att.length - plant.length));
  return head + attachment(mix, `data-${i}.bin`, att) + tail;
}

/** One mail: { id, bytes, infected, kind }. */
export function mtaMail(i) {
  const rng = new Rng(`${SEED}:${i}`);
  if (i % 50 === 17) {
    const j = Math.floor(i / 50) % 5;
    const eicarAtt = { name: `tool-${i}.com`, data: eicar() };
    if (j <= 2) return { id: i, kind: "small+EICAR", infected: true, text: smallMail(i, rng, rng.int(SMALL_MIN, SMALL_MAX), eicarAtt) };
    if (j === 3) return { id: i, kind: "large+EICAR", infected: true, text: largeMail(i, rng, rng.int(LARGE_MIN, LARGE_MAX), { extra: eicarAtt }) };
    const k = Math.floor(i / 50) % plants().length;
    return { id: i, kind: "large+literal", infected: true, text: largeMail(i, rng, rng.int(LARGE_MIN, LARGE_MAX), { plant: plants()[k] }) };
  }
  if (rng.chance(LARGE_SHARE)) return { id: i, kind: "large", infected: false, text: largeMail(i, rng, rng.int(LARGE_MIN, LARGE_MAX)) };
  return { id: i, kind: "small", infected: false, text: smallMail(i, rng, rng.int(SMALL_MIN, SMALL_MAX)) };
}

/** Generate `count` mails into a new temp dir; returns { dir, mails: [{id, kind, infected, size, path, bytes}] }. */
export function generateMtaMails(count) {
  const dir = mkdtempSync(join(tmpdir(), "bulwark-mta-mails-"));
  mkdirSync(dir, { recursive: true });
  const mails = [];
  for (let i = 0; i < count; i++) {
    const m = mtaMail(i);
    const bytes = Buffer.from(m.text, "latin1");
    const path = join(dir, `${String(i).padStart(4, "0")}.eml`);
    writeFileSync(path, bytes);
    mails.push({ id: String(i), kind: m.kind, infected: m.infected, size: bytes.length, path, bytes });
  }
  return { dir, mails };
}
