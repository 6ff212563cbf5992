/**
 * Scanning a large file that is not a container (a disk image, a big binary, a log) in
 * chunks, so that memory stays at one chunk plus the database's overlap whatever the file
 * size. Containers (anything with an unpacker) are read whole: their unpackers need random
 * access. The result is the same verdict as a whole-object scan (tested differentially).
 */
import crypto from "node:crypto";
import fs from "node:fs";
import { FLAG_DEFER_OVERFLOW, FLAG_OUT_OVERFLOW, FLAG_VERIFY_BUDGET } from "../engine/layout.js";
import type { HashAlgo } from "../sigs/types.js";
import type { Classification } from "./classify.js";
import { resolveSignatures, type ScanEnv } from "./scan-object.js";
import type { Detection, NotScanned, Verdict } from "./verdict.js";

/** Files at least this large go through the chunked path when their type allows: below it,
 *  one read and one scan call cost less than the chunk bookkeeping. */
export const CHUNK_THRESHOLD = 16 << 20;
/** Bytes probed per call: large enough that overlap re-reads are noise, small enough to
 *  stay far below any object-size limit in memory. */
export const CHUNK_BYTES = 8 << 20;
/** Bytes read to type a file before choosing the path. */
export const HEAD_BYTES = 64 << 10;

export interface ChunkPolicy {
  threshold: number;
  chunk: number;
}

/** Scan `path` (size bytes, already typed from its head as `cls`) in chunks, or return null
 *  when the whole-object path must be taken. */
export function scanFileChunked(env: ScanEnv, path: string, size: number, cls: Classification, policy: ChunkPolicy): Verdict | null {
  const overlap = env.db.meta.chunkOverlap;
  if (cls.unpack || size < policy.threshold || !overlap) return null;
  const deadline = Date.now() + env.limits.maxScanTime;
  const algos = new Set<HashAlgo>([...env.db.algosFor(size, false), ...env.db.algosFor(size, true)]);
  const hashers = [...algos].map((a) => ({ algo: a, h: crypto.createHash(a) }));
  const fd = fs.openSync(path, "r");
  let timedOut = false;
  let raw;
  try {
    raw = env.engine.scanChunked(
      size,
      cls.target,
      policy.chunk,
      overlap,
      (view, at) => {
        if (Date.now() > deadline) timedOut = true;
        let got = 0;
        while (got < view.length) {
          const n = fs.readSync(fd, view, got, view.length - got, at + got);
          if (n <= 0) {
            view.fill(0, got); // the file shrank while we read it: scan zeros, hashes will differ
            break;
          }
          got += n;
        }
      },
      (bytes) => {
        for (const { h } of hashers) h.update(bytes);
      },
    );
  } finally {
    fs.closeSync(fd);
  }
  const detections: Detection[] = [];
  const notScanned: NotScanned[] = [];
  const digests = new Map(hashers.map(({ algo, h }) => [algo, h.digest()]));
  for (const algo of env.db.algosFor(size, true)) {
    if (env.db.lookup(algo, size, digests.get(algo)!, true)) return verdict([], [], size); // allow-listed
  }
  const m = resolveSignatures(env.engine, env.db, raw, size, cls.target);
  for (const i of m.ndb) detections.push({ name: env.db.meta.ndbNames[i], path: "", kind: "signature" });
  for (const i of m.ldb) detections.push({ name: env.db.meta.ldb[i].name, path: "", kind: "signature" });
  for (const algo of env.db.algosFor(size, false)) {
    const name = env.db.lookup(algo, size, digests.get(algo)!, false);
    if (name) detections.push({ name, path: "", kind: "signature" });
  }
  if (m.flags & (FLAG_DEFER_OVERFLOW | FLAG_OUT_OVERFLOW | FLAG_VERIFY_BUDGET)) {
    notScanned.push({ name: "Heuristics.Limits.Exceeded.MatcherState", path: "", reason: `engine flags ${m.flags}` });
  }
  if (timedOut) notScanned.push({ name: "Heuristics.Limits.Exceeded.MaxScanTime", path: "", reason: "chunked scan past its deadline" });
  return verdict(detections, notScanned, size);
}

function verdict(detections: Detection[], notScanned: NotScanned[], size: number): Verdict {
  const infected = detections.length > 0;
  return {
    status: infected ? "infected" : notScanned.length ? "not_scanned" : "clean",
    infected,
    names: [...new Set(detections.map((d) => d.name))],
    detections,
    notScanned,
    objects: 1,
    bytesScanned: size,
  };
}
