/**
 * The scan of one input: type it, match it (body signatures in the WASM core, hash
 * signatures by digest), unpack it, and do the same for every object inside, counting
 * depth, files, bytes and time against the limits. Produces the typed Verdict.
 *
 * Fail-safe rules: a limit reached yields a NotScanned entry (never "clean"); an unexpected
 * exception from an unpacker or the core yields a NotScanned entry named Bulwark.Error.*,
 * which every agent maps to a temporary failure; only a container the unpacker calls
 * malformed (UnpackError) is treated as "nothing more inside": its raw bytes were scanned.
 */
import crypto from "node:crypto";
import type { DbView } from "../engine/dbview.js";
import type { EngineInstance, RawScan } from "../engine/wasm-engine.js";
import { FLAG_DEFER_OVERFLOW, FLAG_OUT_OVERFLOW, FLAG_VERIFY_BUDGET } from "../engine/layout.js";
import { LimitExceeded, type Limits } from "../limits.js";
import { evalLogic } from "../sigs/logic.js";
import type { HashAlgo } from "../sigs/types.js";
import { UnpackError, type Child, type UnpackCtx } from "../unpack/types.js";
import type { Classification } from "./classify.js";
import { doubleExtensionHeuristic, heuristicIsNotScanned } from "./heuristics.js";
import type { Detection, NotScanned, Verdict } from "./verdict.js";

export interface ScanEnv {
  engine: EngineInstance;
  db: DbView;
  limits: Limits;
  allmatch: boolean;
  classify: (data: Uint8Array, name: string) => Classification;
}

interface State {
  env: ScanEnv;
  deadline: number;
  objects: number;
  bytes: number; // charged by unpackers (extracted) + the root
  scanned: number; // bytes given to the matcher
  detections: Detection[];
  notScanned: NotScanned[];
}

const PATH_SEP = "/";
/** Nesting levels whose members decode into per-depth engine windows (a mail's
 *  attachments and what they contain). A window keeps its high-water size for the thread's
 *  life, so deeper levels use the heap: at most this many windows of maxFileSize each. */
const MEMBER_WINDOW_DEPTHS = 2;

export async function scanBuffer(env: ScanEnv, data: Uint8Array): Promise<Verdict> {
  const st: State = {
    env,
    deadline: Date.now() + env.limits.maxScanTime,
    objects: 0,
    bytes: data.length,
    scanned: 0,
    detections: [],
    notScanned: [],
  };
  try {
    await scanObject(st, data, "", "", 0);
  } catch (e) {
    if (e instanceof LimitExceeded) st.notScanned.push({ name: e.verdictName, path: "", reason: e.message });
    else throw e;
  }
  return verdictOf(st);
}

export function verdictOf(st: Pick<State, "detections" | "notScanned" | "objects" | "scanned">): Verdict {
  const names = [...new Set(st.detections.map((d) => d.name))];
  const infected = st.detections.length > 0;
  return {
    status: infected ? "infected" : st.notScanned.length ? "not_scanned" : "clean",
    infected,
    names,
    detections: st.detections,
    notScanned: st.notScanned,
    objects: st.objects,
    bytesScanned: st.scanned,
  };
}

function done(st: State): boolean {
  return !st.env.allmatch && st.detections.length > 0;
}

function checkTime(st: State): void {
  if (Date.now() > st.deadline) throw new LimitExceeded("MaxScanTime");
}

async function scanObject(st: State, data: Uint8Array, path: string, name: string, depth: number): Promise<void> {
  const { env } = st;
  checkTime(st);
  if (++st.objects > env.limits.maxFiles) throw new LimitExceeded("MaxFiles");
  if (data.length > env.limits.maxFileSize) {
    st.notScanned.push({ name: "Heuristics.Limits.Exceeded.MaxFileSize", path, reason: `${data.length} bytes` });
    return;
  }
  if (allowListed(env.db, data)) return; // .fp/.sfp: this object and what it contains are clean

  const cls = env.classify(data, name);
  const dbl = depth > 0 ? doubleExtensionHeuristic(name, cls) : null;
  if (dbl) st.detections.push({ name: dbl, path, kind: "heuristic" });

  matchBody(st, data, cls.target, path);
  matchHashes(st, data, path);
  if (done(st) || !cls.unpack) return;

  const ctx = makeCtx(st, depth);
  try {
    for await (const child of cls.unpack(data, ctx) as AsyncIterable<Child>) {
      const childPath = path ? path + PATH_SEP + child.name : child.name;
      if (depth + 1 > env.limits.maxRecursion) {
        st.notScanned.push({ name: "Heuristics.Limits.Exceeded.MaxRecursion", path: childPath, reason: `depth ${depth + 1}` });
        break;
      }
      await scanObject(st, child.data, childPath, child.name, depth + 1);
      if (done(st)) break;
    }
  } catch (e) {
    if (e instanceof LimitExceeded) {
      if (e.limit === "MaxScanTime" || e.limit === "MaxFiles") throw e; // ends the whole scan
      st.notScanned.push({ name: e.verdictName, path, reason: e.message });
    } else if (e instanceof UnpackError) {
      // malformed container: its raw bytes were matched above; nothing more to extract
    } else {
      st.notScanned.push({ name: "Bulwark.Error.Unpack", path, reason: String((e as Error)?.message ?? e) });
    }
  }
  for (const h of ctx.found) {
    if (heuristicIsNotScanned(h)) st.notScanned.push({ name: h, path, reason: "cannot be scanned" });
    else st.detections.push({ name: h, path, kind: "heuristic" });
  }
}

function makeCtx(st: State, depth: number): UnpackCtx & { found: string[] } {
  const found: string[] = [];
  const { limits } = st.env;
  return {
    limits,
    found,
    charge(n: number) {
      if (n > limits.maxFileSize) throw new LimitExceeded("MaxFileSize", `${n} bytes`);
      st.bytes += n;
      if (st.bytes > limits.maxScanSize) throw new LimitExceeded("MaxScanSize", `${st.bytes} bytes`);
    },
    room() {
      return Math.max(0, Math.min(limits.maxFileSize, limits.maxScanSize - st.bytes));
    },
    checkTime() {
      checkTime(st);
    },
    heuristic(name: string) {
      if (!found.includes(name)) found.push(name);
    },
    // members of the first levels decode straight into engine memory; deeper ones use the
    // heap, so that the windows kept per thread stay bounded (MEMBER_WINDOW_DEPTHS)
    alloc: depth < MEMBER_WINDOW_DEPTHS ? (n: number) => st.env.engine.memberWindow(depth + 1, n) : undefined,
  };
}

/** Body and logical signatures matched in one object: ndb indexes and ldb indexes. */
export function matchSignatures(engine: EngineInstance, db: DbView, data: Uint8Array, target: number): { ndb: number[]; ldb: number[]; flags: number } {
  return resolveSignatures(engine, db, engine.scan(data, target), data.length, target);
}

/** The verdict of the core's raw result: which .ndb lines matched, and which .ldb logic
 *  holds given the subsig counts (read from the instance before its next scan). */
export function resolveSignatures(engine: EngineInstance, db: DbView, r: RawScan, size: number, target: number): { ndb: number[]; ldb: number[]; flags: number } {
  const ndb: number[] = [];
  const ldbSeen = new Set<number>();
  for (const sid of r.sids) {
    if (sid < db.nNdb) ndb.push(sid);
    else ldbSeen.add(db.meta.sidLdb[sid - db.nNdb]);
  }
  for (const li of db.meta.ldbZeroTrue) ldbSeen.add(li);
  const ldb: number[] = [];
  for (const li of [...ldbSeen].sort((a, b) => a - b)) {
    const l = db.meta.ldb[li];
    if (l.target !== null && l.target !== 0 && l.target !== target) continue;
    if (l.fileSize && (size < l.fileSize[0] || size > l.fileSize[1])) continue;
    const counts = l.subs.map((sid) => engine.countOf(sid));
    if (evalLogic(l.expr, counts)) ldb.push(li);
  }
  return { ndb, ldb, flags: r.flags };
}

function matchBody(st: State, data: Uint8Array, target: number, path: string): void {
  const { engine, db } = st.env;
  const m = matchSignatures(engine, db, data, target);
  st.scanned += data.length;
  if (m.flags & (FLAG_DEFER_OVERFLOW | FLAG_OUT_OVERFLOW | FLAG_VERIFY_BUDGET)) {
    st.notScanned.push({ name: "Heuristics.Limits.Exceeded.MatcherState", path, reason: `engine flags ${m.flags}` });
  }
  for (const i of m.ndb) st.detections.push({ name: db.meta.ndbNames[i], path, kind: "signature" });
  for (const i of m.ldb) st.detections.push({ name: db.meta.ldb[i].name, path, kind: "signature" });
}

function digest(algo: HashAlgo, data: Uint8Array): Uint8Array {
  return crypto.createHash(algo).update(data).digest();
}

function matchHashes(st: State, data: Uint8Array, path: string): void {
  const { db } = st.env;
  for (const algo of db.algosFor(data.length, false)) {
    const name = db.lookup(algo, data.length, digest(algo, data), false);
    if (name) st.detections.push({ name, path, kind: "signature" });
  }
}

function allowListed(db: DbView, data: Uint8Array): boolean {
  for (const algo of db.algosFor(data.length, true)) {
    if (db.lookup(algo, data.length, digest(algo, data), true)) return true;
  }
  return false;
}
