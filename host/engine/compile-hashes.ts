/**
 * The hash-signature sections of the compiled database: per algorithm, sizes (sorted),
 * digests and name indexes, for binary search by size and a linear compare of the few
 * digests of that size (host/engine/dbview.ts).
 */
import { ANY_SIZE, DIGEST_LEN, HASH_ALGOS, type HashList } from "../sigs/hash-list.js";
import type { HashAlgo } from "../sigs/types.js";
import type { BlobWriter } from "./blob-writer.js";

export interface HashSection {
  algo: HashAlgo;
  n: number;
  sizes: number; // u32[n], ascending; 0xffffffff = any size
  digests: number; // n * dlen bytes
  names: number; // u32[n] name index
}

/** Hash signatures per algorithm, sorted by size for binary search. */
export function writeHashSections(w: BlobWriter, list: HashList, names: string[]): HashSection[] {
  const out: HashSection[] = [];
  for (const algo of HASH_ALGOS) {
    const col = list.cols[algo];
    const n = col.n;
    if (!n) continue;
    const dlen = DIGEST_LEN[algo];
    const order = orderBySize(col.sizes.subarray(0, n));
    const sizes = new Uint32Array(n);
    const digests = new Uint8Array(n * dlen);
    const nameIdx = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const k = order[i];
      sizes[i] = col.sizes[k];
      for (let j = 0, src = k * dlen, dst = i * dlen; j < dlen; j++) digests[dst + j] = col.digests[src + j];
      nameIdx[i] = names.length;
      names.push(col.names[k]);
    }
    const sizesOff = w.align(4);
    w.u32s(sizes);
    const digestsOff = w.bytes(digests);
    const namesOff = w.align(4);
    w.u32s(nameIdx);
    out.push({ algo, n, sizes: sizesOff, digests: digestsOff, names: namesOff });
  }
  return out;
}

/** Indexes ordered by size (ANY_SIZE, the largest value, sorts last). Lookups scan the few
 *  entries of one size linearly, so no digest order is needed. A million signatures: pack
 *  (size, index) into one float and let the native typed-array sort do it (a comparator
 *  sort took seconds). */
function orderBySize(sz: Uint32Array): Uint32Array {
  const n = sz.length;
  const scale = 2 ** Math.max(1, Math.ceil(Math.log2(n + 1)));
  let max = 0;
  for (let i = 0; i < n; i++) if (sz[i] !== ANY_SIZE && sz[i] > max) max = sz[i];
  if ((max + 2) * scale > Number.MAX_SAFE_INTEGER) {
    return Uint32Array.from(sz.keys()).sort((a, b) => sz[a] - sz[b] || a - b);
  }
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) keys[i] = (sz[i] === ANY_SIZE ? max + 1 : sz[i]) * scale + i;
  keys.sort();
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = keys[i] % scale;
  return order;
}

